"""Weights and training state on disk, never unpickling arbitrary objects.

- model weights: safetensors (`save_weights` / `load_weights`);
- training state (model, optimiser, scheduler, RNG, epoch, history): `torch.save` of plain
  tensors, numbers and strings, read back with `torch.load(weights_only=True)`.
Every file is written atomically, so a kill during a save leaves the previous checkpoint.
"""
from __future__ import annotations

from pathlib import Path

import torch

from asr.errors import AsrError
from asr.fileio import atomic_write


def save_weights(state_dict: dict[str, torch.Tensor], path: Path) -> None:
    from safetensors.torch import save

    data = save({k: v.detach().cpu().contiguous() for k, v in state_dict.items()})
    with atomic_write(path, "wb") as f:
        f.write(data)


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    if not path.is_file():
        raise AsrError(f"{path}: missing weights file")
    try:
        return load(path.read_bytes())
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise AsrError(f"{path}: corrupt or truncated weights file ({_first_line(e)})") from None


def load_into(model: torch.nn.Module, path: Path) -> None:
    """Load safetensors weights into `model`; a mismatch is an AsrError naming the file."""
    state = load_weights(path)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise AsrError(f"{path}: weights do not fit the model in model.yaml ({_first_line(e)})") from None


def save_state(state: dict, path: Path) -> None:
    with atomic_write(path, "wb") as f:
        torch.save(state, f)


def load_state(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types for a bad file; all mean unreadable
        raise AsrError(f"{path}: unreadable training checkpoint ({type(e).__name__}); "
                       "delete it to restart training") from None


def average_weights(paths: list[Path]) -> dict[str, torch.Tensor]:
    """Element-wise mean of several checkpoints' weights (integer buffers taken from the last)."""
    states = [load_weights(p) for p in paths]
    out = {}
    for key, last in states[-1].items():
        if last.is_floating_point():
            out[key] = sum(s[key] for s in states) / len(states)
        else:
            out[key] = last
    return out


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__
