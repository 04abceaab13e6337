"""Greedy (best-path) CTC decoding of characters or pieces into words with times and confidences.

Times come from the CTC alignment itself: a word spans the output frames of its first to its
last token (a token's frames = its run of repeated argmax frames). Confidence = mean, over the
word's token runs, of the run's highest posterior.
"""
from __future__ import annotations

import numpy as np

from asr.errors import AsrError
from asr.search.hypothesis import Hypothesis, Word
from asr.units import SP_WORD_START, Units


def token_runs(log_probs: np.ndarray, blank: int = 0) -> list[tuple[int, int, int, float]]:
    """Best path as (token, first frame, last frame, best posterior) runs, blanks removed."""
    best = log_probs.argmax(axis=1)
    runs: list[tuple[int, int, int, float]] = []
    previous = blank
    for t, token in enumerate(best.tolist()):
        p = float(np.exp(log_probs[t, token]))
        if token != blank and token == previous:
            tok, start, _, conf = runs[-1]
            runs[-1] = (tok, start, t, max(conf, p))
        elif token != blank:
            runs.append((token, t, t, p))
        previous = token
    return runs


def greedy_hypothesis(log_probs: np.ndarray, units: Units, frame_seconds: float) -> Hypothesis:
    """The best-path transcript of a (frames, units) matrix for character or piece units."""
    if units.kind not in ("chars", "sentencepiece"):
        raise AsrError(f"greedy word decoding needs character or piece units, not {units.kind}")
    words: list[Word] = []
    spelling, runs_of_word = "", []

    def finish():
        nonlocal spelling, runs_of_word
        if spelling:
            start, end = runs_of_word[0][1], runs_of_word[-1][2] + 1
            conf = float(np.mean([r[3] for r in runs_of_word]))
            words.append(Word(spelling, start * frame_seconds, end * frame_seconds, conf))
        spelling, runs_of_word = "", []

    for run in token_runs(log_probs, units.blank):
        token = units.tokens[run[0]]
        if token == units.word_boundary and units.kind == "chars":
            finish()
            continue
        if units.kind == "sentencepiece" and token.startswith(SP_WORD_START):
            finish()
            token = token[len(SP_WORD_START):]
        if token:
            spelling += token
            runs_of_word.append(run)
    finish()
    score = float(log_probs.max(axis=1).sum())
    return Hypothesis(words, score)
