# The stages every corpus recipe shares; sourced by recipes/<corpus>/run.sh after it has set
#   corpus    name known to `asr prepare`
#   data      the corpus in its upstream layout
#   conf      directory of system configs: <pipeline>[-<variant>].yaml, e.g. classic.yaml, ctc-bpe.yaml
#             (the recipe's conf/ unless --conf gave one)
#   lm_order  n-gram order; lm_text: extra LM training text files (space separated, may be empty)
#   exp, nj, stage, stop_stage, force  (options; nj systems train at once in stages 5 and 8)
# and may define prepare_data() to make $exp/data/{train,dev,test} some other way (the demo synthesises,
# the custom recipe copies the user's data dirs), and choose_conf() to set $conf after stage 1 (the
# custom recipe picks a preset by the hours of training data).
# Stages: 1 prepare, 2 lexicon, 3 LM, 4 features, 5 train, 6 decode, 7 compare (exp/RESULTS.md).

lang=$exp/lang
feats=$exp/feats

pipeline_of() { echo "${1%%-*}"; }  # ctc-bpe -> ctc
# Systems train in two waves: a dnnhmm system learns the forced alignment of the classic system
# beside it (its model dir's sibling `classic`), so it starts once the first wave is done.
wave_of() { if [ "$(pipeline_of "$1")" = dnnhmm ]; then echo 2; else echo 1; fi; }

train_system() {  # SYSTEM TRAIN_DIR DEV_DIR MODEL_DIR [more `asr train` options]
  local system=$1 pipeline sets=() lm=$lang/lm.arpa
  pipeline=$(pipeline_of "$system")
  [ -f "$lang/lm.bin" ] && lm=$lang/lm.bin  # KenLM binary: loads faster, same model
  sets=(--set "feature_cache=$feats")
  case $pipeline in
    classic|hybrid) sets+=(--set "lexicon=$lang/lexicon.txt" --set "lm=$lm") ;;
    ctc) sets+=(--set "lm=$lm") ;;
    dnnhmm)  # the classic model beside it; on the whole training set, stage 5's
      local aligner=$(dirname "$4")/classic
      [ -f "$aligner/model.yaml" ] || [ "$2" != "$exp/data/train" ] || aligner=$exp/classic
      require "$aligner/model.yaml"
      sets+=(--set "lm=$lm" --set "alignments=$aligner") ;;
  esac
  case $pipeline in
    ctc|hybrid|dnnhmm) sets+=(--set "threads=$(job_threads)") ;;
  esac
  asr train "$pipeline" "$2" "$4" --config "$conf/$system.yaml" --dev "$3" --nj "$nj" --nproc "$nproc" "${sets[@]}" \
    "${@:5}"
}

if ! declare -F prepare_data >/dev/null; then
  prepare_data() {
    require "$data"
    asr prepare "$corpus" "$data" "$exp/data"
  }
fi

if run_stage 1 "data dirs"; then
  prepare_data
  stage_done 1
fi

systems=""  # the configs in $conf: <system>.yaml
if [ "$stop_stage" -ge 2 ]; then
  ! declare -F choose_conf >/dev/null || choose_conf
  require "$conf"
  conf=$(cd "$conf" && pwd)
  systems=$(cd "$conf" && ls *.yaml | sed 's/\.yaml$//' | sort)
fi

dev=$exp/data/dev
[ -d "$dev" ] || dev=$exp/data/train  # one-speaker corpora without a dev set tune on train

build_lexicon() {  # OUT [DATA_DIR...] : the words of train, dev, the LM text and any extra data dirs
  local out=$1 text_args=(); shift
  [ -z "$lm_text" ] || text_args=(--text $lm_text)
  asr lexicon build --data "$exp/data/train" "$dev" "$@" "${text_args[@]}" --out "$out"
}

if run_stage 2 "pronunciation lexicon"; then
  require "$exp/data/train/text"
  build_lexicon "$lang/lexicon.txt"
  stage_done 2
fi

if run_stage 3 "$lm_order-gram language model"; then
  require "$exp/data/train/text"
  mkdir -p "$lang"
  # the training transcripts (utterance ids stripped, whatever whitespace follows them) + the LM text
  asr lm build --order "$lm_order" --data "$exp/data/train" $lm_text "$lang/lm.arpa"
  stage_done 3
fi

if run_stage 4 "features (cached for every system)"; then
  for part in train dev test; do
    [ -d "$exp/data/$part" ] || continue
    for kind in mfcc fbank; do
      asr features "$exp/data/$part" --kind "$kind" --cache "$feats" --nj "$nj"
    done
  done
  stage_done 4
fi

if run_stage 5 "train: $(echo $systems)"; then
  require "$lang/lexicon.txt" "$lang/lm.arpa"
  for wave in 1 2; do
    for system in $systems; do
      [ "$(wave_of "$system")" = "$wave" ] || continue
      # a system trained before is kept, even with --force true (a config added later trains alone);
      # delete exp/<system> to retrain it
      if [ -f "$exp/$system/model.yaml" ]; then
        echo "-- $system: trained before"
        continue
      fi
      run_job "train $system" "$exp/log/train_$system.log" \
        train_system "$system" "$exp/data/train" "$dev" "$exp/$system"
    done
    wait_jobs
  done
  stage_done 5
fi

if run_stage 6 "decode test"; then
  for system in $systems; do
    require "$exp/$system/model.yaml"
    if [ "$exp/$system/decode_test/scores.json" -nt "$exp/$system/model.yaml" ]; then
      echo "-- $system: decoded before"
      continue
    fi
    echo "-- decode $system"
    asr decode "$exp/$system" "$exp/data/test"
  done
  stage_done 6
fi

if run_stage 7 "compare systems"; then
  decodes=()
  for system in $systems; do decodes+=("$exp/$system/decode_test"); done
  asr compare "${decodes[@]}" --out "$exp/report"
  cp "$exp/report/report.md" "$exp/RESULTS.md"
  echo "results: $exp/RESULTS.md"
  echo "report:  $exp/report/report.html"
  stage_done 7
fi
