"""Fit learning-curve laws to WERs copied from a table, when the decode dirs behind them are gone:
prints the fitted laws, predicted crossovers and hold-out check as `asr compare --curves` writes
them (asr.learning_law), and optionally draws the plot. With no per-utterance scores the bootstrap
is over the fit's residuals (a curve of 3 sizes gets no interval), or, given the test set's size
in words (--test-words), over error counts redrawn around the fitted curve's. Prefer the latter:
4 sizes leave the residuals 1 degree of freedom, and on AN4's table they give intervals that the
test set's own noise makes several times wider (README, "Fitted laws").

    python scripts/fit_learning_curves.py --curve classic 0.10:17.98 0.20:9.06 0.40:6.34 0.64:5.95 \
        --curve ctc 0.10:64.29 0.20:42.04 0.40:17.21 0.64:12.68 [--test-words 773] \
        [--plot OUT.png] [--json OUT.json]

A curve's colour in the plot is its pipeline's: the name up to the first '-' (classic-mono is
classic).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from asr import learning_law
from asr.errors import AsrError
from asr.report import markdown_section, law_curves, law_sections, plot_learning_curves


def parse_point(text: str) -> tuple[float, float]:
    """'0.64:5.95' -> (0.64 hours, 5.95% WER)."""
    hours, sep, wer = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return float(hours), float(wer)
    except ValueError:
        raise AsrError(f"--curve: {text!r} is not HOURS:WER (e.g. 0.64:5.95)") from None


def curve_points(curves: list[list[str]]) -> list[dict]:
    """The --curve arguments as learning-curve points (asr.report's shape)."""
    points = []
    for name, *sizes in curves:
        if not sizes:
            raise AsrError(f"--curve {name}: no HOURS:WER points")
        for text in sizes:
            hours, wer = parse_point(text)
            points.append({"system": name, "pipeline": name.split("-")[0], "hours": hours, "wer": wer})
    return points


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curve", nargs="+", action="append", required=True, metavar="NAME HOURS:WER",
                        help="a system's name, then its measured sizes as HOURS:WER (WER in percent)")
    parser.add_argument("--test-words", type=int, metavar="N",
                        help="words in the test set every curve was scored on: bootstrap over error counts "
                             "(Poisson) instead of the fit's residuals")
    parser.add_argument("--replicates", type=int, default=learning_law.REPLICATES,
                        help="bootstrap replicates per curve (default %(default)s)")
    parser.add_argument("--seed", type=int, default=learning_law.SEED, help="bootstrap seed (default %(default)s)")
    parser.add_argument("--plot", metavar="PNG", help="also draw the measured points and fitted laws")
    parser.add_argument("--json", metavar="FILE", help="also write every number (laws.json's shape)")
    args = parser.parse_args(argv)
    try:
        if args.replicates < 1:
            raise AsrError(f"--replicates must be at least 1, got {args.replicates}")
        points = curve_points(args.curve)
        curves, why_not = law_curves(points)
        if args.test_words is not None:
            curves = [learning_law.make_curve(c.name, c.hours, c.wer, test_words=args.test_words) for c in curves]
        analysis = learning_law.analyse(curves, replicates=args.replicates, seed=args.seed)
        for section in law_sections(analysis, why_not):
            print("\n".join(markdown_section(section)))
        if args.plot:
            print(f"\n{plot_learning_curves(points, args.plot, analysis)}")
        if args.json:
            Path(args.json).write_text(json.dumps(analysis.to_json(), indent=2) + "\n", encoding="utf-8")
    except AsrError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
