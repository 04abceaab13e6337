#!/usr/bin/env bash
# yesno (OpenSLR SLR1, Kaldi's egs/yesno): one speaker saying YES or NO eight times a recording;
# 30 recordings to train, 30 to test. All three pipelines in a few minutes on a CPU: the
# toolkit's integration test. Published: Kaldi monophone 0.00% WER, icefall TDNN-CTC 0.42%.
# With --learning-curve, stage 8 trains every system again on a subset (and, with --curve-pool,
# on the training set plus another data dir) and plots WER against hours: a check of the stage.
#
#   recipes/yesno/run.sh [--stage N] [--stop-stage M] [--data DIR] [--nj N] [--exp DIR] [--force]
#                        [--learning-curve] [--curve-hours "0.02 all"] [--curve-pool DATA_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

. "$here/../common/defaults.sh"
data=""          # waves_yesno/ parent (default: ../shared/data/yesno beside the checkout when run in place, else download)
learning_curve=false     # stage 8: WER against hours of training data
curve_hours="0.02 all"   # nested training subsets, in hours ("all" = the whole 0.05 h)
transfer_from=""  # stage 8: a pretraining exp dir; each neural system with a model there (DIR/<system>) is also fine-tuned from it at every size
curve_pool=""            # a data dir pooled with the training set for one more, largest point
. "$here/../common/parse_options.sh"
. "$here/../common/env.sh"
. "$here/../common/stages.sh"

corpus=yesno
[ -n "$conf" ] || conf=$here/conf  # --conf DIR: other configs (e.g. smaller, for a dry run)
lm_order=2      # yes/no sequences: a bigram is all there is to learn
lm_text=""
[ -n "$data" ] || shared_data yesno || data=$exp/download

if run_stage 0 "download yesno (only when --data is absent)"; then
  [ -d "$data/waves_yesno" ] || asr download yesno "$data"
  stage_done 0
fi

. "$here/../common/pipeline_stages.sh"
[ "$learning_curve" = true ] && . "$here/../common/learning_curve.sh"
exit 0
