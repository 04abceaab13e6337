#!/usr/bin/env bash
# kathleen: one US speaker reading the CMU ARCTIC prompts (1,620 recordings, 1.4 h, 16 kHz).
# Prompt-disjoint split: prompts whose number is divisible by 10 are the test set. The LM is
# trained on LJSpeech transcripts and the ARCTIC *training* prompts (never the test prompts).
#
#   recipes/kathleen/run.sh [--stage N] [--stop-stage M] [--data DIR] [--lm-dir DIR] [--nj N] [--exp DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

. "$here/../common/defaults.sh"
data=""          # the kathleen/ tree with data/*.flac + *.txt (default: ../shared/data/kathleen)
lm_dir=""        # folder with ljspeech_metadata.norm.txt, arctic_prompts.train.norm.txt (default: ../shared/data/lm_text)
. "$here/../common/parse_options.sh"
. "$here/../common/env.sh"
. "$here/../common/stages.sh"

corpus=kathleen
conf=$here/conf
lm_order=3
shared=$here/../../../shared/data
[ -n "$data" ] || data=$shared/kathleen
[ -n "$lm_dir" ] || lm_dir=$shared/lm_text
require "$data/data" "$lm_dir/arctic_prompts.train.norm.txt" "$lm_dir/ljspeech_metadata.norm.txt"
data=$(cd "$data" && pwd)
lm_dir=$(cd "$lm_dir" && pwd)
lm_text="$lm_dir/arctic_prompts.train.norm.txt $lm_dir/ljspeech_metadata.norm.txt"

. "$here/../common/pipeline_stages.sh"
