"""How much a system's test WER moves between training seeds: the spread a test bound or a README
figure must allow for (float kernels differ between CPUs, and a fragile model turns a rounding
difference into another model, as another seed does).

Trains one config once per seed on a recipe's prepared data and language model (its stages 1-4),
decodes the test set and prints each seed's WER, the mean, the standard deviation and the range.

    OMP_NUM_THREADS=1 python scripts/bench_seeds.py --exp recipes/yesno/exp --pipeline ctc \
        --config recipes/yesno/conf/ctc.yaml --seeds 0 1 2 3 4 [--out DIR] [--set KEY=VALUE ...]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def train_and_score(args, seed: int, out: Path) -> dict:
    exp = Path(args.exp)
    lang = exp / "lang"
    lm = lang / "lm.bin" if (lang / "lm.bin").is_file() else lang / "lm.arpa"
    dev = exp / "data" / "dev" if (exp / "data" / "dev").is_dir() else exp / "data" / "train"
    model = out / f"{args.pipeline}_seed{seed}"
    sets = ["--set", f"seed={seed}", "--set", f"lm={lm}", "--set", "threads=1"]
    if args.pipeline != "ctc":
        sets += ["--set", f"lexicon={lang / 'lexicon.txt'}"]
    for item in args.set:
        sets += ["--set", item]
    asr = [sys.executable, "-m", "asr.cli"]
    start = time.perf_counter()
    subprocess.run(asr + ["train", args.pipeline, str(exp / "data" / "train"), str(model), "--dev", str(dev),
                          "--config", args.config, *sets], check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    subprocess.run(asr + ["decode", str(model), str(exp / "data" / "test")], check=True, capture_output=True, text=True)
    scores = json.loads((model / "decode_test" / "scores.json").read_text())
    return {"seed": seed, "wer": scores["wer"], "train_seconds": round(seconds, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exp", required=True, help="a recipe's exp dir after its stages 1-4 (data/, lang/)")
    parser.add_argument("--pipeline", required=True, choices=("classic", "ctc", "hybrid"))
    parser.add_argument("--config", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", type=Path, help="keep the model dirs here (default: a temporary dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        rows = []
        for seed in args.seeds:
            rows.append(train_and_score(args, seed, out))
            print(f"seed {seed}: WER {rows[-1]['wer']:.2f}% (trained in {rows[-1]['train_seconds']:.0f} s)", flush=True)
    wers = [r["wer"] for r in rows]
    spread = statistics.stdev(wers) if len(wers) > 1 else 0.0
    print(f"{args.pipeline} {args.config}: mean {statistics.mean(wers):.2f}%, std {spread:.2f}, "
          f"range {min(wers):.2f}-{max(wers):.2f} over {len(wers)} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
