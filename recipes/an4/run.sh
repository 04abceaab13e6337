#!/usr/bin/env bash
# AN4 (CMU census / alphanumeric database): 948 training and 130 test utterances of spelled
# letters, digits and a few command words, 74 + 10 speakers, 16 kHz. Trains the classic
# (monophone and triphone GMM-HMM), ctc, joint CTC/attention (ctc-joint) and hybrid systems, then
# the DNN-HMM on the classic alignment, decodes the test set, and writes
# exp/RESULTS.md and exp/report/report.html. With --learning-curve, stage 8 trains every system on
# nested subsets of the training data and plots WER against hours.
# Published on AN4 test (773 words): Kaldi mono 10.61%, tri1 10.48%, tri3 (SAT) 5.95% WER;
# ESPnet2 transformer (BPE 30) 7.6% without LM, 7.4% with LM.
#
#   recipes/an4/run.sh [--stage N] [--stop-stage M] [--data DIR] [--nj N] [--exp DIR] [--force]
#                      [--learning-curve] [--curve-hours "0.1 0.2 0.4 all"]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

. "$here/../common/defaults.sh"
data=""          # the an4/ tree (etc/, wav/) (default: ../shared/data/an4 beside the checkout when run in place, else download)
learning_curve=false         # stage 8: WER against hours of training data
curve_hours="0.1 0.2 0.4 all"  # nested training subsets, in hours ("all" = the whole 0.66 h)
transfer_from=""  # stage 8: a pretraining exp dir; each neural system with a model there (DIR/<system>) is also fine-tuned from it at every size
. "$here/../common/parse_options.sh"
. "$here/../common/env.sh"
. "$here/../common/stages.sh"

corpus=an4
[ -n "$conf" ] || conf=$here/conf  # --conf DIR: other configs (e.g. smaller, for a dry run)
lm_order=3      # trigram from the training transcripts (Kaldi's recipe uses AN4's unigram)
lm_text=""
# the shared copy serves this recipe only, in place.
[ -n "$data" ] || shared_data an4 || data=$exp/download/an4

if run_stage 0 "download an4 (only when --data is absent)"; then
  [ -d "$data/etc" ] || asr download an4 "$(dirname "$data")"
  stage_done 0
fi

. "$here/../common/pipeline_stages.sh"
[ "$learning_curve" = true ] && . "$here/../common/learning_curve.sh"
exit 0
