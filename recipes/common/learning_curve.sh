# Learning curve: every system trained on nested subsets of the training data (the 0.1 h subset
# lies inside the 0.2 h one, and so on), decoded on the same test set with the same LM, then
# plotted as WER against hours of training data. Sourced after pipeline_stages.sh; needs its
# variables and
#   curve_hours  space-separated sizes in hours; "all" = the whole train set
#   curve_pool   (optional) another corpus's data dir: one more, largest point trains on the
#                whole train set plus it (kathleen pools AN4); its lexicon adds the pooled words
#   transfer_from (optional) a pretraining exp dir: every neural system with a trained model
#                there ($transfer_from/<system>) is also trained from it (--init-from) at every
#                point, as <system>-transfer, so the plot shows scratch and transferred curves
#                and each point's report (curve/<point>/report) pairs them

train_and_decode() {  # SYSTEM TRAIN_DIR MODEL_DIR LANG_DIR [more `asr train` options]
  local lang=$4  # train_system reads $lang
  [ -f "$3/model.yaml" ] || train_system "$1" "$2" "$dev" "$3" "${@:5}" || return  # (jobs run with set +e)
  asr decode "$3" "$exp/data/test" --out "$3/decode_test"
}

point_dir() {  # HOURS : the folder of the curve's point at HOURS (or "pooled")
  if [ "$1" = pooled ]; then echo "$exp/curve/pooled"; else echo "$exp/curve/${1}h"; fi
}

scratch_model() {  # SYSTEM HOURS : the system's model dir at that point (the whole-set point is
  # the system stages 5-6 made: same data, same config)
  if [ "$2" = all ] && [ -f "$exp/$1/decode_test/scores.json" ]; then echo "$exp/$1"; else echo "$(point_dir "$2")/$1"; fi
}

curve_point() {  # NAME MODEL_DIR [more `asr train` options] : train and decode $system at this point as
  # NAME (a background job, in its wave), and plot it; reads system, wave, hours, train, point_lang
  if [ "$(wave_of "$system")" = "$wave" ] && [ ! -f "$2/decode_test/scores.json" ]; then
    run_job "$hours h: train and decode $1" "$exp/log/curve_${hours}_$1.log" \
      train_and_decode "$system" "$train" "$2" "$point_lang" "${@:3}"
  fi
  curve_decodes+=("$2/decode_test")
  largest+=("$2/decode_test")
}

transfer_source() {  # SYSTEM : the pretrained model a system is fine-tuned from ("" for none)
  case $(pipeline_of "$1") in
    ctc|hybrid|dnnhmm) [ -z "$transfer_from" ] || [ ! -f "$transfer_from/$1/model.yaml" ] || echo "$transfer_from/$1" ;;
  esac
}

pooled_lang() {  # DIR : the recipe's lexicon plus the pooled corpus's words, the same LM
  [ -f "$1/lexicon.txt" ] || build_lexicon "$1/lexicon.txt" "$curve_pool"
  for f in lm.arpa lm.bin; do
    [ ! -f "$lang/$f" ] || ln -sf "$lang/$f" "$1/$f"
  done
}

if run_stage 8 "learning curve over $curve_hours hours${curve_pool:+ and pooled with $curve_pool}"; then
  require "$lang/lexicon.txt" "$lang/lm.arpa" "$exp/data/train/text" ${curve_pool:+"$curve_pool/text"}
  [ -z "$transfer_from" ] || require "$transfer_from"
  [ -z "$transfer_from" ] || transfer_from=$(cd "$transfer_from" && pwd)
  for wave in 1 2; do  # dnnhmm systems after the classic ones they align with (wave_of)
    curve_decodes=()
    for hours in $curve_hours ${curve_pool:+pooled}; do
      largest=()  # after the loop: the systems at the largest size, for the report's table and tests
      point=$(point_dir "$hours")
      point_lang=$lang
      case $hours in
        all) train=$exp/data/train ;;
        pooled)
          train=$point/train
          [ -f "$train/text" ] || asr combine-data "$train" "$exp/data/train" "$curve_pool"
          point_lang=$point/lang
          pooled_lang "$point_lang" ;;
        *)
          train=$point/train
          [ -f "$train/text" ] || asr subset-data "$exp/data/train" "$train" --hours "$hours" ;;
      esac
      for system in $systems; do
        [ "$(wave_of "$system")" -le "$wave" ] || continue
        curve_point "$system" "$(scratch_model "$system" "$hours")"
        source_model=$(transfer_source "$system")
        [ -z "$source_model" ] || curve_point "$system-transfer" "$point/$system-transfer" --init-from "$source_model"
      done
    done
    wait_jobs
  done
  if [ -n "$transfer_from" ]; then  # scratch against transferred at every point, paired
    for hours in $curve_hours ${curve_pool:+pooled}; do
      point=$(point_dir "$hours")
      decodes=()
      for system in $systems; do
        [ -n "$(transfer_source "$system")" ] || continue
        decodes+=("$(scratch_model "$system" "$hours")/decode_test" "$point/$system-transfer/decode_test")
      done
      [ ${#decodes[@]} -eq 0 ] || asr compare "${decodes[@]}" --out "$point/report" >/dev/null
    done
  fi
  asr compare "${largest[@]}" --curves "${curve_decodes[@]}" --out "$exp/curve/report"
  cp "$exp/curve/report/report.md" "$exp/LEARNING_CURVE.md"
  echo "learning curve: $exp/curve/report/report.html"
  stage_done 8
fi
