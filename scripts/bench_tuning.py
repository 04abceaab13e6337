"""Dev-set tuning time, three ways: a new search per grid point (as before: KenLM reloaded and the
lexicon tree rebuilt each time), one search re-optioned at every point (what training does), and
that with the grid points spread over 2 forked processes (`asr train --nj 2`).

Reruns, on a trained model dir, the grid search its model.yaml records (the grid is read back from
the recorded table), each way in turn, and checks that all choose the same values with the same
table. The acoustic scores (and a SAT model's first pass) are computed once per way and not
timed, so the times are the search's alone. Wall-clock seconds: run it on an otherwise idle machine.

    OMP_NUM_THREADS=1 python scripts/bench_tuning.py --model exp/classic exp/hybrid --dev data/an4/dev
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from asr.datadir import check_datadir
from asr.errors import AsrError
from asr.modeldir import ModelInfo
from asr.pipelines import load, read_model_info
from asr.parallel import map_forked
from asr.pipelines.tuning import STAGES, tune
from asr.search import SearchOptions


def recorded_grids(info: ModelInfo) -> dict[str, list[float]]:
    """The grid of each tuned option, from the table model.yaml records (values in order of appearance)."""
    table = (info.tuning or {}).get("table")
    if not table:
        raise AsrError("model.yaml records no tuning table (trained without a dev set?)")
    names = [n for stage in STAGES for n in stage]
    return {n: list(dict.fromkeys(row[n] for row in table if n in row)) for n in names
            if any(n in row for row in table)}


def run(model: Path, dev, fresh: bool, jobs: int = 1) -> tuple[float, dict, list]:
    recognizer = load(model, device="cpu", threads=1)
    grids = recorded_grids(read_model_info(model))
    defaults = SearchOptions().to_dict()
    current = {n: recognizer.options.get(n, defaults[n]) for stage in STAGES for n in stage}
    recognizer.configure(**current)
    scores = recognizer.scorer.datadir_scores(dev, recognizer.first_pass)

    def decode(options: dict) -> dict[str, str]:
        recognizer.configure(**options)
        if fresh:
            recognizer._search = None  # the old way: a new search (LM, lexicon tree) per point
        return {u: recognizer.decode(s)[0].text for u, s in scores.items()}

    spread = (lambda function, points: map_forked(function, points, jobs)) if jobs > 1 else None
    start = time.perf_counter()
    chosen, table, _ = tune(decode, dev.text, grids, current, spread)
    return time.perf_counter() - start, chosen, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, nargs="+", required=True, metavar="EXP_DIR")
    parser.add_argument("--dev", type=Path, required=True, metavar="DIR", help="the dev data dir tuned on")
    args = parser.parse_args(argv)
    try:
        dev = check_datadir(args.dev, require_text=True)
        print(f"{'model':<16} {'points':>6} {'new search/point s':>18} {'one search s':>12} {'2 jobs s':>9} "
              f"{'ratio':>6} {'2 jobs x':>8}  same choice")
        for model in args.model:
            fresh_s, fresh_chosen, fresh_table = run(model, dev, fresh=True)
            shared_s, chosen, table = run(model, dev, fresh=False)
            jobs_s, jobs_chosen, jobs_table = run(model, dev, fresh=False, jobs=2)
            same = chosen == fresh_chosen == jobs_chosen and table == fresh_table == jobs_table
            print(f"{model.name:<16} {len(table):>6} {fresh_s:>18.1f} {shared_s:>12.1f} {jobs_s:>9.1f} "
                  f"{fresh_s / shared_s:>6.2f} {shared_s / jobs_s:>8.2f}  {'yes' if same else 'NO'} {chosen}")
    except AsrError as e:
        print(f"bench_tuning: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
