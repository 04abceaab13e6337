"""Processes against one, in the same run: the Viterbi alignment of a training set (the bulk of a
GMM-HMM training iteration) and the decoding of a data dir, with `--jobs` processes and with one.
Checks that the results are identical and prints the wall-clock speed-up.

    OMP_NUM_THREADS=1 python scripts/bench_jobs.py --classic EXP/classic --train DATA/train \\
        --decode EXP/hybrid --test DATA/test [--jobs 2]

Run it on an otherwise idle machine: the speed-up is wall time, and 2 jobs need 2 free cores.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from asr.datadir import check_datadir
from asr.errors import AsrError


def align_once(model_dir: Path, train_dir: Path, jobs: int) -> tuple[float, dict]:
    from asr.hmm.scorer import HmmScorer
    from asr.hmm.train import TrainingSet, align
    from asr.modeldir import read_model_info

    scorer = HmmScorer(model_dir, read_model_info(model_dir))
    data = check_datadir(train_dir, require_text=True)
    feats = scorer.load_features(data)
    model = scorer.si_model or scorer.model
    train_set = TrainingSet.build(feats, data.text, scorer.lexicon.prons)
    train_set.jobs = jobs
    start = time.perf_counter()
    ali = align(model, train_set)
    return time.perf_counter() - start, {u: ali.states[u].tobytes() for u in ali.states}


def decode_once(model_dir: Path, test_dir: Path, jobs: int) -> tuple[float, dict]:
    from asr.pipelines import load

    recognizer = load(model_dir, device="cpu", threads=1)
    data = check_datadir(test_dir)
    start = time.perf_counter()
    hyps = recognizer.recognize_datadir(data, jobs=jobs)
    return time.perf_counter() - start, {u: h[0].text for u, h in hyps.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classic", type=Path, required=True, help="a classic model dir (aligns --train)")
    parser.add_argument("--train", type=Path, required=True, help="a transcribed data dir to align")
    parser.add_argument("--decode", type=Path, help="a model dir to decode --test with")
    parser.add_argument("--test", type=Path, help="the data dir to decode")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        rows = [("alignment", args.classic, args.train, align_once)]
        if args.decode and args.test:
            rows.append(("decoding", args.decode, args.test, decode_once))
        print(f"{'work':<10} {'model':<12} {'1 job s':>8} {f'{args.jobs} jobs s':>9} {'speed-up':>8}  identical")
        for name, model, data, run in rows:
            one_s, one = run(model, data, 1)
            many_s, many = run(model, data, args.jobs)
            print(f"{name:<10} {model.name:<12} {one_s:>8.1f} {many_s:>9.1f} {one_s / many_s:>8.2f}  "
                  f"{'yes' if one == many else 'NO'}")
    except AsrError as e:
        print(f"bench_jobs: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
