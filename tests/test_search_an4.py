"""The search with AN4's real lexicon (etc/an4.dic), LM (etc/an4.lm) and test transcripts, on score
matrices drawn from a known alignment: the search must give back the words and their frames."""
from __future__ import annotations

import numpy as np
import pytest

from asr.lexicon import Lexicon
from asr.search import LexiconFreeSearch, LexiconSearch, SearchOptions

STATES = 3  # HMM states per phone
UTTS = 8  # AN4 test transcripts used


@pytest.fixture(scope="module")
def an4(data_root, tmp_path_factory):
    etc = data_root / "an4" / "etc"
    lines = (etc / "an4.lm").read_text().splitlines()
    lm = tmp_path_factory.mktemp("an4") / "an4.arpa"
    lm.write_text("\n".join(lines[lines.index("\\data\\"):]) + "\n")  # KenLM refuses the comment block
    transcripts = []
    for line in (etc / "an4_test.transcription").read_text().splitlines()[:UTTS]:
        transcripts.append([w for w in line[:line.rindex("(")].split() if w not in ("<s>", "</s>")])
    return Lexicon.read(etc / "an4.dic"), str(lm), transcripts


def draw(units_per_word: list[list[int]], num_tokens: int, rng, frames_per_unit: tuple[int, int],
         last_unit_loops: bool = True):
    """A path (blank = 0 between words), its word spans, and scores that clearly favour it."""
    path, spans = [0] * int(rng.integers(5, 15)), []
    for units in units_per_word:
        start = len(path)
        for i, unit in enumerate(units):
            if path[-1] == unit:
                path.append(0)  # CTC needs a blank between equal neighbours
            last = i == len(units) - 1
            path += [unit] * (1 if last and not last_unit_loops else int(rng.integers(*frames_per_unit)))
        spans.append((start, len(path)))
        path += [0] * int(rng.integers(1, 6))
    scores = rng.normal(-30.0, 2.0, (len(path), num_tokens))
    scores[np.arange(len(path)), path] += 15.0
    return path, spans, scores.astype(np.float32)


def same_words(hyp: list[str], ref: list[str], lexicon: Lexicon) -> bool:
    """Equal up to homophones (AN4 has O and OH, both OW: with a flat unigram LM they tie)."""
    return len(hyp) == len(ref) and all(h == r or set(lexicon.prons[h]) & set(lexicon.prons[r])
                                        for h, r in zip(hyp, ref))


def test_hmm_search_recovers_an4_words_and_frames(an4):
    lexicon, lm, transcripts = an4
    phones = sorted({p for prons in lexicon.prons.values() for pron in prons for p in pron})
    tokens = ["sil"] + [f"{p}_{s}" for p in phones for s in range(STATES)]
    spellings = {w: [[f"{p}_{s}" for p in pron for s in range(STATES)] for pron in prons]
                 for w, prons in lexicon.prons.items()}
    search = LexiconSearch(tokens, "sil", spellings, lm,
                           SearchOptions(beam_size=128, beam_threshold=100.0, lm_weight=10.0))
    rng = np.random.default_rng(0)
    for words in transcripts:
        units = [[tokens.index(t) for t in spellings[w][0]] for w in words]
        path, spans, scores = draw(units, len(tokens), rng, (1, 5))
        hyp = search.search(scores, 0.01)[0]
        assert same_words(hyp.text.split(), words, lexicon)
        assert [(round(w.start * 100), round(w.end * 100)) for w in hyp.words] == spans
        assert all(w.confidence > 0.9 for w in hyp.words)


def test_hybrid_and_ctc_searches_recover_an4_words(an4):
    lexicon, lm, transcripts = an4
    phones = ["<blank>"] + sorted({p for prons in lexicon.prons.values() for pron in prons for p in pron})
    chars = ["<blank>", "|"] + sorted({c for w in lexicon.prons for c in w})
    options = SearchOptions(beam_size=50, beam_size_token=10, beam_threshold=25.0, word_score=2.0,
                            last_token_loop=False)
    hybrid = LexiconSearch(phones, "<blank>", lexicon.spellings(), lm, options)
    ctc = LexiconFreeSearch(chars, "<blank>", "|", lm, options)
    rng = np.random.default_rng(1)
    for words in transcripts:
        units = [[phones.index(p) for p in lexicon.prons[w][0]] for w in words]
        _, spans, scores = draw(units, len(phones), rng, (1, 3), last_unit_loops=False)
        hyp = hybrid.search(scores, 0.04)[0]
        assert same_words(hyp.text.split(), words, lexicon)
        assert [(round(w.start / 0.04), round(w.end / 0.04)) for w in hyp.words] == spans
        units = [[chars.index(c) for c in "|".join(words)]]  # one "word" of characters and "|"
        _, _, scores = draw(units, len(chars), rng, (1, 3))
        assert ctc.search(scores, 0.04)[0].text == " ".join(words)
