"""Peak memory of neural training as the corpus grows: the loader that reads every utterance's
features into memory at the start (features_in_memory: true, the loader before streaming) against
reading them from the feature cache batch by batch (the default), in the same run.

For each size H a training set of H hours is made by repeating the utterances of --train (new
utterance ids, the same audio files: a loader's memory depends on how many frames it holds, not
on what they say). The features, speed-perturbed copies included, are extracted once into a
shared cache; then for each size and loader a fresh process loads the examples and trains
--steps updates of the config's model, and reports its peak resident memory (ru_maxrss).

    python scripts/bench_memory.py --train DATA/train --config recipes/an4/conf/ctc.yaml \\
        --hours 1 4 16 [--steps 200] [--set speed_perturb=true ...]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

LOADERS = {"in memory": True, "streamed": False}


class Enough(Exception):
    pass


def repeated(train: Path, hours: float, out: Path) -> Path:
    """A data dir of `hours` of audio: the utterances of `train` repeated, ids suffixed -rN."""
    from asr.datadir import read_datadir, utterance_seconds, write_datadir

    data = read_datadir(train)
    seconds = utterance_seconds(data)
    total = sum(seconds.values())
    big, kept = type(data)(), 0.0
    for r in range(math.ceil(hours * 3600 / total)):
        for utt in data.utts:
            if kept >= hours * 3600:
                break
            new = f"{utt}-r{r}"
            big.wav[new], big.text[new] = data.audio_path(utt), data.text[utt]
            big.utt2spk[new] = f"{data.utt2spk[utt]}-r{r}"
            kept += seconds[utt]
    write_datadir(big, out)
    return out


def child(args) -> None:
    """Load the examples with one loader, train --steps updates, print the peak RSS as JSON."""
    import torch

    from asr.datadir import read_datadir
    from asr.nn.acoustic import feature_config, model_config, train_config
    from asr.nn.data import load_examples
    from asr.nn.model import CtcModel
    from asr.nn.train import train_model
    from asr.pipelines.config import load_config, pipeline_config
    from asr.units import CharUnits

    torch.set_num_threads(1)
    config = pipeline_config("ctc", load_config(args.config, args.set, "ctc"))
    data = read_datadir(args.data)
    units = CharUnits.train([data.text[u] for u in data.utts])
    targets = {u: units.encode(t) for u, t in data.text.items()}
    train_cfg = train_config(config)
    examples = load_examples(data, feature_config(config), targets, args.cache, train_cfg.speeds,
                             in_memory=args.in_memory)
    if args.steps:
        def stop(epoch, step):
            if step >= args.steps:
                raise Enough

        torch.manual_seed(0)
        model = CtcModel(model_config(config, len(units)))
        try:
            train_model(model, examples, examples[:10], train_cfg, args.work, device="cpu", on_step=stop)
        except Enough:
            pass
    print(json.dumps({"utts": len(examples), "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def run_child(args, data: Path, cache: Path, in_memory: bool, steps: int, work: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", "--data", str(data), "--cache", str(cache), "--config",
           str(args.config), "--steps", str(steps), "--work", str(work)] + (["--in-memory"] if in_memory else [])
    for item in args.set:
        cmd += ["--set", item]
    result = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"bench_memory: {data.name} ({'in memory' if in_memory else 'streamed'}) failed:\n"
                 f"{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--hours", type=float, nargs="+", default=[1.0, 4.0, 16.0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--work", type=Path, help="where the data dirs and cache go (default: a temporary dir)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--in-memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    if args.train is None:
        parser.error("--train is required")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        cache = work / "feats"
        rows = []
        for hours in sorted(args.hours):
            data = repeated(args.train, hours, work / f"train_{hours:g}h")
            if not rows:  # extraction (every distinct file once) before anything is measured
                run_child(args, data, cache, False, 0, work / "run")
            rows.append((hours, {name: run_child(args, data, cache, flag, args.steps, work / "run")
                                 for name, flag in LOADERS.items()}))
    print(f"{'hours':>6} {'utts':>7} " + " ".join(f"{name + ' MB':>14}" for name in LOADERS))
    for hours, result in rows:
        print(f"{hours:>6g} {result['streamed']['utts']:>7} "
              + " ".join(f"{result[name]['peak_mb']:>14.0f}" for name in LOADERS))
    first, last = rows[0][1], rows[-1][1]
    for name in LOADERS:
        print(f"{name}: peak at {rows[-1][0]:g} h = {last[name]['peak_mb'] / first[name]['peak_mb']:.2f}x "
              f"the {rows[0][0]:g} h peak")
    return 0


if __name__ == "__main__":
    sys.exit(main())
