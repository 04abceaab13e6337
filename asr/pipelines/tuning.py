"""Search settings tuned on a development set (never on test): staged grid searches scored by WER.

The stages run in order, each at the best values of the stages before it: first the silence score
alone (when a grid is given for it), then LM weight x word score, then the rescoring weight. Each stage decodes the dev set at
every point of its grid and keeps the point with the lowest WER (ties: the earliest point).
"""
from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Mapping

from tqdm import tqdm

from asr.errors import AsrError
from asr.scoring import wer

log = logging.getLogger(__name__)

# Tuned in this order; the last stage, the weight of a second-pass rescorer (joint CTC/attention),
# only for models that have one.
STAGES = (("sil_score",), ("lm_weight", "word_score"), ("rescore_weight",))
GRID_SUFFIX = "_grid"  # a pipeline config's grid keys: lm_weight_grid, word_score_grid, sil_score_grid


def grids_from_config(config: Mapping) -> dict[str, list[float]]:
    """{option: values} of the `<option>_grid` keys a pipeline config has (and sets)."""
    return {name: list(config[name + GRID_SUFFIX]) for stage in STAGES for name in stage
            if config.get(name + GRID_SUFFIX)}


def tune(decode: Callable[[dict], dict[str, str]], refs: dict[str, str], grids: Mapping[str, Iterable[float]],
         current: Mapping[str, float], map_points: Callable | None = None) -> tuple[dict[str, float], list[dict], float]:
    """The best value of every option of the stages `grids` varies, the table of every point
    tried, and the dev WER at the chosen values.

    `decode(options)` returns {utt: hypothesis text} for the dev set decoded with `options` (a
    {name: value} dict naming every option of the stage); `current` gives the values of options
    a stage needs but `grids` does not vary. Table rows: the stage's options and "wer".
    `map_points(function, points)` evaluates a stage's points (default: one after the other, with
    a progress bar; asr.parallel.map_forked spreads them over processes).
    """
    map_points = map_points or _each
    unknown = set(grids) - {name for stage in STAGES for name in stage}
    if unknown:
        raise AsrError(f"tuning: no grid search for {', '.join(sorted(unknown))}")
    if not refs:
        raise AsrError("tuning needs at least one dev utterance with a transcript")
    chosen = {k: float(v) for k, v in current.items()}
    table: list[dict] = []
    tuned: dict[str, float] = {}
    best_wer = float("nan")
    for stage in STAGES:
        if not any(name in grids for name in stage):
            continue
        axes = [[float(v) for v in grids.get(name, [chosen[name]])] for name in stage]
        points = [dict(zip(stage, values)) for values in itertools.product(*axes)]
        if not points:
            raise AsrError(f"tuning: the {' x '.join(stage)} grid is empty")
        wers = map_points(lambda point: wer(refs, decode({**chosen, **point})), points)
        rows = [{**point, "wer": w} for point, w in zip(points, wers)]
        best = min(rows, key=lambda row: row["wer"])  # min keeps the first of equal rows
        if len({row["wer"] for row in rows}) > 1:  # a flat table has no best value to lie beyond
            for name in stage:
                warn_at_edge(name, best[name], [row[name] for row in rows])
        chosen.update({name: best[name] for name in stage})
        tuned.update({name: best[name] for name in stage})
        best_wer = best["wer"]
        table.extend(rows)
    return tuned, table, best_wer


def _each(function: Callable, points: list) -> list:
    return [function(p) for p in tqdm(points, desc="tune", unit="point")]


def warn_at_edge(name: str, chosen: float, grid: Iterable[float]) -> bool:
    """Warn (and return True) when a tuned value is the smallest or largest of a grid of several:
    the best value may lie beyond it."""
    values = sorted(set(float(v) for v in grid))
    if len(values) < 2 or float(chosen) not in (values[0], values[-1]):
        return False
    log.warning("tuned %s = %g is at the edge of its grid (%g to %g): the best value may lie beyond; "
                "widen %s%s in the config", name, chosen, values[0], values[-1], name, GRID_SUFFIX)
    return True
