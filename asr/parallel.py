"""Work split over forked processes: decoding a data dir by speaker (Kaldi's split / decode /
merge), a tuning grid by point, HMM training's alignments by utterance. Results are those of one
process, in the same order.

Fork, so that each worker starts with the parent's loaded model, scores and search instead of
loading them again; the function and its items are reached through a module global that the
workers inherit (nothing is pickled but the results). Linux and macOS (fork) only; elsewhere, and
with `jobs` 1, everything runs in this process.
"""
from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from asr.errors import AsrError

_work: tuple[Callable, Sequence] | None = None  # (function, items) for the forked workers


def map_forked(function: Callable, items: Sequence, jobs: int) -> list:
    """[function(item) for item in items], over up to `jobs` forked processes. A worker that dies
    (killed, out of memory) is an AsrError, not a hang."""
    global _work
    jobs = min(jobs, len(items))
    if jobs <= 1 or sys.platform == "win32":
        return [function(item) for item in items]
    _work = (function, items)
    try:
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(_call, range(len(items))))
    except BrokenProcessPool:
        raise AsrError(f"a worker process died (killed or out of memory?); rerun with fewer jobs than {jobs}") from None
    finally:
        _work = None


def _call(index: int):
    function, items = _work
    return function(items[index])
