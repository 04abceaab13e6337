"""The three pipelines behind one interface: train(...) leaves a model dir, load(...) reads it back.

A model directory holds everything needed to transcribe (config, weights, units, lexicon, LM),
with paths relative to itself; `model.yaml` names the pipeline that reads it.
"""
from __future__ import annotations

import importlib
from pathlib import Path

import yaml

from asr.errors import AsrError

PIPELINES = ("classic", "ctc", "hybrid")
MODEL_FILE = "model.yaml"


def pipeline_module(name: str):
    if name not in PIPELINES:
        raise AsrError(f"unknown pipeline {name!r}; choose one of {', '.join(PIPELINES)}")
    return importlib.import_module(f"asr.pipelines.{name}")


def read_model_info(model_dir: str | Path) -> dict:
    """model.yaml of a model dir, checked enough to name the pipeline."""
    path = Path(model_dir) / MODEL_FILE
    if not Path(model_dir).is_dir():
        raise AsrError(f"{model_dir}: no such model directory")
    if not path.is_file():
        raise AsrError(f"{model_dir}: not a model directory (no {MODEL_FILE}; was training finished?)")
    try:
        info = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise AsrError(f"{path}: unreadable ({type(e).__name__})") from None
    if not isinstance(info, dict) or info.get("pipeline") not in PIPELINES:
        raise AsrError(f"{path}: no valid 'pipeline' key (one of {', '.join(PIPELINES)})")
    return info


def load(model_dir: str | Path, device: str = "auto", threads: int | None = None):
    """The recogniser stored in `model_dir`: `.recognize(samples, nbest)`, `.configure(**options)`.

    `device` ("auto", "cpu", "cuda") and `threads` concern the neural pipelines; classic ignores them.
    """
    info = read_model_info(model_dir)
    return pipeline_module(info["pipeline"]).load(Path(model_dir), device=device, threads=threads)
