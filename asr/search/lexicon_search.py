"""Lexicon-constrained beam search with a word n-gram LM (flashlight-text LexiconDecoder, CTC mode).

Used by the classic pipeline (tokens = GMM pdfs, blank = silence pdf) and the hybrid pipeline
(tokens = phones + CTC blank); see the package docstring for the model it searches.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from flashlight.lib.text.decoder import (CriterionType, LexiconDecoder, LexiconDecoderOptions,
                                         SmearingMode, Trie, ZeroLM)
from flashlight.lib.text.decoder.kenlm import KenLM
from flashlight.lib.text.dictionary import Dictionary

from asr.errors import AsrError
from asr.kenlm_open import open_kenlm
from asr.search.frames import check_scores, frame_posteriors, mean_posterior
from asr.search.hypothesis import Hypothesis, Word
from asr.search.options import LN10, SearchOptions
from asr.units import ctc_collapse

MAX_HOMOPHONES = 6  # flashlight's Trie keeps at most six words per spelling (kTrieMaxLabel)
UNK = "<unk>"  # KenLM's unknown word: lexicon words missing from the LM are scored as this
NO_WORD = -1  # flashlight's label for "no word ends at this frame"


def token_index(tokens: list[str], blank: str) -> dict[str, int]:
    """Token -> column; checks that tokens are distinct and that blank is one of them."""
    index = {t: i for i, t in enumerate(tokens)}
    if len(index) != len(tokens):
        raise AsrError("search: the token list has duplicates")
    if blank not in index:
        raise AsrError(f"search: blank token {blank!r} is not in the token list")
    return index


def load_word_lm(lm_path: str | Path | None, word_dict: Dictionary):
    """flashlight's KenLM over `word_dict` (ARPA or KenLM binary), or ZeroLM (no LM) for None."""
    if lm_path is None:
        return ZeroLM()
    return open_kenlm(lm_path, lambda path: KenLM(path, word_dict))


class LexiconSearch:
    """Beam search over a lexicon prefix tree of token spellings, with a word LM at word ends.

    `spellings[word]` lists the token sequences of the word's pronunciation variants. Scores
    passed to `.search` are (frames, tokens) log-probabilities or log-likelihoods in `tokens`
    order. Not thread-safe: one instance decodes one utterance at a time. The LM and the prefix
    tree are built once; `set_options` changes weights and beams without rebuilding them.
    """

    def __init__(self, tokens: list[str], blank: str, spellings: dict[str, list[list[str]]],
                 lm_path: str | Path | None, options: SearchOptions | None = None, silence: str | None = None):
        self.tokens = list(tokens)
        self.blank = blank
        self.options = options or SearchOptions()
        index = token_index(self.tokens, blank)
        self.blank_id = index[blank]
        # What may stand between words besides blanks: a word-boundary token (a character model's
        # "|"); by default only the blank.
        if silence is not None and silence not in index:
            raise AsrError(f"search: silence token {silence!r} is not in the token list")
        self.silence_id = index[silence] if silence is not None else self.blank_id
        if not spellings:
            raise AsrError("search: the lexicon is empty")
        self.words = [w for w in spellings if w != UNK]
        self.word_dict = Dictionary(self.words + [UNK])
        self.lm = load_word_lm(lm_path, self.word_dict)
        self._check_homophones(spellings)
        self._spellings, self._index = spellings, index
        self.trie = self._build_trie()
        self.decoder = self._build_decoder()

    def set_options(self, options: SearchOptions) -> None:
        """Decode later calls with these options: a new decoder over the same LM and prefix tree
        (the tree is rebuilt only when `last_token_loop` changes)."""
        rebuild_trie = options.last_token_loop != self.options.last_token_loop
        self.options = options
        if rebuild_trie:
            self.trie = self._build_trie()
        self.decoder = self._build_decoder()

    def _build_trie(self) -> Trie:
        spellings, index = self._spellings, self._index
        self.spelling_ids: list[set[tuple[int, ...]]] = [set() for _ in self.words]  # token ids, as spelled
        trie = Trie(len(self.tokens), self.blank_id)
        start = self.lm.start(False)
        for label, word in enumerate(self.words):
            if not spellings[word]:
                raise AsrError(f"search: word {word!r} has no spelling")
            # Unigram score (after <s>) for smearing: lets the beam see the LM before the word ends.
            unigram = self.lm.score(start, label)[1]
            variants = set()
            for spelling in spellings[word]:
                unknown = [t for t in spelling if t not in index]
                if unknown or not spelling:
                    raise AsrError(f"search: word {word!r} is spelled with unknown token(s) {unknown}"
                                   if unknown else f"search: word {word!r} has an empty spelling")
                if self.blank in spelling or self.tokens[self.silence_id] in spelling:
                    raise AsrError(f"search: word {word!r} is spelled with the blank or silence token")
                ids = tuple(index[t] for t in spelling)
                variants.add(ids)
                self.spelling_ids[label].add(ids)
                if self.options.last_token_loop:
                    # flashlight emits a word on the first frame of its last token and leaves the
                    # word, so that token lasts one frame. The copy with the last token doubled
                    # lets it repeat: the word is then emitted on its last repeat.
                    variants.add(ids + ids[-1:])
            for ids in sorted(variants):
                trie.insert(list(ids), label, unigram)
        trie.smear(SmearingMode.MAX)
        return trie

    def _check_homophones(self, spellings: dict[str, list[list[str]]]) -> None:
        sharing: dict[tuple[str, ...], set[str]] = {}
        for word in self.words:
            for spelling in spellings[word]:
                sharing.setdefault(tuple(spelling), set()).add(word)
        for spelling, words in sharing.items():
            if len(words) > MAX_HOMOPHONES:
                raise AsrError(f"search: {len(words)} words share the spelling {' '.join(spelling)} "
                               f"({', '.join(sorted(words))}); at most {MAX_HOMOPHONES} can")

    def _build_decoder(self) -> LexiconDecoder:
        o = self.options
        flashlight_options = LexiconDecoderOptions(
            beam_size=o.beam_size,
            beam_size_token=o.tokens_per_frame(len(self.tokens)),
            beam_threshold=o.beam_threshold,
            lm_weight=o.lm_weight * LN10,  # flashlight's KenLM returns log10 probabilities
            word_score=o.word_score,
            unk_score=float("-inf"),  # only lexicon words are ever hypothesised
            sil_score=o.sil_score,
            log_add=False,  # Viterbi: the best path per state, not the sum over paths
            criterion_type=CriterionType.CTC,
        )
        unk_label = self.word_dict.get_index(UNK)
        # Between words the search emits blank frames, or silence-token frames when there is one.
        return LexiconDecoder(flashlight_options, self.trie, self.lm, self.silence_id, self.blank_id,
                              unk_label, [], False)

    def search(self, scores: np.ndarray, frame_seconds: float) -> list[Hypothesis]:
        """The n-best distinct word sequences (best first) with word times and confidences.

        A word starts at the first frame after the previous word that is neither blank nor silence
        and ends after the last frame of its last token. Its confidence is the mean frame posterior
        (softmax over tokens, see frames.frame_posteriors) of the tokens aligned to those frames.
        """
        scores = check_scores(scores, len(self.tokens))
        num_frames = scores.shape[0]
        if num_frames == 0:
            return [Hypothesis([], 0.0)]
        results = self.decoder.decode(scores.ctypes.data, num_frames, len(self.tokens))
        paths = []
        for result in results:
            # tokens/words hold one entry per frame plus the start state (index 0) and the end
            # state (index T + 1): frame t is entry t + 1.
            frame_tokens = list(result.tokens)[1:num_frames + 1]
            frame_words = list(result.words)[1:num_frames + 1]
            correction = self._end_words_properly(frame_tokens, frame_words, scores)
            paths.append((float(result.score) + correction, frame_tokens, frame_words))
        posteriors = frame_posteriors(scores)
        hypotheses: list[Hypothesis] = []
        seen: set[tuple[int, ...]] = set()
        for score, frame_tokens, frame_words in sorted(paths, key=lambda p: -p[0]):
            key = tuple(w for w in frame_words if w != NO_WORD)
            if key in seen:
                continue
            seen.add(key)
            hypotheses.append(Hypothesis(self._words(frame_tokens, frame_words, posteriors, frame_seconds), score))
            if len(hypotheses) == self.options.nbest:
                break
        return hypotheses or [Hypothesis([], float("-inf"))]

    def _end_words_properly(self, frame_tokens: list[int], frame_words: list[int], scores: np.ndarray) -> float:
        """Rewrite, in place, words that a doubled last-token spelling ended with "x blank+ x" so
        that they end on the first x run and the last x frame becomes blank; returns the score change.

        Such a path spells the word with one x too many (CTC reads "x blank x" as two x's), and an
        HMM path cannot leave its last state for silence and come back. Rewritten, the path is a
        proper one for the same words, so ranking by the changed score prefers, e.g., "ERASE C"
        (..S | S IY) over "ERASE E" (..S blank S | IY) as the acoustics say.
        """
        if not self.options.last_token_loop:
            return 0.0
        change = 0.0
        word_start = 0  # first frame after the previous word
        for t, label in enumerate(frame_words):
            if label == NO_WORD:
                continue
            token = frame_tokens[t]
            run_end = t - 1  # the frame before this one that is not blank
            while run_end >= word_start and frame_tokens[run_end] == self.blank_id:
                run_end -= 1
            if (run_end < t - 1 and run_end >= word_start and frame_tokens[run_end] == token
                    and ctc_collapse(frame_tokens[word_start:t + 1], self.blank_id) not in self.spelling_ids[label]):
                frame_words[t], frame_words[run_end] = NO_WORD, label
                frame_tokens[t] = self.blank_id
                # The frames after the first run are now silence between words: they earn sil_score.
                change += float(scores[t, self.blank_id] - scores[t, token]) + self.options.sil_score * (t - run_end)
            word_start = t + 1
        return change

    def _words(self, frame_tokens: list[int], frame_words: list[int], posteriors: np.ndarray,
               frame_seconds: float) -> list[Word]:
        words = []
        word_start = 0  # first frame after the previous word
        for t, label in enumerate(frame_words):
            if label == NO_WORD:
                continue
            frames = [f for f in range(word_start, t + 1) if frame_tokens[f] not in (self.blank_id, self.silence_id)]
            start = frames[0] if frames else t
            confidence = mean_posterior(posteriors, frames, [frame_tokens[f] for f in frames])
            words.append(Word(self.word_dict.get_entry(label), start * frame_seconds,
                              (t + 1) * frame_seconds, confidence))
            word_start = t + 1
        return words
