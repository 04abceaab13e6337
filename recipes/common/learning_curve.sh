# Learning curve: every system trained on nested subsets of the training data (the 0.1 h subset
# lies inside the 0.2 h one, and so on), decoded on the same test set with the same LM, then
# plotted as WER against hours of training data. Sourced after pipeline_stages.sh; needs its
# variables and
#   curve_hours  space-separated sizes in hours; "all" = the whole train set
#   curve_pool   (optional) another corpus's data dir: one more, largest point trains on the
#                whole train set plus it (kathleen pools AN4); its lexicon adds the pooled words

train_and_decode() {  # SYSTEM TRAIN_DIR MODEL_DIR LANG_DIR
  local lang=$4  # train_system reads $lang
  [ -f "$3/model.yaml" ] || train_system "$1" "$2" "$dev" "$3" || return  # (jobs run with set +e)
  asr decode "$3" "$exp/data/test" --out "$3/decode_test"
}

pooled_lang() {  # DIR : the recipe's lexicon plus the pooled corpus's words, the same LM
  [ -f "$1/lexicon.txt" ] || build_lexicon "$1/lexicon.txt" "$curve_pool"
  for f in lm.arpa lm.bin; do
    [ ! -f "$lang/$f" ] || ln -sf "$lang/$f" "$1/$f"
  done
}

if run_stage 8 "learning curve over $curve_hours hours${curve_pool:+ and pooled with $curve_pool}"; then
  require "$lang/lexicon.txt" "$lang/lm.arpa" "$exp/data/train/text" ${curve_pool:+"$curve_pool/text"}
  for wave in 1 2; do  # dnnhmm systems after the classic ones they align with (wave_of)
    curve_decodes=()
    for hours in $curve_hours ${curve_pool:+pooled}; do
      largest=()  # after the loop: the systems at the largest size, for the report's table and tests
      point=$exp/curve/${hours}h
      point_lang=$lang
      case $hours in
        all) train=$exp/data/train ;;
        pooled)
          point=$exp/curve/pooled
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
        model=$point/$system
        # the whole-set point is the system stages 5-6 made: same data, same config
        [ "$hours" = all ] && [ -f "$exp/$system/decode_test/scores.json" ] && model=$exp/$system
        if [ "$(wave_of "$system")" = "$wave" ] && [ ! -f "$model/decode_test/scores.json" ]; then
          run_job "$hours h: train and decode $system" "$exp/log/curve_${hours}_$system.log" \
            train_and_decode "$system" "$train" "$model" "$point_lang"
        fi
        curve_decodes+=("$model/decode_test")
        largest+=("$model/decode_test")
      done
    done
    wait_jobs
  done
  asr compare "${largest[@]}" --curves "${curve_decodes[@]}" --out "$exp/curve/report"
  cp "$exp/curve/report/report.md" "$exp/LEARNING_CURVE.md"
  echo "learning curve: $exp/curve/report/report.html"
  stage_done 8
fi
