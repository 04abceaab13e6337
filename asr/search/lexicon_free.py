"""Lexicon-free CTC beam search over characters or SentencePiece pieces, with an optional word LM.

flashlight's LexiconFreeDecoder asks its LM to score every token. `WordLM` turns a word n-gram LM
into such a token LM: it spells words token by token and scores each word (KenLM, natural-log
weighted, plus the word score) when the next word boundary arrives, and the last word plus </s>
at the end. Any spelled word is allowed; words the LM does not know get KenLM's <unk> probability
plus `unk_score` (a penalty: otherwise an open-vocabulary LM whose <unk> is as likely as a word
would rather glue several words into one unknown word than pay for each).

Word boundaries: with a boundary token (characters with "|"), the token separates words; with a
boundary prefix (SentencePiece's "▁"), a piece starting with it begins a new word.
"""
from __future__ import annotations

from pathlib import Path

import kenlm
import numpy as np
from flashlight.lib.text.decoder import (LM, CriterionType, LexiconFreeDecoder,
                                         LexiconFreeDecoderOptions, LMState)

from asr.errors import AsrError
from asr.kenlm_open import open_kenlm
from asr.search.frames import check_scores, frame_posteriors, mean_posterior
from asr.search.hypothesis import Hypothesis, Word
from asr.search.lexicon_search import token_index
from asr.search.options import LN10, SearchOptions


class WordUnits:
    """How tokens make words: a boundary token ("|") or a boundary prefix ("▁")."""

    def __init__(self, tokens: list[str], blank: str, word_boundary: str):
        self.tokens = tokens
        self.blank_id = tokens.index(blank)
        self.boundary = word_boundary
        # Prefix mode when pieces carry the boundary as a prefix; a lone "▁" piece then starts an
        # empty word (SentencePiece emits it before pieces that cannot carry the prefix).
        self.prefix_mode = any(t != word_boundary and t.startswith(word_boundary) for t in tokens)
        self.boundary_id = (tokens.index(word_boundary)
                            if not self.prefix_mode and word_boundary in tokens else None)
        if not self.prefix_mode and self.boundary_id is None:
            raise AsrError(f"search: word boundary {word_boundary!r} is neither a token nor a token prefix")
        self.starts_word = [self.prefix_mode and t.startswith(word_boundary) for t in tokens]
        self.text = [t[len(word_boundary):] if s else t for t, s in zip(tokens, self.starts_word)]

    def words(self, token_ids: list[int]) -> list[tuple[str, list[int]]]:
        """Split a collapsed CTC token sequence (no blanks) into words: (word, positions) pairs.

        Positions index `token_ids`, so callers can map them back to frames.
        """
        words: list[tuple[str, list[int]]] = []
        text, positions = "", []
        for i, tok in enumerate(token_ids):
            if tok == self.boundary_id or self.starts_word[tok]:
                if text:
                    words.append((text, positions))
                text, positions = "", []
            if tok != self.boundary_id:
                text += self.text[tok]
                positions.append(i)
        if text:
            words.append((text, positions))
        return words


class WordLM(LM):
    """A token-level LM for flashlight built from a word n-gram LM (or none: word score only).

    State info per flashlight LMState: (KenLM state, the word spelled so far). flashlight caches a
    child state per (state, token), so each score is computed once per utterance.
    """

    def __init__(self, units: WordUnits, model: kenlm.Model | None, lm_weight: float, word_score: float,
                 unk_score: float):
        LM.__init__(self)
        self.units = units
        self.model = model
        self.weight = lm_weight * LN10  # KenLM scores are log10
        self.word_score = word_score
        self.unk_score = unk_score
        self.info: dict[LMState, tuple[kenlm.State | None, str, float]] = {}

    def _word(self, ken_state, word: str):
        """(next KenLM state, weighted score) for completing `word` after `ken_state`."""
        if self.model is None:
            return None, self.word_score
        out = kenlm.State()
        score = self.weight * self.model.BaseScore(ken_state, word, out) + self.word_score
        return out, score if word in self.model else score + self.unk_score

    def start(self, start_with_nothing: bool) -> LMState:
        self.info = {}  # a new utterance: forget the previous one's states
        state = LMState()
        ken_state = None
        if self.model is not None:
            ken_state = kenlm.State()
            if start_with_nothing:
                self.model.NullContextWrite(ken_state)
            else:
                self.model.BeginSentenceWrite(ken_state)
        self.info[state] = (ken_state, "", 0.0)
        return state

    def score(self, state: LMState, token: int):
        child = state.child(token)
        cached = self.info.get(child)
        if cached is not None:
            return child, cached[2]
        ken_state, partial, _ = self.info[state]
        score = 0.0
        if token == self.units.boundary_id or self.units.starts_word[token]:
            if partial:
                ken_state, score = self._word(ken_state, partial)
            partial = ""
        if token != self.units.boundary_id:
            partial += self.units.text[token]
        self.info[child] = (ken_state, partial, score)
        return child, score

    def finish(self, state: LMState):
        ken_state, partial, _ = self.info[state]
        score = 0.0
        if partial:
            ken_state, score = self._word(ken_state, partial)
        if self.model is not None:
            score += self.weight * self.model.BaseScore(ken_state, "</s>", kenlm.State())
        return state, score


def load_kenlm(lm_path: str | Path | None) -> kenlm.Model | None:
    if lm_path is None:
        return None
    return open_kenlm(lm_path, kenlm.Model)


class LexiconFreeSearch:
    """CTC beam search over characters or pieces; words come from the boundary token/prefix."""

    def __init__(self, tokens: list[str], blank: str, word_boundary: str, lm_path: str | Path | None,
                 options: SearchOptions | None = None):
        self.tokens = list(tokens)
        self.options = options or SearchOptions()
        self.blank_id = token_index(self.tokens, blank)[blank]
        self.units = WordUnits(self.tokens, blank, word_boundary)
        self.kenlm = load_kenlm(lm_path)
        self.set_options(self.options)

    def set_options(self, options: SearchOptions) -> None:
        """Decode later calls with these options (the KenLM model is loaded once, in __init__)."""
        self.options = o = options
        self.lm = WordLM(self.units, self.kenlm, o.lm_weight, o.word_score, o.unk_score)
        flashlight_options = LexiconFreeDecoderOptions(
            beam_size=o.beam_size,
            beam_size_token=o.tokens_per_frame(len(self.tokens)),
            beam_threshold=o.beam_threshold,
            lm_weight=1.0,  # WordLM already weights its scores (and adds the word score)
            # With a boundary token the silence score rewards its frames; without one flashlight's
            # silence token is the blank, and a bonus per blank frame would only distort scores.
            sil_score=o.sil_score if self.units.boundary_id is not None else 0.0,
            log_add=False,
            criterion_type=CriterionType.CTC,
        )
        # The "silence" token is the boundary token when there is one, else the blank.
        sil = self.units.boundary_id if self.units.boundary_id is not None else self.blank_id
        self.decoder = LexiconFreeDecoder(flashlight_options, self.lm, sil, self.blank_id, [])

    def search(self, scores: np.ndarray, frame_seconds: float) -> list[Hypothesis]:
        """n-best distinct word sequences, best first, with word times and confidences."""
        scores = check_scores(scores, len(self.tokens))
        num_frames = scores.shape[0]
        if num_frames == 0:
            return [Hypothesis([], 0.0)]
        results = self.decoder.decode(scores.ctypes.data, num_frames, len(self.tokens))
        posteriors = frame_posteriors(scores)
        hypotheses, seen = [], set()
        for result in sorted(results, key=lambda r: -r.score):
            path = list(result.tokens)[1:num_frames + 1]  # entry t + 1 is frame t (see lexicon_search)
            words = ctc_words(path, self.blank_id, self.units, posteriors, frame_seconds)
            key = tuple(w.word for w in words)
            if key in seen:
                continue
            seen.add(key)
            hypotheses.append(Hypothesis(words, float(result.score)))
            if len(hypotheses) == self.options.nbest:
                break
        return hypotheses or [Hypothesis([], float("-inf"))]


def ctc_words(path: list[int], blank_id: int, units: WordUnits, posteriors: np.ndarray,
              frame_seconds: float) -> list[Word]:
    """Words with times and confidences from a frame-level CTC token path.

    A word spans from the first frame of its first token to the last frame of its last token
    (repeats included); its confidence is the mean posterior of its tokens over those frames.
    """
    # Collapse the path into emitted tokens, remembering each one's frames.
    emitted: list[int] = []
    emitted_frames: list[list[int]] = []
    previous = blank_id
    for t, tok in enumerate(path):
        if tok != blank_id:
            if tok != previous:
                emitted.append(tok)
                emitted_frames.append([])
            emitted_frames[-1].append(t)
        previous = tok
    words = []
    for text, positions in units.words(emitted):
        frames = [f for p in positions for f in emitted_frames[p]]
        confidence = mean_posterior(posteriors, frames, [path[f] for f in frames])
        words.append(Word(text, frames[0] * frame_seconds, (frames[-1] + 1) * frame_seconds, confidence))
    return words
