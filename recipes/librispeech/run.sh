#!/usr/bin/env bash
# LibriSpeech (OpenSLR SLR12): read audiobooks, 16 kHz. Trains on train-clean-100 (or a subset
# given with --train-hours) and tests on test-clean. Large: not run in CI; the download stage
# fetches, verifies and resumes the archives.
#
#   recipes/librispeech/run.sh [--stage N] [--stop-stage M] [--data DIR] [--nj N] [--exp DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

. "$here/../common/defaults.sh"
data=""          # the folder holding LibriSpeech/ (default: exp/download, fetched in stage 0)
. "$here/../common/parse_options.sh"
. "$here/../common/env.sh"
. "$here/../common/stages.sh"

corpus=librispeech
conf=$here/conf
lm_order=3
lm_text=""
[ -n "$data" ] || data=$exp/download

if run_stage 0 "download LibriSpeech (only when --data is absent)"; then
  [ -d "$data/LibriSpeech" ] || [ -d "$data/test-clean" ] || asr download librispeech "$data"
  stage_done 0
fi
data=$(cd "$data" && pwd)  # the LibriSpeech folder or its parent: asr prepare finds the parts

. "$here/../common/pipeline_stages.sh"
