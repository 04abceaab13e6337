# Stage helpers shared by the recipes (sourced after parse_options.sh).
#   if run_stage 3 "language model"; then ...; stage_done 3; fi
# A stage runs when stage <= N <= stop_stage and it has not finished before (exp/.done/N);
# rerunning a finished stage does nothing, an interrupted one reruns (its outputs are written
# atomically or resumed by the asr command itself).

run_stage() {  # N DESCRIPTION
  local n=$1; shift
  [ "$n" -ge "$stage" ] && [ "$n" -le "$stop_stage" ] || return 1
  if [ -f "$exp/.done/$n" ] && [ "$force" != true ]; then
    echo "== stage $n: $* (done before; --force true reruns)"
    return 1
  fi
  echo "== stage $n: $*"
  return 0
}

stage_done() {  # N
  mkdir -p "$exp/.done" && touch "$exp/.done/$1"
}

require() {  # PATH... : one-line error and exit when an input of the stage is missing
  local p
  for p in "$@"; do
    [ -e "$p" ] || { echo "$0: error: $p is missing (run the earlier stages first)" >&2; exit 1; }
  done
}

text_only() {  # DATA_DIR OUT : the transcripts of a data dir without utterance ids (LM training text)
  cut -d' ' -f2- "$1/text" > "$2.tmp" && mv "$2.tmp" "$2"
}
