"""Neural training in N processes (torchrun, DistributedDataParallel, gloo) against one, in the
same run: the same config trained for the same epochs with `--nproc 1` and `--nproc N`, one
torch thread per process. Prints utterances per second of the training epochs (feature extraction
and the dev pass excluded: the epochs' wall seconds in the checkpoint history), the speed-up, and
the largest weight difference after the last epoch (float summation order only when the config
draws nothing per rank: dropout 0, no SpecAugment).

    python scripts/bench_scale.py --train DATA/train --dev DATA/dev --config recipes/an4/conf/ctc.yaml \\
        [--nproc 2] [--epochs 2] [--set dropout=0.0 ...]

Run it on an otherwise idle machine with at least N free cores: the speed-up is wall time.
Classic alignment and decoding in N processes: scripts/bench_jobs.py.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from asr.nn.checkpoint import load_state, load_weights


def train(args, nproc: int, exp: Path, cache: Path) -> dict:
    cmd = [sys.executable, "-m", "asr.cli", "train", args.pipeline, str(args.train), str(exp), "--dev", str(args.dev),
           "--config", str(args.config), "--nproc", str(nproc), "--set", f"epochs={args.epochs}",
           "--set", "threads=1", "--set", "keep_checkpoints=true", "--set", f"feature_cache={cache}",
           "--set", f"patience={args.epochs + 1}"]
    for item in args.set:
        cmd += ["--set", item]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"bench_scale: --nproc {nproc} failed:\n{result.stderr[-2000:]}")
    history = load_state(exp / "checkpoints" / "state.pt")["history"]
    utts = sum(1 for _ in open(Path(args.train) / "text", encoding="utf-8"))
    seconds = sum(h["wall_seconds"] for h in history)
    return {"seconds": seconds, "utts_per_s": utts * len(history) / seconds,
            "weights": load_weights(exp / "checkpoints" / f"epoch{len(history):03d}.safetensors")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default="ctc", choices=("ctc", "hybrid"))
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--work", type=Path, help="where the runs go (default: a temporary dir)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        cache = work / "feats"  # filled by the first run (feature extraction is not in the epochs' time)
        one = train(args, 1, work / "one", cache)
        many = train(args, args.nproc, work / f"nproc{args.nproc}", cache)
    diff = max(float((one["weights"][k].float() - many["weights"][k].float()).abs().max()) for k in one["weights"])
    print(f"{'processes':<10} {'train s':>8} {'utts/s':>8}")
    print(f"{1:<10} {one['seconds']:>8.1f} {one['utts_per_s']:>8.2f}")
    print(f"{args.nproc:<10} {many['seconds']:>8.1f} {many['utts_per_s']:>8.2f}")
    print(f"speed-up {many['utts_per_s'] / one['utts_per_s']:.2f}x; largest weight difference after "
          f"{args.epochs} epochs: {diff:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
