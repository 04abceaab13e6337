"""Grid search of the LM weight and word score on a development set (never on test)."""
from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Mapping

from tqdm import tqdm

from asr.errors import AsrError
from asr.scoring import wer

log = logging.getLogger(__name__)

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
    if len({row["wer"] for row in table}) > 1:  # a flat table has no best value to lie beyond
        for name in ("lm_weight", "word_score"):
            warn_at_edge(name, best[name], [row[name] for row in table])
    return best["lm_weight"], best["word_score"], table


def warn_at_edge(name: str, chosen: float, grid: Iterable[float]) -> bool:
    """Warn (and return True) when a tuned value is the smallest or largest of a grid of several:
    the best value may lie beyond it."""
    values = sorted(set(float(v) for v in grid))
    if len(values) < 2 or float(chosen) not in (values[0], values[-1]):
        return False
    log.warning("tuned %s = %g is at the edge of its grid (%g to %g): the best value may lie beyond; "
                "widen %s_grid in the config", name, chosen, values[0], values[-1], name)
    return True
