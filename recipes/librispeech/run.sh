#!/usr/bin/env bash
# LibriSpeech (OpenSLR SLR12): read audiobooks, 16 kHz. Trains on train-clean-100 (or a subset
# given with --train-hours) and tests on test-clean. Large: not run in CI; the download stage
# fetches, verifies and resumes the archives.
#
#   recipes/librispeech/run.sh [--stage N] [--stop-stage M] [--data DIR] [--nj N] [--nproc N] [--exp DIR]
#
# On a GPU box (the neural systems train with torchrun's DistributedDataParallel, NCCL, one GPU
# per process; `--set precision=bf16` in a conf for autocast):
#   one GPU:        recipes/librispeech/run.sh --nj 1 --nproc 1
#   8 GPUs:         recipes/librispeech/run.sh --nj 1 --nproc 8
#   Slurm, M nodes of N GPUs: run stages 0-4 once (--stop-stage 4), then train each neural system
#   with one torchrun per node on a shared file system, e.g. in an sbatch script:
#     srun --nodes M --ntasks-per-node 1 torchrun --nnodes M --nproc-per-node N \
#       --rdzv-backend c10d --rdzv-endpoint "$(scontrol show hostnames | head -1):29500" \
#       -m asr.cli train ctc exp/data/train exp/ctc --config conf/ctc.yaml --dev exp/data/dev \
#       --set lm=exp/lang/lm.bin --set feature_cache=exp/feats
#   then stages 6-7 (decode, compare) on one node. The classic system trains the same way
#   (`train classic`, its GMM statistics summed over the ranks).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

. "$here/../common/defaults.sh"
data=""          # the folder holding LibriSpeech/ (default: exp/download, fetched in stage 0)
. "$here/../common/parse_options.sh"
. "$here/../common/env.sh"
. "$here/../common/stages.sh"

corpus=librispeech
[ -n "$conf" ] || conf=$here/conf  # --conf DIR: other configs (e.g. smaller, for a dry run)
lm_order=3
lm_text=""
[ -n "$data" ] || data=$exp/download

if run_stage 0 "download LibriSpeech (only when --data is absent)"; then
  [ -d "$data/LibriSpeech" ] || [ -d "$data/test-clean" ] || asr download librispeech "$data"
  stage_done 0
fi
data=$(cd "$data" && pwd)  # the LibriSpeech folder or its parent: asr prepare finds the parts

. "$here/../common/pipeline_stages.sh"
