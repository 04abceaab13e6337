#!/usr/bin/env bash
# Pretraining for transfer learning: the neural systems of conf/ trained on more speech than a
# small target corpus has, for a target recipe's learning curve to fine-tune from. The training
# sets of the shared corpora pooled (AN4, kathleen, FSDD, yesno: 2.1 hours, 4,607 utterances; their dev sets
# pooled for dev, their test sets for this recipe's own test: no test utterance is trained on),
# and/or synthetic speech ("synth": `asr synth --hours`, LJSpeech sentences in eight espeak voices).
#
#   recipes/pretrain/run.sh                                    # pooled real speech -> recipes/pretrain/exp
#   recipes/pretrain/run.sh --corpora synth --synth-hours 10 --exp recipes/pretrain/exp-synth
#   recipes/an4/run.sh --learning-curve true --transfer-from recipes/pretrain/exp
# A pool that holds the target's whole training set has seen more than the curve's small points:
# for AN4's curve, --corpora "kathleen fsdd yesno" leaves AN4 out.
#
# The configs match the target recipes' networks (the default Conformer on 80 fbank bins at
# 16 kHz: 8 kHz corpora are resampled), so their encoders fit; the output layer is copied only
# where the units are the same (a new character or phone inventory gets a new one).
#
#   recipes/pretrain/run.sh [--corpora "an4 kathleen fsdd yesno"] [--synth-hours H] [--stage N] [--nj N] ...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

. "$here/../common/defaults.sh"
corpora="an4 kathleen fsdd yesno"  # pooled training sets: shared corpora, and "synth" for synthetic speech
synth_hours=10   # with synth in --corpora: hours of synthetic training speech
shared=""        # the folder holding the corpora in their upstream layouts (default: ../shared/data beside the checkout)
lm_dir=""        # LM text folder (ljspeech_metadata.norm.txt for synth; default: SHARED/lm_text)
. "$here/../common/parse_options.sh"
. "$here/../common/env.sh"
. "$here/../common/stages.sh"

corpus=pretrain
[ -n "$shared" ] || shared=$(cd "$here/../.." && pwd)/../shared/data
[ -n "$conf" ] || conf=$here/conf  # --conf DIR: other configs (e.g. smaller, for a dry run)
lm_order=3
lm_text=""
[[ "$synth_hours" =~ ^[0-9]*\.?[0-9]+$ ]] || { echo "$0: error: --synth-hours must be a number of hours, got '$synth_hours'" >&2; exit 2; }
for c in $corpora; do
  case $c in an4|kathleen|fsdd|yesno|synth) ;; *) echo "$0: error: --corpora: unknown corpus '$c' (an4 kathleen fsdd yesno synth)" >&2; exit 2 ;; esac
done

prepare_data() {
  local c src parts=() devs=() tests=()
  for c in $corpora; do
    if [ "$c" = synth ]; then
      [ -n "$lm_dir" ] || lm_dir=$shared/lm_text
      require "$lm_dir/ljspeech_metadata.norm.txt"
      [ -f "$exp/corpora/synth/train/text" ] || asr synth "$exp/corpora/synth" --hours "$synth_hours" \
        --vocabulary text --text "$lm_dir/ljspeech_metadata.norm.txt"
    else
      src=$shared/$c
      [ -d "$src" ] || { echo "$0: error: no $c corpus at $src (--shared DIR: the folder holding the corpora)" >&2; exit 1; }
      [ -f "$exp/corpora/$c/train/text" ] || asr prepare "$c" "$src" "$exp/corpora/$c"
    fi
    parts+=("$exp/corpora/$c/train")
    [ ! -d "$exp/corpora/$c/dev" ] || devs+=("$exp/corpora/$c/dev")
    [ ! -d "$exp/corpora/$c/test" ] || tests+=("$exp/corpora/$c/test")
  done
  asr combine-data "$exp/data/train" "${parts[@]}"
  [ ${#devs[@]} -eq 0 ] || asr combine-data "$exp/data/dev" "${devs[@]}"
  [ ${#tests[@]} -eq 0 ] || asr combine-data "$exp/data/test" "${tests[@]}"
}

. "$here/../common/pipeline_stages.sh"
exit 0
