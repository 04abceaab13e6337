"""The pipelines (classic, ctc, hybrid, dnnhmm) behind one interface: train(...) leaves a model dir, load(...) reads it back.

A model directory holds everything needed to transcribe (config, weights, units, lexicon, LM),
with paths relative to itself; `model.yaml` names the pipeline that reads it.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from asr.errors import AsrError
from asr.modeldir import MODEL_FILE, PIPELINES, read_model_info, verify_checksums  # noqa: F401 (re-exported)

CHECK_SECONDS = 1.0  # `check_model` decodes this much low-level noise to load every part of a model


def pipeline_module(name: str):
    if name not in PIPELINES:
        raise AsrError(f"unknown pipeline {name!r}; choose one of {', '.join(PIPELINES)}")
    return importlib.import_module(f"asr.pipelines.{name}")


HEADS = ("main", "aux")  # a model's recognisers: its own, and a multi-task model's second head


def load(model_dir: str | Path, device: str = "auto", threads: int | None = None, head: str = "main"):
    """The recogniser stored in `model_dir`: `.recognize(samples, nbest)`, `.configure(**options)`.

    `device` ("auto", "cpu", "cuda") and `threads` concern the neural pipelines; classic ignores them.
    `head` "aux": a multi-task hybrid model's second head (characters, searched as ctc searches).
    """
    if head not in HEADS:
        raise AsrError(f"head must be one of {', '.join(HEADS)}, not {head!r}")
    if head == "aux":  # only a hybrid model has one; any other model dir is refused there
        from asr.pipelines.hybrid import load_aux

        return load_aux(Path(model_dir), device=device, threads=threads)
    info = read_model_info(model_dir)
    return pipeline_module(info.pipeline).load(Path(model_dir), device=device, threads=threads)


def check_model(model_dir: str | Path) -> int:
    """`asr info --check`: verify the checksums recorded at training, then load every part of the
    model (weights, units, lexicon, LM, search) by decoding a second of quiet noise. Returns how many
    files had checksums (0: none recorded). A damaged model is an AsrError naming the file."""
    import numpy as np

    checked = verify_checksums(model_dir)
    recognizer = load(model_dir, device="cpu")
    noise = np.random.default_rng(0).normal(0.0, 1e-3, int(CHECK_SECONDS * recognizer.sample_rate))
    recognizer.recognize(noise.astype(np.float32), nbest=1)
    return checked
