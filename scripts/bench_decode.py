"""Decode an AN4 test data dir with our model (`asr decode`) and with pocketsphinx; compare WER and RTF.

Ours: `asr.pipelines.decode.decode_datadir` on one thread (CPU device), which writes the decode
dir with hyp.txt, scores and decode.json (wall-clock RTF, model loading excluded). Its CPU RTF
here is this process's CPU time over the whole call, model loading and scoring included (an
upper bound). Pocketsphinx: its bundled US English model with AN4's dictionary and LM on the
same files, scored against the same references (see scripts/peers.py). The RTF ratio is
ours / pocketsphinx (below 1: ours is faster).

    asr prepare an4 ../shared/data/an4 data/an4
    OMP_NUM_THREADS=1 python scripts/bench_decode.py --model recipes/an4/exp/classic-tri \\
        --data data/an4/test [--an4 ../shared/data/an4] [--peer-dir exp/pocketsphinx/decode_test]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import peers  # scripts/peers.py, beside this file (sets OMP_NUM_THREADS=1 before numpy/torch load)

from asr.datadir import check_datadir  # noqa: E402
from asr.errors import AsrError  # noqa: E402
from asr.pipelines import read_model_info  # noqa: E402


def decode_ours(model: Path, data_dir: Path, out_dir: Path | None) -> tuple[dict, Path]:
    """Our decode of the data dir as a results row, and the decode dir it wrote."""
    import torch

    from asr.pipelines.decode import decode_datadir

    torch.set_num_threads(1)
    start = time.process_time()
    out = decode_datadir(model, data_dir, out_dir=out_dir, device="cpu", threads=1)
    cpu_seconds = time.process_time() - start
    timing = json.loads((out / "decode.json").read_text())
    scores = json.loads((out / "scores.json").read_text())
    audio = timing["audio_seconds"]
    name = f"{model.resolve().name} ({read_model_info(model).pipeline})"
    return {"system": name, "wer": scores["wer"], "words": scores["words"], "errors": scores["errors"],
            "ins": scores["ins"], "del": scores["del"], "sub": scores["sub"], "ci95": scores["ci95"],
            "rtf": timing["rtf"], "cpu_rtf": cpu_seconds / audio, "audio_seconds": audio,
            "decode_seconds": timing["decode_seconds"], "cpu_seconds": cpu_seconds}, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, metavar="EXP_DIR", help="our model dir")
    parser.add_argument("--data", type=Path, required=True, metavar="DIR",
                        help="AN4 test data dir (`asr prepare an4 ../shared/data/an4 OUT` makes OUT/test)")
    parser.add_argument("--an4", type=Path, default=peers.DEFAULT_AN4,
                        help="AN4 tree with etc/an4.dic and etc/an4.lm for pocketsphinx (default ../shared/data/an4)")
    parser.add_argument("--out", type=Path, help="our decode dir (default EXP_DIR/decode_<data dir name>)")
    parser.add_argument("--peer-dir", type=Path,
                        help="also write pocketsphinx's decode dir here, for `asr compare` "
                             "(e.g. exp/pocketsphinx/decode_test)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    try:
        read_model_info(args.model)  # fail before any decoding
        data = check_datadir(args.data, require_text=True)
        peer = peers.PocketSphinx(args.an4)
        ours, decode_dir = decode_ours(args.model, args.data, args.out)
        run = peers.timed_run(peer.name, peer.transcribe_file, data)
        if args.peer_dir:
            peers.write_decode_dir(run, data, args.peer_dir)
    except AsrError as e:
        print(f"bench_decode: {e}", file=sys.stderr)
        return 1
    rows = [peers.row(run, peers.score_run(run, data)), ours]
    print(f"{args.data}: {len(data)} utterances, {ours['audio_seconds']:.0f} s of audio, one thread each;"
          f" our decode dir: {decode_dir}")
    print(peers.results_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
