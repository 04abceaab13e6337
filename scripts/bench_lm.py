#!/usr/bin/env python
"""Build time of our modified Kneser-Ney estimator vs KenLM's lmplz on all of ../shared/data/lm_text.

Both start from the same tokenised sentences (read once, not timed) and end with the ARPA file
written; lmplz's time includes writing its input corpus and its process start. The best of
--repeats runs is reported. Also checks that the two ARPA files hold the same model.

    .venv/bin/python scripts/bench_lm.py [--order 3] [--repeats 3]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from asr.lm.arpa import read_arpa, write_arpa  # noqa: E402
from asr.lm.kenlm_tools import find_tool, run_lmplz  # noqa: E402
from asr.lm.kneser_ney import estimate  # noqa: E402
from asr.lm.text import read_sentences  # noqa: E402

DEFAULT_TEXT_DIR = REPO.parent / "shared" / "data" / "lm_text"


def best_time(repeats: int, build) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        build()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--order", type=int, default=3, help="n-gram order (default 3)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per tool; the best is reported (default 3)")
    parser.add_argument("--text-dir", type=Path, default=DEFAULT_TEXT_DIR, help="folder of *.txt LM text")
    args = parser.parse_args()

    texts = sorted(args.text_dir.glob("*.txt"))
    if not texts:
        print(f"bench_lm: no *.txt files in {args.text_dir}", file=sys.stderr)
        return 1
    sentences = read_sentences(texts)
    words = sum(len(s) for s in sentences)
    print(f"text: {len(texts)} files in {args.text_dir}, {len(sentences)} sentences, {words} words; "
          f"order {args.order}, best of {args.repeats}")

    with tempfile.TemporaryDirectory() as tmp:
        ours_arpa, lmplz_arpa = Path(tmp) / "ours.arpa", Path(tmp) / "lmplz.arpa"
        ours = best_time(args.repeats, lambda: write_arpa(ours_arpa, estimate(sentences, args.order, progress=False).ngrams))
        counts = [len(g) for g in read_arpa(ours_arpa)]
        print(f"ours (builtin, numpy):       {ours:7.2f} s   n-grams per order {counts}")
        if find_tool("lmplz") is None:
            print("lmplz: not built (make lmplz); no ratio")
            return 0
        theirs = best_time(args.repeats, lambda: run_lmplz(sentences, args.order, lmplz_arpa))
        print(f"lmplz (KenLM, C++):          {theirs:7.2f} s")
        print(f"ratio ours / lmplz:          {ours / theirs:7.1f}x")
        a, b = read_arpa(ours_arpa), read_arpa(lmplz_arpa)
        worst = max(abs(x - y) for n in range(len(a)) for k in a[n] for x, y in zip(a[n][k], b[n][k]))
        same = all(set(x) == set(y) for x, y in zip(a, b))
        print(f"same n-grams: {same}; largest log10 difference: {worst:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
