#!/usr/bin/env bash
# yesno (OpenSLR SLR1, Kaldi's egs/yesno): one speaker saying YES or NO eight times a recording;
# 30 recordings to train, 30 to test. All three pipelines in a few minutes on a CPU: the
# toolkit's integration test. Published: Kaldi monophone 0.00% WER, icefall TDNN-CTC 0.42%.
#
#   recipes/yesno/run.sh [--stage N] [--stop-stage M] [--data DIR] [--nj N] [--exp DIR] [--force]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

. "$here/../common/defaults.sh"
data=""          # waves_yesno/ parent (default: ../shared/data/yesno beside the repo, else download)
. "$here/../common/parse_options.sh"
. "$here/../common/env.sh"
. "$here/../common/stages.sh"

corpus=yesno
conf=$here/conf
lm_order=2      # yes/no sequences: a bigram is all there is to learn
lm_text=""
shared=$here/../../../shared/data/yesno
[ -n "$data" ] || { [ -d "$shared" ] && data=$(cd "$shared" && pwd); } || data=$exp/download

if run_stage 0 "download yesno (only when --data is absent)"; then
  [ -d "$data/waves_yesno" ] || asr download yesno "$data"
  stage_done 0
fi

. "$here/../common/pipeline_stages.sh"
