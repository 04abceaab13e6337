# Options every recipe has; sourced first by recipes/<corpus>/run.sh (which adds its own), and
# listed by --help. `here` is the recipe's folder.
stage=0          # first stage to run
stop_stage=100   # last stage to run
nj=2             # parallel jobs: feature extraction, and systems trained side by side
nproc=1          # processes per training (torchrun: networks one per GPU or CPU core, classic sums statistics); README "Scaling up"
exp=$here/exp    # everything the recipe makes
force=false      # rerun stages that finished before
conf=""          # a folder of system configs (<pipeline>[-<variant>].yaml) to train instead of the recipe's own
