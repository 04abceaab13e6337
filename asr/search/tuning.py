"""Grid search of the LM weight and word score on a development set (never on test)."""
from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping

from tqdm import tqdm

from asr.errors import AsrError
from asr.scoring import wer

Grid = Mapping[str, Iterable[float]] | Iterable[tuple[float, float]]


def grid_points(grid: Grid) -> list[tuple[float, float]]:
    """(lm_weight, word_score) pairs: from {"lm_weight": [...], "word_score": [...]} (all
    combinations) or given directly as pairs."""
    if isinstance(grid, Mapping):
        unknown = set(grid) - {"lm_weight", "word_score"}
        if unknown:
            raise AsrError(f"LM weight grid: unknown keys {sorted(unknown)} (use lm_weight, word_score)")
        return list(itertools.product(grid.get("lm_weight", [1.0]), grid.get("word_score", [0.0])))
    return [(float(w), float(s)) for w, s in grid]


def tune_lm_weight(decode: Callable[[float, float], dict[str, str]], refs: dict[str, str],
                   grid: Grid) -> tuple[float, float, list[dict]]:
    """Decode the dev set at every grid point; return the best (lm_weight, word_score) and the table.

    `decode(lm_weight, word_score)` returns {utt: hypothesis text}. The table has one row per point
    ({"lm_weight", "word_score", "wer"}) in grid order; ties go to the earliest point.
    """
    points = grid_points(grid)
    if not points:
        raise AsrError("LM weight grid is empty")
    if not refs:
        raise AsrError("LM weight tuning needs at least one dev utterance with a transcript")
    table = []
    for lm_weight, word_score in tqdm(points, desc="tune lm_weight/word_score", unit="point"):
        table.append({"lm_weight": lm_weight, "word_score": word_score,
                      "wer": wer(refs, decode(lm_weight, word_score))})
    best = min(table, key=lambda row: row["wer"])  # min keeps the first of equal rows
    return best["lm_weight"], best["word_score"], table
