"""Perplexity of a text under an ARPA or KenLM binary model, through the `kenlm` module."""
from __future__ import annotations

import os

from asr.errors import AsrError
from asr.kenlm_open import open_kenlm
from asr.lm.text import read_sentences


def load_kenlm(lm_path: str | os.PathLike):
    """kenlm.Model of an ARPA or binary file; AsrError naming the file when it cannot be read."""
    import kenlm

    return open_kenlm(lm_path, kenlm.Model)


def perplexity(lm_path: str | os.PathLike, text_file: str | os.PathLike) -> dict:
    """Perplexity of `text_file` (one sentence per line) under the LM at `lm_path`.

    Returns a dict:
      ppl          10^(-log10 p / (words + sentences)): every word and </s> scored, OOV words
                   with the LM's <unk> probability (KenLM's Model.perplexity convention)
      ppl_no_oov   the same over in-vocabulary words and </s> only (SRILM's `ppl` convention)
      oov_rate     OOV words / words
      sentences, words, oovs, log10_prob (total, OOVs included), log10_prob_no_oov
    """
    model = load_kenlm(lm_path)
    sentences = read_sentences([text_file])
    if not sentences:
        raise AsrError(f"{text_file}: no sentences (every line is empty)")
    total = oov_total = 0.0
    words = oovs = 0
    for sentence in sentences:
        # full_scores yields (log10 p, n-gram length, is OOV) per word, then one for </s>
        for log_prob, _, is_oov in model.full_scores(" ".join(sentence), bos=True, eos=True):
            total += log_prob
            if is_oov:
                oovs += 1
                oov_total += log_prob
        words += len(sentence)
    scored = words + len(sentences)
    return {
        "ppl": 10.0 ** (-total / scored),
        "ppl_no_oov": 10.0 ** (-(total - oov_total) / (scored - oovs)),
        "oov_rate": oovs / words,
        "sentences": len(sentences),
        "words": words,
        "oovs": oovs,
        "log10_prob": total,
        "log10_prob_no_oov": total - oov_total,
    }
