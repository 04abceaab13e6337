#!/usr/bin/env bash
# FSDD (free spoken digit dataset): 3,000 isolated digits ZERO..NINE from 6 speakers at 8 kHz
# (resampled to the models' 16 kHz); takes 0-4 of each speaker and digit are the test set.
#
#   recipes/fsdd/run.sh [--stage N] [--stop-stage M] [--data DIR] [--nj N] [--exp DIR] [--force]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

. "$here/../common/defaults.sh"
data=""          # the fsdd/ tree with recordings/ (default: ../shared/data/fsdd beside the checkout when run in place)
. "$here/../common/parse_options.sh"
. "$here/../common/env.sh"
. "$here/../common/stages.sh"

corpus=fsdd
[ -n "$conf" ] || conf=$here/conf  # --conf DIR: other configs (e.g. smaller, for a dry run)
lm_order=2      # isolated words: a bigram over <s> WORD </s> (KenLM cannot load unigram-only LMs)
lm_text=""
[ -n "$data" ] || shared_data fsdd || { echo "$0: error: no FSDD given: pass --data DIR (the fsdd/ tree with recordings/; FSDD has no archive we download)" >&2; exit 1; }
[ -d "$data/recordings" ] || { echo "$0: error: $data/recordings is missing: pass --data DIR (FSDD has no archive we download)" >&2; exit 1; }
data=$(cd "$data" && pwd)

. "$here/../common/pipeline_stages.sh"
