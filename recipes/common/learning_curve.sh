# Learning curve: every system trained on nested subsets of the training data (the 0.1 h subset
# lies inside the 0.2 h one, and so on), decoded on the same test set with the same lexicon and
# LM, then plotted as WER against hours of training data. Sourced after pipeline_stages.sh; needs
# its variables and `curve_hours` (space-separated sizes in hours; "all" = the whole train set).

train_and_decode() {  # SYSTEM TRAIN_DIR MODEL_DIR
  [ -f "$3/model.yaml" ] || train_system "$1" "$2" "$dev" "$3"
  asr decode "$3" "$exp/data/test" --out "$3/decode_test"
}

if run_stage 8 "learning curve over $curve_hours hours"; then
  require "$lang/lexicon.txt" "$lang/lm.arpa" "$exp/data/train/text"
  curve_decodes=()
  for hours in $curve_hours; do
    largest=()  # after the loop: the systems at the largest size, for the report's table and tests
    point=$exp/curve/${hours}h
    if [ "$hours" = all ]; then
      train=$exp/data/train
    else
      train=$point/train
      [ -f "$train/text" ] || asr subset-data "$exp/data/train" "$train" --hours "$hours"
    fi
    for system in $systems; do
      model=$point/$system
      # the whole-set point is the system stages 5-6 made: same data, same config
      [ "$hours" = all ] && [ -f "$exp/$system/decode_test/scores.json" ] && model=$exp/$system
      if [ ! -f "$model/decode_test/scores.json" ]; then
        run_job "$hours h: train and decode $system" "$exp/log/curve_${hours}h_$system.log" \
          train_and_decode "$system" "$train" "$model"
      fi
      curve_decodes+=("$model/decode_test")
      largest+=("$model/decode_test")
    done
  done
  wait_jobs
  asr compare "${largest[@]}" --curves "${curve_decodes[@]}" --out "$exp/curve/report"
  cp "$exp/curve/report/report.md" "$exp/LEARNING_CURVE.md"
  echo "learning curve: $exp/curve/report/report.html"
  stage_done 8
fi
