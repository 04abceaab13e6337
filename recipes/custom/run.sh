#!/usr/bin/env bash
# Your own data: Kaldi data dirs in (wav.scp, text, utt2spk, optional segments; fields separated by
# spaces or TABs), the classic, ctc and hybrid systems trained, decoded, compared and reported out.
#
#   recipes/custom/run.sh --train DIR --test DIR [--dev DIR] [--lm-text FILE]... [--lm-order N]
#                         [--preset tiny|small|medium|large | --conf DIR] [--learning-curve true]
#                         [--stage N] [--stop-stage M] [--nj N] [--exp DIR] [--force]
#
# Stage 1 validates the given dirs (asr validate-data) and copies them into exp/data/{train,dev,test};
# without --dev, whole speakers are held out of --train as the dev set (none of their utterances stay
# in train). Then as every recipe: 2 lexicon, 3 LM (train transcripts + --lm-text), 4 features,
# 5 train, 6 decode test, 7 compare (exp/RESULTS.md), 8 learning curve (--learning-curve true).
# Configs: the preset for the hours of training data (conf/README.md), copied to exp/conf;
# --preset to choose one, --conf DIR for your own <pipeline>[-<variant>].yaml files.
# It runs from anywhere, copied or not: the toolkit is $ASR_ROOT, else the checkout this recipe sits
# in, else the checkout of the `asr` on PATH. It never reads data you did not name.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

find_toolkit() {  # print the toolkit's checkout (the folder holding recipes/common and asr/)
  local asr_bin py root
  if [ -n "${ASR_ROOT:-}" ]; then
    [ -f "$ASR_ROOT/recipes/common/stages.sh" ] || {
      echo "$0: error: ASR_ROOT=$ASR_ROOT is not the asr toolkit's checkout (no recipes/common/stages.sh)" >&2
      return 1; }
    (cd "$ASR_ROOT" && pwd); return
  fi
  if [ -f "$here/../common/stages.sh" ] && [ -f "$here/../../asr/__init__.py" ]; then
    (cd "$here/../.." && pwd); return
  fi
  if asr_bin=$(command -v asr); then  # the interpreter of the `asr` script knows where asr/ is
    py=$(dirname "$asr_bin")/python
    [ -x "$py" ] || py=$(sed -n '1s/^#! *//p' "$asr_bin")
    root=$("$py" -c 'import asr, pathlib; print(pathlib.Path(asr.__file__).resolve().parents[1])' 2>/dev/null) &&
      [ -f "$root/recipes/common/stages.sh" ] && { echo "$root"; return; }
  fi
  echo "$0: error: cannot find the asr toolkit: set ASR_ROOT to its checkout (the folder with recipes/common), or put its .venv/bin on PATH" >&2
  return 1
}
asr_root=$(find_toolkit) || exit 1

. "$asr_root/recipes/common/defaults.sh"
train=""         # training data dir (Kaldi: wav.scp, text, utt2spk; segments optional)
test=""          # test data dir, scored in stages 6-7
dev=""           # dev data dir for early stopping and tuning (default: speakers held out of --train)
dev_speakers=""  # without --dev: speakers held out of --train (default: a tenth of them, 1 to 10)
lm_text=""       # more LM (and lexicon) text, one sentence per line; repeat the option for several files
lm_order=3       # n-gram order of the LM
preset=""        # tiny, small, medium or large (default: chosen by the hours of training data)
learning_curve=false  # stage 8: WER against hours of training data
curve_hours=""   # nested training subsets, in hours (default: a quarter, half and all of train)
transfer_from=""  # stage 8: a pretraining exp dir; each neural system with a model there (DIR/<system>) is also fine-tuned from it at every size
declare -a lm_texts=() args=()  # --lm-text may repeat: collected here, the rest goes to parse_options.sh
while [ $# -gt 0 ]; do
  if [ "$1" = --lm-text ] && [ $# -ge 2 ]; then lm_texts+=("$2"); shift 2; else args+=("$1"); shift; fi
done
set -- ${args[@]+"${args[@]}"}
. "$asr_root/recipes/common/parse_options.sh"
[ $# -eq 0 ] || { echo "$0: error: unexpected argument $1 (see --help)" >&2; exit 2; }
. "$asr_root/recipes/common/env.sh"
. "$asr_root/recipes/common/stages.sh"

corpus=custom
presets=$here/conf  # a copy of the recipe without its conf/ uses the toolkit's presets
[ -d "$presets" ] || presets=$asr_root/recipes/custom/conf
given_train=$train given_dev=$dev given_test=$test  # pipeline_stages.sh and stage 8 reuse the names

# ------------------------------------------------------------------ options, checked before any work
fail() { echo "$0: error: $*" >&2; exit 1; }
is_int() { [[ "$1" =~ ^[0-9]+$ ]]; }
for opt in stage stop_stage nj lm_order; do
  is_int "${!opt}" || fail "--${opt//_/-} must be a whole number, got '${!opt}'"
done
[ "$nj" -ge 1 ] || fail "--nj must be at least 1, got $nj"
[ "$lm_order" -ge 2 ] && [ "$lm_order" -le 6 ] || fail "--lm-order must be 2 to 6, got $lm_order"
[ -z "$dev_speakers" ] || { is_int "$dev_speakers" && [ "$dev_speakers" -ge 1 ]; } ||
  fail "--dev-speakers must be a whole number >= 1, got '$dev_speakers'"
case $learning_curve in true|false) ;; *) fail "--learning-curve must be true or false, got '$learning_curve'" ;; esac
case $force in true|false) ;; *) fail "--force must be true or false, got '$force'" ;; esac
for h in $curve_hours; do
  [ "$h" = all ] || [[ "$h" =~ ^[0-9]*\.?[0-9]+$ ]] || fail "--curve-hours: '$h' is not a number of hours or 'all'"
done
[ -z "$preset" ] || [ -d "$presets/$preset" ] ||
  fail "--preset $preset: no such preset (one of: $(cd "$presets" && ls -d */ | tr -d / | tr '\n' ' '))"
[ -z "$preset" ] || [ -z "$conf" ] || fail "give --preset or --conf, not both"
if [ -n "$conf" ]; then
  ls "$conf"/*.yaml >/dev/null 2>&1 || fail "--conf $conf: no <pipeline>.yaml configs in that folder"
  conf=$(cd "$conf" && pwd)
fi
for f in ${lm_texts[@]+"${lm_texts[@]}"}; do
  [[ "$f" != *[[:space:]]* ]] || fail "--lm-text $f: a path with spaces is not supported"
  [ -f "$f" ] || fail "--lm-text $f: no such file"
done
lm_text=""
for f in ${lm_texts[@]+"${lm_texts[@]}"}; do lm_text+="${lm_text:+ }$(cd "$(dirname "$f")" && pwd)/$(basename "$f")"; done

# stage 1 needs the data dirs; later stages read the copies under $exp/data
if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ] && { [ ! -f "$exp/.done/1" ] || [ "$force" = true ]; }; then
  [ -n "$given_train" ] || fail "--train DIR is required (a Kaldi data dir: wav.scp, text, utt2spk)"
  [ -n "$given_test" ] || fail "--test DIR is required (a Kaldi data dir: wav.scp, text, utt2spk)"
  for part in train dev test; do
    var=given_$part
    [ -z "${!var}" ] || [ -d "${!var}" ] || fail "--$part ${!var}: no such directory"
  done
fi

# ------------------------------------------------------------------ stage 1: the user's data dirs
copy_data() {  # SRC OUT : SRC rewritten: sorted, one space after the id, audio paths absolute
  asr combine-data "$2" "$1" >/dev/null
  # wav.scp paths relative to the working directory (Kaldi's rule) stay valid from anywhere
  awk -v cwd="$PWD" '{ id = $1; rest = $0; sub(/^[^ ]+ /, "", rest)
                       if (rest !~ /^\//) rest = cwd "/" rest
                       print id " " rest }' "$2/wav.scp" > "$2/wav.scp.tmp"
  mv "$2/wav.scp.tmp" "$2/wav.scp"
}

split_dev() {  # ALL : $exp/data/dev = whole speakers of ALL, $exp/data/train = the others
  local all=$1 nspk nutt n
  nspk=$(wc -l < "$all/spk2utt")
  nutt=$(wc -l < "$all/utt2spk")
  if [ "$nspk" -ge 3 ]; then
    n=${dev_speakers:-$(( (nspk + 5) / 10 ))}
    [ "$n" -le 10 ] || [ -n "$dev_speakers" ] || n=10
    [ "$n" -lt "$nspk" ] || fail "--dev-speakers $n leaves no training speaker (train has $nspk)"
    echo "dev set: $n of the $nspk training speakers, held out of train"
    asr subset-data "$all" "$exp/data/dev" --speakers "$n" --seed 0
  else
    n=$(( nutt / 10 > 0 ? nutt / 10 : 1 ))
    echo "warning: train has $nspk speaker(s): the dev set is $n of its utterances, from the same speaker(s)" >&2
    asr subset-data "$all" "$exp/data/dev" --utts "$n" --seed 0
  fi
  asr subset-data "$all" "$exp/data/train" --exclude "$exp/data/dev"
}

record_sources() {  # what stage 1 copied, so that a rerun with other data is refused
  { echo "train $given_train_abs"; echo "dev ${given_dev_abs:-held out of train}"; echo "test $given_test_abs"; } \
    > "$exp/data/sources.tmp" && mv "$exp/data/sources.tmp" "$exp/data/sources"
}

prepare_data() {
  local part var src
  for part in train dev test; do  # every problem of every dir before anything is written
    var=given_$part; src=${!var}
    [ -z "$src" ] || asr validate-data "$src" || exit 1
  done
  given_train_abs=$(cd "$given_train" && pwd) given_test_abs=$(cd "$given_test" && pwd) given_dev_abs=""
  [ -z "$given_dev" ] || given_dev_abs=$(cd "$given_dev" && pwd)
  rm -rf "$exp/data"
  mkdir -p "$exp/data"
  copy_data "$given_test" "$exp/data/test"
  if [ -n "$given_dev" ]; then
    copy_data "$given_train" "$exp/data/train"
    copy_data "$given_dev" "$exp/data/dev"
  else
    copy_data "$given_train" "$exp/data/train_all"
    split_dev "$exp/data/train_all"
  fi
  overlap=$(cut -d' ' -f1 "$exp/data/test/spk2utt" | sort | comm -12 - <(cut -d' ' -f1 "$exp/data/train/spk2utt" | sort) | wc -l)
  [ "$overlap" = 0 ] || echo "note: $overlap test speaker(s) also speak in train: the test WER is not speaker-independent"
  record_sources
}

# refuse to mix: a finished stage 1 made from other data dirs than the ones given now
if [ -f "$exp/data/sources" ] && [ -n "$given_train" ] && [ "$force" != true ]; then
  [ "$(awk '$1 == "train" { print $2 }' "$exp/data/sources")" = "$(cd "$given_train" 2>/dev/null && pwd)" ] ||
    fail "$exp holds data copied from $(awk '$1 == "train" { print $2 }' "$exp/data/sources"), not $given_train: use another --exp or --force true"
fi

# ------------------------------------------------------------------ configs: a preset by hours of data
asr_python() {  # the interpreter of the `asr` on PATH
  local bin
  bin=$(command -v asr)
  if [ -x "$(dirname "$bin")/python" ]; then echo "$(dirname "$bin")/python"; else sed -n '1s/^#! *//p' "$bin"; fi
}

data_info() {  # DATA_DIR : "HOURS RATE": hours of audio (segments, else the audio headers), highest sample rate
  # (printed with the preset: the presets' features are 16 kHz; 8 kHz audio is upsampled, see conf/README.md)
  "$(asr_python)" -c 'import sys
from asr.audio import audio_info
from asr.datadir import read_datadir, utterance_seconds
data = read_datadir(sys.argv[1])
rate = max(audio_info(path).samplerate for path in set(data.wav.values()))
print(f"{sum(utterance_seconds(data).values()) / 3600:.3f} {rate}")' "$1"
}

copy_preset() {  # PRESET_DIR : $exp/conf = the preset's configs (a record of what trained the systems)
  rm -rf "$exp/conf.tmp" && mkdir -p "$exp/conf.tmp"
  cp "$1"/*.yaml "$exp/conf.tmp/"
  rm -rf "$exp/conf" && mv "$exp/conf.tmp" "$exp/conf"
}

choose_conf() {  # called by pipeline_stages.sh after stage 1: sets $conf
  local info hours rate
  info=$(data_info "$exp/data/train")
  read -r hours rate <<< "$info"
  if [ -n "$conf" ]; then
    echo "configs: $conf (--conf) for $hours h of training data"
  else
    [ -n "$preset" ] || preset=$(awk -v h="$hours" 'BEGIN { print h < 0.3 ? "tiny" : h < 3 ? "small" : h < 30 ? "medium" : "large" }')
    copy_preset "$presets/$preset"
    conf=$exp/conf
    echo "configs: preset $preset for $hours h of training data at $rate Hz ($presets/$preset, copied to $conf)"
  fi
  [ -n "$curve_hours" ] || curve_hours=$(awk -v h="$hours" 'BEGIN { printf "%.3g %.3g all", h / 4, h / 2 }')
}

. "$asr_root/recipes/common/pipeline_stages.sh"
[ "$learning_curve" = true ] && . "$asr_root/recipes/common/learning_curve.sh"
exit 0
