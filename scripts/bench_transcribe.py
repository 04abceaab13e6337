"""Transcribe the AN4 test set with our models and with pocketsphinx; print WER and RTF side by side.

Each model dir (any pipeline) goes through the user-facing API, `asr.load(dir).transcribe(path)`,
one file at a time on one thread (CPU device); pocketsphinx uses its bundled US English model
with AN4's dictionary and LM (see scripts/peers.py). References are the AN4 test transcripts
normalised as `asr prepare an4` does. RTF ratios are ours / pocketsphinx (below 1: ours faster).

    OMP_NUM_THREADS=1 python scripts/bench_transcribe.py --model recipes/an4/exp/classic-tri \\
        --model recipes/an4/exp/ctc-bpe [--an4 ../shared/data/an4] [--utts N] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import peers  # scripts/peers.py, beside this file (sets OMP_NUM_THREADS=1 before numpy/torch load)

import asr  # noqa: E402  (importable once peers put the checkout on sys.path)
from asr.errors import AsrError  # noqa: E402
from asr.pipelines import read_model_info  # noqa: E402


def system_name(model_dir: Path) -> str:
    """`<dir name> (<pipeline>)`, e.g. `classic-tri (classic)`."""
    return f"{model_dir.resolve().name} ({read_model_info(model_dir).pipeline})"


def run_model(model_dir: Path, data) -> peers.Run:
    import torch

    torch.set_num_threads(1)
    transcriber = asr.load(model_dir, device="cpu", threads=1)
    return peers.timed_run(system_name(model_dir), lambda path: transcriber.transcribe(path).text, data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, action="append", default=[], metavar="DIR",
                        help="a model dir made by `asr train` (repeat for several; none: pocketsphinx only)")
    parser.add_argument("--an4", type=Path, default=peers.DEFAULT_AN4,
                        help="AN4 tree: test audio, transcripts, dictionary and LM (default ../shared/data/an4)")
    parser.add_argument("--utts", type=int, help="first N test utterances only (default: all 130)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    try:
        for model in args.model:
            read_model_info(model)  # fail before any decoding
        data = peers.an4_test_data(args.an4)
        if args.utts:
            data = data.select(data.utts[:args.utts])
        runs = [peers.run_pocketsphinx(data, args.an4)] + [run_model(m, data) for m in args.model]
    except AsrError as e:
        print(f"bench_transcribe: {e}", file=sys.stderr)
        return 1
    rows = [peers.row(run, peers.score_run(run, data)) for run in runs]
    print(f"AN4 test: {len(data)} utterances, {rows[0]['audio_seconds']:.0f} s of audio, one thread each")
    print(peers.results_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
