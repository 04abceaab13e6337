"""Greedy (best token per frame) CTC decoding."""
from __future__ import annotations

import numpy as np

from asr.search.frames import check_scores, frame_posteriors
from asr.search.hypothesis import Hypothesis
from asr.search.lexicon_free import WordUnits, ctc_words
from asr.search.lexicon_search import token_index
from asr.search.options import SearchOptions
from asr.units import ctc_collapse


def greedy_ctc(scores: np.ndarray, tokens: list[str], blank: str) -> list[str]:
    """The best token of every frame, repeats merged, blanks removed."""
    blank_id = token_index(list(tokens), blank)[blank]
    path = check_scores(scores, len(tokens)).argmax(axis=1)
    return [tokens[tok] for tok in ctc_collapse(path.tolist(), blank_id)]


def greedy_hypothesis(scores: np.ndarray, tokens: list[str], blank: str, word_boundary: str,
                      frame_seconds: float) -> Hypothesis:
    """The greedy path as words (boundary token "|" or prefix "▁") with times and confidences.

    The score is the path's total log score; times and confidences follow ctc_words.
    """
    tokens = list(tokens)
    blank_id = token_index(tokens, blank)[blank]
    scores = check_scores(scores, len(tokens))
    path = scores.argmax(axis=1)
    units = WordUnits(tokens, blank, word_boundary)
    words = ctc_words([int(t) for t in path], blank_id, units, frame_posteriors(scores), frame_seconds)
    return Hypothesis(words, float(scores[np.arange(len(path)), path].sum()))


class GreedySearch:
    """Greedy decoding behind the searches' interface (`search`, `set_options`): one hypothesis,
    whatever the options say (no beam, no LM)."""

    def __init__(self, tokens: list[str], blank: str, word_boundary: str, options: SearchOptions | None = None):
        self.tokens, self.blank, self.word_boundary = list(tokens), blank, word_boundary
        self.options = options or SearchOptions()

    def set_options(self, options: SearchOptions) -> None:
        self.options = options

    def search(self, scores: np.ndarray, frame_seconds: float) -> list[Hypothesis]:
        return [greedy_hypothesis(scores, self.tokens, self.blank, self.word_boundary, frame_seconds)]
