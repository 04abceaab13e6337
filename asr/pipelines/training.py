"""What every pipeline's train() does around its own work: the experiment dir and the CPU threads.

An experiment dir is created only after the config and the data dirs have been checked, so a
rejected `asr train` leaves nothing behind. A model dir is complete exactly when it holds
model.yaml (written last, atomically): retraining into a finished dir removes model.yaml first,
so a run that fails half-way never leaves an old model.yaml beside new weights. A dir without
model.yaml is an unfinished training; rerunning the same command resumes from its checkpoints
(classic: the finished mono/tri stages; neural: the last epoch) when the config and data match.
"""
from __future__ import annotations

from pathlib import Path

from asr.errors import AsrError
from asr.pipelines import MODEL_FILE


def exp_dir_state(exp_dir: str | Path) -> str:
    """'new' (missing or empty), 'finished' (holds model.yaml) or 'unfinished' (anything else)."""
    exp_dir = _not_a_file(exp_dir)
    if not exp_dir.is_dir() or not any(exp_dir.iterdir()):
        return "new"
    return "finished" if (exp_dir / MODEL_FILE).is_file() else "unfinished"


def start_exp_dir(exp_dir: str | Path) -> Path:
    """Create the experiment dir (call once the config and data are checked); a finished model's
    model.yaml is removed, so the dir reads as unfinished until this training writes its own."""
    exp_dir = _not_a_file(exp_dir)
    exp_dir.mkdir(parents=True, exist_ok=True)
    (exp_dir / MODEL_FILE).unlink(missing_ok=True)
    return exp_dir


def _not_a_file(exp_dir: str | Path) -> Path:
    exp_dir = Path(exp_dir)
    if exp_dir.exists() and not exp_dir.is_dir():
        raise AsrError(f"{exp_dir}: exists and is not a directory")
    return exp_dir


def set_threads(threads: int | None) -> None:
    """CPU threads of torch and of numpy's BLAS for the rest of the process (None: leave them)."""
    if threads is None:
        return
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(limits=threads)
