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

# The corpora in ../shared/data beside the toolkit's checkout serve only the recipe of that corpus,
# run from its place in the tree (recipes/<corpus>/run.sh of the checkout that holds asr/): a recipe
# copied elsewhere or renamed to adapt it to other data never trains on them unasked.
#   [ -n "$data" ] || shared_data an4 || data=$exp/download/an4
shared_data() {  # CORPUS [VAR] : set VAR (the option's variable, default: data) to the shared copy of CORPUS
  local root copy var=${2:-data}
  root=$(cd "$here/../.." && pwd)
  [ "$here" = "$root/recipes/$corpus" ] && [ -f "$root/asr/__init__.py" ] || return 1
  copy=$root/../shared/data/$1
  [ -d "$copy" ] || return 1
  copy=$(cd "$copy" && pwd)
  printf -v "$var" '%s' "$copy"
  echo "using the shared copy of $1: $copy (--${var//_/-} DIR uses another)"
}

# Background jobs, at most $nj at once: stages 5 and 8 train systems side by side. On a CPU two
# trainings on one thread each get far more done than one training on both threads (AN4 ctc:
# 8.7-9.3 CPU-minutes on one thread, 30.6 on two while sharing the cores).
#   run_job NAME LOG COMMAND...   start COMMAND (a shell function is fine), output to LOG
#   wait_jobs                     wait for all; a failed job is named with its log's last line
job_names=(); job_logs=()

run_job() {  # NAME LOG COMMAND...
  local name=$1 log=$2; shift 2
  if [ "$nj" -le 1 ]; then  # one at a time: in the foreground, progress bars on the terminal
    echo "-- $name"
    "$@"
    return
  fi
  while [ "$(jobs -rp | wc -l)" -ge "$nj" ]; do wait -n 2>/dev/null || true; done
  mkdir -p "$(dirname "$log")"
  rm -f "$log.status"
  echo "-- $name: started (log: $log)"
  ( set +e; "$@" > "$log" 2>&1; echo $? > "$log.status" ) &
  job_names+=("$name"); job_logs+=("$log")
}

wait_jobs() {
  local i failed=0 status
  wait
  for i in "${!job_names[@]}"; do
    status=$(cat "${job_logs[$i]}.status" 2>/dev/null || echo "?")
    rm -f "${job_logs[$i]}.status"
    if [ "$status" = 0 ]; then
      echo "-- ${job_names[$i]}: done"
    else
      echo "$0: error: ${job_names[$i]} failed (exit $status, log ${job_logs[$i]}): $(tail -n 1 "${job_logs[$i]}")" >&2
      failed=1
    fi
  done
  job_names=(); job_logs=()
  [ "$failed" = 0 ] || exit 1
}

# torch threads for each process of a neural training: $nj trainings of $nproc processes share the cores
job_threads() {
  local cores
  cores=$(nproc 2>/dev/null || echo 1)
  echo $(( cores / (nj * nproc) > 0 ? cores / (nj * nproc) : 1 ))
}
