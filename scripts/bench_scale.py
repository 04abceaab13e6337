"""Training in N processes (torchrun) against one, in the same run: the same config trained with
`--nproc 1` and `--nproc N`, one thread per process. Prints utterances per second, the speed-up,
and the largest parameter difference between the two models.

Networks (ctc, hybrid; DistributedDataParallel, gloo): the same epochs; the time is the epochs'
wall seconds in the checkpoint history (feature extraction and the dev pass excluded); the weight
difference is float summation order only when the config draws nothing per rank (dropout 0, no
SpecAugment). Classic (statistics summed over ranks): the whole training from cached features,
without a dev set (no tuning): model.yaml's wall seconds; the difference is over the GMMs.

    python scripts/bench_scale.py --train DATA/train --dev DATA/dev --config recipes/an4/conf/ctc.yaml \\
        [--nproc 2] [--epochs 2] [--set dropout=0.0 ...]
    python scripts/bench_scale.py --pipeline classic --train DATA/train --config recipes/an4/conf/classic.yaml \\
        --set lexicon=LANG/lexicon.txt --set triphone=false --set sat=false [--set mono_iters=5]

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

import numpy as np
import torch
import yaml

from asr.nn.checkpoint import load_state, load_weights


def train(args, nproc: int, exp: Path, cache: Path) -> dict:
    classic = args.pipeline == "classic"
    cmd = [sys.executable, "-m", "asr.cli", "train", args.pipeline, str(args.train), str(exp),
           "--config", str(args.config), "--nproc", str(nproc), "--set", "threads=1", "--set", f"feature_cache={cache}"]
    if not classic:
        cmd += ["--dev", str(args.dev), "--set", f"epochs={args.epochs}", "--set", "keep_checkpoints=true",
                "--set", f"patience={args.epochs + 1}"]
    for item in args.set:
        cmd += ["--set", item]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"bench_scale: --nproc {nproc} failed:\n{result.stderr[-2000:]}")
    utts = sum(1 for _ in open(Path(args.train) / "text", encoding="utf-8"))
    if classic:
        info = yaml.safe_load((exp / "model.yaml").read_text())
        with np.load(exp / "gmm.npz") as gmm:
            weights = {k: torch.from_numpy(gmm[k]) for k in ("means", "variances", "weights")}
        return {"seconds": info["train"]["wall_seconds"], "utts_per_s": utts / info["train"]["wall_seconds"],
                "weights": weights}
    history = load_state(exp / "checkpoints" / "state.pt")["history"]
    seconds = sum(h["wall_seconds"] for h in history)
    return {"seconds": seconds, "utts_per_s": utts * len(history) / seconds,
            "weights": load_weights(exp / "checkpoints" / f"epoch{len(history):03d}.safetensors")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default="ctc", choices=("ctc", "hybrid", "classic"))
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--dev", type=Path, help="networks: the dev set (classic trains without one)")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--work", type=Path, help="where the runs go (default: a temporary dir)")
    args = parser.parse_args(argv)
    if args.pipeline != "classic" and args.dev is None:
        parser.error("--dev is required for the networks")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        cache = work / "feats"  # filled by the first run (feature extraction is not in the epochs' time)
        if args.pipeline == "classic":  # whose time starts with reading the features: extracted first
            subprocess.run([sys.executable, "-m", "asr.cli", "features", str(args.train), "--kind", "mfcc",
                            "--cache", str(cache), "--nj", str(args.nproc)], check=True, capture_output=True)
        one = train(args, 1, work / "one", cache)
        many = train(args, args.nproc, work / f"nproc{args.nproc}", cache)
    diff = max(float((one["weights"][k].float() - many["weights"][k].float()).abs().max()) for k in one["weights"])
    print(f"{'processes':<10} {'train s':>8} {'utts/s':>8}")
    print(f"{1:<10} {one['seconds']:>8.1f} {one['utts_per_s']:>8.2f}")
    print(f"{args.nproc:<10} {many['seconds']:>8.1f} {many['utts_per_s']:>8.2f}")
    after = "" if args.pipeline == "classic" else f" after {args.epochs} epochs"
    print(f"speed-up {many['utts_per_s'] / one['utts_per_s']:.2f}x; largest weight difference{after}: {diff:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
