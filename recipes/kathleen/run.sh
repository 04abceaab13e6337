#!/usr/bin/env bash
# kathleen: one US speaker reading the CMU ARCTIC prompts (1,620 recordings, 1.4 h, 16 kHz).
# Prompt-disjoint split: prompts whose number is divisible by 10 are the test set. The LM is
# trained on LJSpeech transcripts and the ARCTIC *training* prompts (never the test prompts).
# With --learning-curve, stage 8 trains every system on nested subsets of the training data and
# once more on the whole set pooled with AN4's training set (67 more speakers, 0.64 h), and plots
# WER on kathleen's test set against hours.
#
#   recipes/kathleen/run.sh [--stage N] [--stop-stage M] [--data DIR] [--lm-dir DIR] [--nj N] [--exp DIR]
#                           [--learning-curve] [--curve-hours "0.1 0.3 all"] [--pool-an4 DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

. "$here/../common/defaults.sh"
data=""          # the kathleen/ tree with data/*.flac + *.txt (default: ../shared/data/kathleen when run in place)
lm_dir=""        # folder with ljspeech_metadata.norm.txt, arctic_prompts.train.norm.txt (default: ../shared/data/lm_text when run in place)
learning_curve=false          # stage 8: WER against hours of training data
curve_hours="0.1 0.3 all"     # nested training subsets, in hours ("all" = the whole 1.1 h)
transfer_from=""  # stage 8: a pretraining exp dir; each neural system with a model there (DIR/<system>) is also fine-tuned from it at every size
pool_an4=""      # the an4/ tree whose training set the curve pools in (default: ../shared/data/an4 if there and run in place; "none": no pooled point)
. "$here/../common/parse_options.sh"
. "$here/../common/env.sh"
. "$here/../common/stages.sh"

corpus=kathleen
[ -n "$conf" ] || conf=$here/conf  # --conf DIR: other configs (e.g. smaller, for a dry run)
lm_order=3
[ -n "$data" ] || shared_data kathleen || { echo "$0: error: no kathleen corpus given: pass --data DIR" >&2; exit 1; }
[ -n "$lm_dir" ] || shared_data lm_text lm_dir || { echo "$0: error: no LM text given: pass --lm-dir DIR" >&2; exit 1; }
require "$data/data" "$lm_dir/arctic_prompts.train.norm.txt" "$lm_dir/ljspeech_metadata.norm.txt"
data=$(cd "$data" && pwd)
lm_dir=$(cd "$lm_dir" && pwd)
lm_text="$lm_dir/arctic_prompts.train.norm.txt $lm_dir/ljspeech_metadata.norm.txt"

. "$here/../common/pipeline_stages.sh"

if [ "$learning_curve" = true ]; then
  [ -n "$pool_an4" ] || shared_data an4 pool_an4 || pool_an4=none
  curve_pool=""
  if [ "$pool_an4" != none ]; then
    curve_pool=$exp/pool_an4/train
    [ -f "$curve_pool/text" ] || [ "$stop_stage" -lt 8 ] || asr prepare an4 "$pool_an4" "$exp/pool_an4"
  fi
  . "$here/../common/learning_curve.sh"
fi
exit 0
