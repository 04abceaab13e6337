"""Corpus preparation and download: real corpora as Kaldi data dirs.

`prepare(corpus, src, out)` reads a corpus in its upstream layout (../shared/data/README.md) and
writes OUT/train, OUT/test and, where made, OUT/dev (and LibriSpeech's dev_other/test_other);
wav.scp holds absolute audio paths, utterance ids start with the speaker id, text is normalised
by asr.corpora.text_norm. `download(corpus, dest)` fetches corpora with a public archive.
Each corpus module has `load(src) -> {split: DataDir}`; this module writes and validates.
A user's own audio and transcripts (a folder of audio + .txt, or a CSV/TSV) become one data
dir with asr.corpora.folder.prepare_folder (`asr prepare folder SRC OUT`).
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path

from asr.corpora.download import DOWNLOADABLE, download
from asr.errors import AsrError

CORPORA = ("yesno", "an4", "fsdd", "kathleen", "librispeech")

__all__ = ["CORPORA", "DOWNLOADABLE", "download", "load", "prepare"]


def corpus_module(corpus: str):
    if corpus not in CORPORA:
        raise AsrError(f"unknown corpus {corpus!r}; known: {', '.join(CORPORA)}")
    return importlib.import_module(f"asr.corpora.{corpus}")


def load(corpus: str, src: str | os.PathLike):
    """The corpus as {split name: DataDir}, nothing written."""
    src = Path(src)
    if not src.is_dir():
        raise AsrError(f"{src}: {corpus} source directory does not exist")
    return corpus_module(corpus).load(src)


def prepare(corpus: str, src: str | os.PathLike, out: str | os.PathLike) -> dict[str, Path]:
    """Write one Kaldi data dir per split under `out`; return {split: path}."""
    from asr.datadir import validate_datadir, write_datadir  # here: asr.datadir imports asr.corpora.text_norm

    splits = load(corpus, src)
    out = Path(out)
    written = {}
    for name, data in splits.items():
        if not len(data):
            continue
        path = out / name
        write_datadir(data, path)
        # Corpus modules check every file they add; this catches what they may have missed
        # (sorting, speaker ids) before a recipe trains on a broken data dir.
        problems = validate_datadir(path, check_audio=False)
        if problems:
            raise AsrError(f"prepared data dir is invalid: {problems[0]}")
        written[name] = path
    return written
