#!/usr/bin/env bash
# The offline demo (`make demo`): a small synthetic corpus spoken by espeak-ng (digits and
# command words, eight voices, random speed/pitch, added noise), then the classic, ctc and hybrid
# pipelines trained with small configs, decoded and compared. Needs no download; a few minutes
# on 2 cores. Synthetic speech is a smoke test of the toolkit, not a benchmark: for real numbers
# run recipes/an4/run.sh.
#
#   recipes/demo/run.sh [--stage N] [--stop-stage M] [--utts N] [--nj N] [--exp DIR] [--force]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

. "$here/../common/defaults.sh"
utts=600         # synthetic utterances (train/dev/test), about 15 minutes of audio
. "$here/../common/parse_options.sh"
. "$here/../common/env.sh"
. "$here/../common/stages.sh"

corpus=synth
[ -n "$conf" ] || conf=$here/conf  # --conf DIR: other configs (e.g. smaller, for a dry run)
lm_order=2
lm_text=""
prepare_data() {
  asr synth "$exp/data" --utts "$utts"
}

. "$here/../common/pipeline_stages.sh"
[ -f "$exp/RESULTS.md" ] && cat "$exp/RESULTS.md"
exit 0
