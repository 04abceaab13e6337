"""`build_lm`: text files -> ARPA (lmplz or our estimator) -> KenLM binary beside it."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterable

from asr.errors import AsrError
from asr.lm import kenlm_tools
from asr.lm.arpa import write_arpa
from asr.lm.kneser_ney import estimate
from asr.lm.text import read_datadir_sentences, read_sentences, read_vocab, restrict_to_vocab

log = logging.getLogger(__name__)

TOOLS = ("auto", "lmplz", "builtin")
MIN_ORDER = 2  # kenlm.Model and flashlight's KenLM refuse unigram models


def build_lm(text_files: Iterable[str | os.PathLike], order: int, out_arpa: str | os.PathLike,
             tool: str = "auto", vocab: str | os.PathLike | Iterable[str] | None = None,
             data_dirs: Iterable[str | os.PathLike] = ()) -> Path:
    """Estimate an interpolated modified Kneser-Ney n-gram LM and write it as ARPA.

    tool: "lmplz" (KenLM's, must be installed), "builtin" (ours, asr.lm.kneser_ney), or "auto" (lmplz
    when found, else ours). Both give the same model (tests/test_lm.py checks it).
    vocab: a lexicon or word list file (first field per line) or the words themselves; words of
    the text outside it are mapped to <unk> before counting. An error if none is shared.
    A KenLM binary (`X.bin` for `X.arpa`) is written beside the ARPA when build_binary is found;
    a stale one is removed otherwise. Returns the ARPA path.
    data_dirs: Kaldi data dirs whose `text` transcripts (ids stripped) are added to the text files'.
    """
    if tool not in TOOLS:
        raise AsrError(f"unknown LM tool {tool!r} (choose from {', '.join(TOOLS)})")
    if order < MIN_ORDER:
        raise AsrError(f"n-gram order must be at least {MIN_ORDER} (KenLM cannot load unigram models), got {order}")
    text_files = [Path(p) for p in text_files]
    data_dirs = [Path(d) for d in data_dirs]
    if not text_files and not data_dirs:
        raise AsrError("no LM text files or data dirs given")
    out_arpa = Path(out_arpa)
    source = ", ".join(str(p) for p in text_files + [d / "text" for d in data_dirs])

    sentences = read_sentences(text_files) + read_datadir_sentences(data_dirs)
    if not sentences:
        raise AsrError(f"{source}: no sentences (every line is empty)")
    if vocab is not None:
        words = read_vocab(vocab)
        vocab_name = str(vocab) if isinstance(vocab, (str, os.PathLike)) else "the given words"
        if not words:
            raise AsrError(f"{vocab_name}: empty vocabulary")
        sentences, mapped = restrict_to_vocab(sentences, words, f"{source} vs {vocab_name}")
        log.info("%d words outside the vocabulary mapped to <unk>", mapped)

    use_lmplz = tool == "lmplz" or (tool == "auto" and kenlm_tools.find_tool("lmplz") is not None)
    if use_lmplz:
        kenlm_tools.run_lmplz(sentences, order, out_arpa)
    else:
        write_arpa(out_arpa, estimate(sentences, order).ngrams)
    log.info("%s: %d-gram LM from %d sentences (%s)", out_arpa, order, len(sentences),
             "lmplz" if use_lmplz else "builtin estimator")

    binary = binary_path(out_arpa)
    if kenlm_tools.build_binary(out_arpa, binary) is None and binary.exists():
        binary.unlink()  # left from an earlier build: it would no longer match the ARPA
    return out_arpa


def binary_path(arpa: str | os.PathLike) -> Path:
    """Where the KenLM binary of an ARPA file goes: lm.arpa -> lm.bin (else the name + .bin)."""
    arpa = Path(arpa)
    return arpa.with_suffix(".bin") if arpa.suffix == ".arpa" else arpa.with_name(arpa.name + ".bin")
