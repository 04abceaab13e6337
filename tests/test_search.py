"""Search tests against independent references: an ARPA back-off LM evaluator written from the
ARPA format's definition, and exhaustive enumeration of word sequences and frame alignments."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from asr.errors import AsrError
from asr.pipelines.tuning import tune
from asr.search import LexiconFreeSearch, LexiconSearch, SearchOptions, greedy_ctc, greedy_hypothesis

LN10 = math.log(10.0)


class ArpaLM:
    """Back-off n-gram probabilities read straight from ARPA text (log10 in the file)."""

    def __init__(self, text: str):
        self.prob: dict[tuple[str, ...], float] = {}
        self.backoff: dict[tuple[str, ...], float] = {}
        order = 0
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("\\") and line.endswith("-grams:"):
                order = int(line[1:line.index("-")])
                continue
            if not line or line.startswith("\\") or order == 0 or line.startswith("ngram"):
                continue
            fields = line.split()
            ngram = tuple(fields[1:1 + order])
            self.prob[ngram] = float(fields[0])
            if len(fields) > 1 + order:
                self.backoff[ngram] = float(fields[1 + order])
        self.order = max(len(k) for k in self.prob)
        self.vocab = {k[0] for k in self.prob if len(k) == 1}

    def log10(self, history: tuple[str, ...], word: str) -> float:
        word = word if word in self.vocab else "<unk>"
        context = tuple(w if w in self.vocab else "<unk>" for w in history)[-(self.order - 1):]
        penalty = 0.0
        while (*context, word) not in self.prob:
            penalty += self.backoff.get(context, 0.0)
            context = context[1:]
        return self.prob[(*context, word)] + penalty

    def sentence_ln(self, words: tuple[str, ...]) -> float:
        """ln P(words </s> | <s>)."""
        history, total = ("<s>",), 0.0
        for w in (*words, "</s>"):
            total += self.log10(history, w)
            history = (*history, w)
        return total * LN10


def lexicon_alignments(tokens: list[int], word_final: list[bool], num_frames: int, blank: int,
                       last_token_loop: bool):
    """Every frame path of a token sequence under the documented search model.

    Yields (path, between_word_blank_frames). Rules: blank runs anywhere (at least one between equal
    neighbours), each token one or more frames, except a word's last token: exactly one frame when
    `last_token_loop` is off.
    """
    def tails(i: int, frames_left: int):
        if i == len(tokens):
            yield [blank] * frames_left, frames_left
            return
        at_word_start = i == 0 or word_final[i - 1]
        min_gap = 1 if i > 0 and tokens[i] == tokens[i - 1] else 0
        for gap in range(min_gap, frames_left):
            runs = range(1, frames_left - gap + 1)
            if word_final[i] and not last_token_loop:
                runs = [1]
            for run in runs:
                for rest, rest_sil in tails(i + 1, frames_left - gap - run):
                    yield [blank] * gap + [tokens[i]] * run + rest, rest_sil + (gap if at_word_start else 0)

    yield from tails(0, num_frames)


def brute_force_lexicon(scores: np.ndarray, blank: int, spellings: dict[str, list[list[int]]],
                        lm: ArpaLM | None, lm_weight: float, word_score: float, sil_score: float,
                        last_token_loop: bool, max_words: int) -> dict[tuple[str, ...], float]:
    """Best total score of every word sequence (up to max_words) over all its alignments."""
    num_frames = scores.shape[0]
    frame_index = np.arange(num_frames)
    best: dict[tuple[str, ...], float] = {}
    words = sorted(spellings)
    for n in range(max_words + 1):
        for sequence in itertools.product(words, repeat=n):
            language = (lm.sentence_ln(sequence) if lm else 0.0) * lm_weight + word_score * n
            for variants in itertools.product(*(spellings[w] for w in sequence)):
                tokens = [t for v in variants for t in v]
                finals = [k == len(v) - 1 for v in variants for k in range(len(v))]
                if len(tokens) > num_frames:
                    continue
                for path, sil_frames in lexicon_alignments(tokens, finals, num_frames, blank, last_token_loop):
                    total = float(scores[frame_index, path].sum()) + sil_score * sil_frames + language
                    if total > best.get(sequence, -math.inf):
                        best[sequence] = total
    return best


def collapse(path: tuple[int, ...], blank: int) -> list[int]:
    out, previous = [], blank
    for tok in path:
        if tok != blank and tok != previous:
            out.append(tok)
        previous = tok
    return out


def brute_force_lexicon_free(scores: np.ndarray, tokens: list[str], blank: int, boundary: str,
                             lm: ArpaLM | None, lm_weight: float, word_score: float,
                             sil_score: float, unk_score: float) -> dict[tuple[str, ...], float]:
    """Best score of every word sequence over all V^T frame paths (tokens spell words); with an
    LM, each word outside its vocabulary also pays unk_score."""
    num_frames, num_tokens = scores.shape
    frame_index = np.arange(num_frames)
    prefix_mode = any(t != boundary and t.startswith(boundary) for t in tokens)
    best: dict[tuple[str, ...], float] = {}
    for path in itertools.product(range(num_tokens), repeat=num_frames):
        text = ""
        for tok in collapse(path, blank):
            if prefix_mode:
                text += " " + tokens[tok][1:] if tokens[tok].startswith(boundary) else tokens[tok]
            else:
                text += " " if tokens[tok] == boundary else tokens[tok]
        sequence = tuple(text.split())
        total = float(scores[frame_index, list(path)].sum())
        if not prefix_mode:
            total += sil_score * sum(tokens[t] == boundary for t in path)
        total += (lm.sentence_ln(sequence) if lm else 0.0) * lm_weight + word_score * len(sequence)
        if lm:
            total += unk_score * sum(w not in lm.vocab for w in sequence)
        if total > best.get(sequence, -math.inf):
            best[sequence] = total
    return best


# ---------------------------------------------------------------------------------------------
# The tests


# A bigram LM over A, B, C; D is in the lexicon but not in the LM, so it is scored as <unk>.
TINY_ARPA = """
\\data\\
ngram 1=6
ngram 2=6

\\1-grams:
-1.0\t<unk>\t0
-99\t<s>\t-0.3
-0.7\t</s>\t0
-0.6\tA\t-0.2
-0.8\tB\t-0.25
-0.9\tC\t-0.1

\\2-grams:
-0.2\t<s> A
-0.5\tA B
-0.3\tB </s>
-0.4\tB A
-0.6\t<s> C
-0.3\tC </s>

\\end\\
"""

WIDE = dict(beam_size=100000, beam_threshold=1e9)  # wide enough that nothing is pruned


def write_lm(tmp_path, text=TINY_ARPA, name="tiny.arpa"):
    path = tmp_path / name
    path.write_text(text.lstrip())
    return path


def log_softmax(x):
    x = x - x.max(axis=1, keepdims=True)
    return (x - np.log(np.exp(x).sum(axis=1, keepdims=True))).astype(np.float32)


def check_against_brute_force(search, scores, reference, nbest):
    """The search's n-best list is the reference's ranking (ties in either order), and each entry
    carries the best score of its word sequence over all alignments."""
    hyps = search.search(scores, 0.01)
    ranked = sorted(reference.values(), reverse=True)
    assert len(hyps) == min(nbest, len(ranked))
    assert [h.score for h in hyps] == pytest.approx(ranked[:len(hyps)], abs=1e-3)
    for h in hyps:
        assert h.score == pytest.approx(reference[tuple(h.text.split())], abs=1e-3), h.text
    assert len({h.text for h in hyps}) == len(hyps)


CTC_TOKENS = ["<b>", "p", "q", "r"]
CTC_SPELLINGS = {"A": [["p", "q"]], "B": [["q"], ["r"]], "C": [["r", "p"]], "D": [["p"]]}
HMM_PDFS = {"P": ["1", "2", "3"], "Q": ["4", "5", "6"]}
HMM_TOKENS = ["sil"] + [p for states in HMM_PDFS.values() for p in states]
HMM_SPELLINGS = {"A": [HMM_PDFS["P"]], "B": [HMM_PDFS["Q"] + HMM_PDFS["P"]], "C": [HMM_PDFS["Q"]]}


def ctc_scores(seed):
    return log_softmax(np.random.default_rng(seed).normal(size=(6, 4)) * 2.5)


def hmm_scores(seed):
    # Unnormalised log-likelihoods around -30 with a wide spread, like diagonal GMMs give.
    return (np.random.default_rng(100 + seed).normal(size=(8, len(HMM_TOKENS))) * 4 - 30).astype(np.float32)


def case(kind):
    """(tokens, blank, spellings, score maker, options, longest word sequence) of a tiny case:
    ctc = hybrid-like (blank + phones, words of 1-2 phones, a bigram LM with an OOV word D);
    hmm = classic-like (3 pdfs per phone, blank = the silence pdf)."""
    if kind == "ctc":
        return (CTC_TOKENS, "<b>", CTC_SPELLINGS, ctc_scores,
                SearchOptions(lm_weight=0.8, word_score=0.7, nbest=8, **WIDE), 6)
    return (HMM_TOKENS, "sil", HMM_SPELLINGS, hmm_scores,
            SearchOptions(lm_weight=2.0, word_score=-1.0, sil_score=0.5, nbest=6, **WIDE), 2)


def reference_for(tokens, spellings, scores, options, max_words):
    ids = {w: [[tokens.index(t) for t in v] for v in vs] for w, vs in spellings.items()}
    return brute_force_lexicon(scores, 0, ids, ArpaLM(TINY_ARPA), options.lm_weight, options.word_score,
                               options.sil_score, options.last_token_loop, max_words)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kind", ["ctc", "hmm"])
def test_lexicon_search_equals_exhaustive_search_when_last_tokens_last_one_frame(tmp_path, kind, seed):
    """With last_token_loop off the search is flashlight's own CTC search: exact, n-best included."""
    tokens, blank, spellings, make_scores, options, max_words = case(kind)
    options.last_token_loop = False
    search = LexiconSearch(tokens, blank, spellings, str(write_lm(tmp_path)), options)
    scores = make_scores(seed)
    check_against_brute_force(search, scores, reference_for(tokens, spellings, scores, options, max_words),
                              options.nbest)


@pytest.mark.parametrize("kind", ["ctc", "hmm"])
def test_lexicon_search_with_last_token_loop_against_exhaustive_search(tmp_path, kind):
    """With last_token_loop on, every returned score is the score of a proper path of its words
    (never above the exhaustive best), and the best equals the exhaustive optimum except when
    Viterbi recombination kept a doubled-last-token path instead of the proper one (see
    LexiconSearch._end_words_properly): measured in 2 of 40 random cases of each kind."""
    tokens, blank, spellings, make_scores, options, max_words = case(kind)
    search = LexiconSearch(tokens, blank, spellings, str(write_lm(tmp_path)), options)
    exact = 0
    for seed in range(12):
        scores = make_scores(seed)
        reference = reference_for(tokens, spellings, scores, options, max_words)
        hyps = search.search(scores, 0.01)
        for h in hyps:
            assert h.score <= reference[tuple(h.text.split())] + 1e-3, (seed, h.text)
        exact += hyps[0].score == pytest.approx(max(reference.values()), abs=1e-3)
    assert exact >= 10


def test_doubled_last_token_paths_are_rewritten_as_proper_ones(tmp_path):
    """..S blank S IY is ERASE C; read as ERASE E the word ERASE would end on a second S. The LM
    prefers ERASE E, but the proper reading must pay for that S frame as blank and loses."""
    lm_text = TINY_ARPA.replace("\tA", "\tERASE").replace("\tB", "\tE").replace("\tC", "\tC") \
        .replace(" A", " ERASE").replace("A ", "ERASE ").replace(" B", " E").replace("B ", "E ")
    tokens = ["<b>", "EH", "R", "S", "IY"]
    spellings = {"ERASE": [["EH", "R", "S"]], "C": [["S", "IY"]], "E": [["IY"]]}
    path = [0, 1, 2, 3, 0, 0, 3, 4, 0]
    scores = peaky(path, len(tokens), low=-6.0)
    for loop in (False, True):
        search = LexiconSearch(tokens, "<b>", spellings, str(write_lm(tmp_path, lm_text)),
                               SearchOptions(lm_weight=1.0, last_token_loop=loop, nbest=2))
        hyps = search.search(scores, 0.01)
        assert hyps[0].text == "ERASE C"
        assert [round(t * 100) for w in hyps[0].words for t in (w.start, w.end)] == [1, 4, 6, 8]
        if loop:  # the rewritten ERASE E pays -6 for the S frame as blank, so C wins despite the LM
            assert hyps[1].text == "ERASE E" and hyps[1].score < hyps[0].score


def test_hmm_state_self_loops_on_every_state(tmp_path):
    """A clear HMM path where every state (the last included) lasts several frames."""
    tokens = ["sil", "1", "2", "3", "4", "5", "6"]
    spellings = {"A": [["1", "2", "3"]], "C": [["4", "5", "6"]]}
    path = [0, 1, 1, 2, 2, 3, 3, 3, 0, 4, 5, 5, 6, 6, 6, 0]
    scores = np.full((len(path), len(tokens)), -40.0, np.float32)
    scores[np.arange(len(path)), path] = -10.0
    search = LexiconSearch(tokens, "sil", spellings, None, SearchOptions(beam_threshold=300))
    hyp = search.search(scores, 0.01)[0]
    assert hyp.text == "A C"
    assert [(round(w.start, 3), round(w.end, 3)) for w in hyp.words] == [(0.01, 0.08), (0.09, 0.15)]
    assert hyp.score == pytest.approx(-10.0 * len(path))


@pytest.mark.parametrize("seed", range(3))
def test_lexicon_free_characters_equal_exhaustive_search(tmp_path, seed):
    lm_text = TINY_ARPA.replace("\tA", "\ta").replace("\tB", "\tab").replace("\tC", "\tba") \
        .replace(" A", " a").replace(" B", " ab").replace(" C", " ba").replace("A ", "a ").replace("B ", "ab ")
    lm_path = write_lm(tmp_path, lm_text)
    tokens = ["<b>", "|", "a", "b"]
    rng = np.random.default_rng(200 + seed)
    scores = log_softmax(rng.normal(size=(6, 4)) * 2.5)
    options = SearchOptions(lm_weight=0.6, word_score=0.5, sil_score=0.3, unk_score=-1.5, nbest=5, **WIDE)
    search = LexiconFreeSearch(tokens, "<b>", "|", str(lm_path), options)
    reference = brute_force_lexicon_free(scores, tokens, 0, "|", ArpaLM(lm_text), 0.6, 0.5, 0.3, -1.5)
    check_against_brute_force(search, scores, reference, 5)


@pytest.mark.parametrize("seed", range(3))
def test_lexicon_free_pieces_equal_exhaustive_search(tmp_path, seed):
    lm_text = TINY_ARPA.replace("\tA", "\ta").replace("\tB", "\tab").replace("\tC", "\tba") \
        .replace(" A", " a").replace(" B", " ab").replace(" C", " ba").replace("A ", "a ").replace("B ", "ab ")
    lm_path = write_lm(tmp_path, lm_text)
    tokens = ["<b>", "▁a", "▁b", "a", "b"]
    rng = np.random.default_rng(300 + seed)
    scores = log_softmax(rng.normal(size=(5, 5)) * 2.5)
    options = SearchOptions(lm_weight=1.3, word_score=-0.2, unk_score=-0.7, nbest=5, **WIDE)
    search = LexiconFreeSearch(tokens, "<b>", "▁", str(lm_path), options)
    reference = brute_force_lexicon_free(scores, tokens, 0, "▁", ArpaLM(lm_text), 1.3, -0.2, 0.0, -0.7)
    check_against_brute_force(search, scores, reference, 5)


def test_reference_lm_matches_kenlm(tmp_path):
    """The hand-written ARPA evaluator agrees with KenLM, so the tests above check the search."""
    import kenlm
    model = kenlm.Model(str(write_lm(tmp_path)))
    lm = ArpaLM(TINY_ARPA)
    for sentence in ["A B", "A B A C", "C", "D A", "B D D", ""]:
        words = tuple(sentence.split())
        assert lm.sentence_ln(words) == pytest.approx(model.score(sentence, bos=True, eos=True) * LN10, abs=1e-4)


def peaky(path, num_tokens, low=-8.0):
    scores = np.full((len(path), num_tokens), low, np.float32)
    scores[np.arange(len(path)), path] = 0.0
    return log_softmax(scores)


def test_greedy_and_beam_agree_on_clear_cases():
    chars = ["<b>", "|", "A", "B", "E", "N", "O", "T", "W"]
    text = "ONE TWO TEN"
    path = []
    for ch in text.replace(" ", "|"):
        path += [chars.index(ch)] * 2 + [0]
    scores = peaky(path, len(chars))
    assert "".join(greedy_ctc(scores, chars, "<b>")) == text.replace(" ", "|")
    greedy = greedy_hypothesis(scores, chars, "<b>", "|", 0.04)
    beam = LexiconFreeSearch(chars, "<b>", "|", None, SearchOptions(lm_weight=0.0)).search(scores, 0.04)[0]
    assert greedy.text == beam.text == text
    assert greedy.score == pytest.approx(beam.score, abs=1e-3)
    assert [t for w in greedy.words for t in (w.start, w.end)] == \
        pytest.approx([t for w in beam.words for t in (w.start, w.end)])
    # The lexicon search over phones agrees with the greedy phone string too.
    phones = ["<b>", "W", "AH", "N", "T", "UW"]
    spellings = {"ONE": [["W", "AH", "N"]], "TWO": [["T", "UW"]], "TO": [["T", "UW", "W"]]}
    # Without last_token_loop a word's last token lasts one frame, so only there UW is one frame.
    for loop, uw in ((False, [5]), (True, [5, 5])):
        path = [0, 1, 1, 2, 0, 3, 0, 0, 4, *uw, 0, 1, 2, 3, 0]
        scores = peaky(path, len(phones))
        assert greedy_ctc(scores, phones, "<b>") == ["W", "AH", "N", "T", "UW", "W", "AH", "N"]
        search = LexiconSearch(phones, "<b>", spellings, None, SearchOptions(lm_weight=0.0, last_token_loop=loop))
        best = search.search(scores, 0.04)[0]
        assert best.text == "ONE TWO ONE"
        assert best.score == pytest.approx(float(scores[np.arange(len(path)), path].sum()), abs=1e-4)


def test_nbest_is_sorted_distinct_with_monotone_times(tmp_path):
    tokens = ["<b>", "p", "q", "r"]
    spellings = {"A": [["p", "q"]], "B": [["q"], ["r"]], "C": [["r", "p"]], "D": [["p"]]}
    rng = np.random.default_rng(7)
    scores = log_softmax(rng.normal(size=(40, 4)) * 2)
    for search in (LexiconSearch(tokens, "<b>", spellings, str(write_lm(tmp_path)), SearchOptions(nbest=10)),
                   LexiconFreeSearch(tokens, "<b>", "q", None, SearchOptions(nbest=10))):
        hyps = search.search(scores, 0.02)
        assert len(hyps) == 10
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
        assert len({h.text for h in hyps}) == len(hyps)
        for h in hyps:
            times = [t for w in h.words for t in (w.start, w.end)]
            assert times == sorted(times) and all(w.end > w.start for w in h.words)
            assert times[0] >= 0 and times[-1] <= 40 * 0.02 + 1e-9
            assert all(0.0 <= w.confidence <= 1.0 for w in h.words)


def test_confidence_is_mean_frame_posterior():
    tokens = ["<b>", "p", "q"]
    scores = np.log(np.array([[0.1, 0.8, 0.1], [0.1, 0.6, 0.3], [0.7, 0.2, 0.1], [0.2, 0.1, 0.7]],
                             np.float32))
    hyp = LexiconSearch(tokens, "<b>", {"X": [["p"]], "Y": [["q"]]}, None).search(scores, 0.1)[0]
    assert hyp.text == "X Y"
    assert [w.confidence for w in hyp.words] == pytest.approx([0.7, 0.7], abs=1e-5)
    assert (hyp.words[0].start, hyp.words[0].end) == pytest.approx((0.0, 0.2))


def test_word_boundary_token_as_silence_between_words():
    """A character model's "|" between words: with silence="|" the search passes it between
    words (the word after it starts after it); without, the word list cannot explain that frame."""
    tokens = ["<b>", "|", "a", "b"]
    path = [2, 2, 1, 1, 3, 0]  # a a | | b blank
    scores = peaky(path, len(tokens), low=-8.0)
    spellings = {"A": [["a"]], "B": [["b"]], "AB": [["a", "b"]]}
    hyp = LexiconSearch(tokens, "<b>", spellings, None, silence="|").search(scores, 0.01)[0]
    assert hyp.text == "A B" and hyp.score == pytest.approx(0.0, abs=0.01)  # log-softmax: ~-0.001 a frame
    assert [(round(w.start * 100), round(w.end * 100)) for w in hyp.words] == [(0, 2), (4, 5)]
    without = LexiconSearch(tokens, "<b>", spellings, None).search(scores, 0.01)[0]
    assert without.score < hyp.score - 10  # the two "|" frames must be paid for as something else
    with pytest.raises(AsrError, match="silence token"):
        LexiconSearch(tokens, "<b>", spellings, None, silence="#")
    with pytest.raises(AsrError, match="blank or silence"):
        LexiconSearch(tokens, "<b>", {"BAD": [["a", "|"]]}, None, silence="|")


def test_bad_lexicon_and_lm_raise_asr_error(tmp_path):
    tokens = ["<b>", "p", "q"]
    with pytest.raises(AsrError, match="'BAD'.*'z'"):
        LexiconSearch(tokens, "<b>", {"OK": [["p"]], "BAD": [["p", "z"]]}, None)
    with pytest.raises(AsrError, match="blank"):
        LexiconSearch(tokens, "<b>", {"BAD": [["p", "<b>"]]}, None)
    with pytest.raises(AsrError, match="not in the token list"):
        LexiconSearch(tokens, "-", {"OK": [["p"]]}, None)
    with pytest.raises(AsrError, match="missing.arpa"):
        LexiconSearch(tokens, "<b>", {"OK": [["p"]]}, str(tmp_path / "missing.arpa"))
    garbage = tmp_path / "garbage.arpa"
    garbage.write_text("this is not an LM\n")
    with pytest.raises(AsrError, match="garbage.arpa"):
        LexiconSearch(tokens, "<b>", {"OK": [["p"]]}, str(garbage))
    with pytest.raises(AsrError, match="garbage.arpa"):
        LexiconFreeSearch(tokens, "<b>", "q", str(garbage))
    with pytest.raises(AsrError, match="shape"):
        LexiconSearch(tokens, "<b>", {"OK": [["p"]]}, None).search(np.zeros((3, 4), np.float32), 0.01)
    with pytest.raises(AsrError, match="7 words share the spelling p q"):
        LexiconSearch(tokens, "<b>", {f"W{i}": [["p", "q"]] for i in range(7)}, None)
    with pytest.raises(AsrError, match="sil_score"):
        SearchOptions(sil_score=-1.0)


def test_empty_input_gives_empty_hypothesis():
    search = LexiconSearch(["<b>", "p"], "<b>", {"X": [["p"]]}, None)
    assert search.search(np.zeros((0, 2), np.float32), 0.01)[0].words == []


def test_tuning_picks_the_lowest_dev_wer_stage_by_stage():
    refs = {"u1": "A B C", "u2": "B B"}
    tried = []

    def decode(o):
        tried.append(dict(o))
        if o["sil_score"] != 5.0:
            return {"u1": "A X C D", "u2": ""}  # 1 sub + 1 ins + 2 del = 4 errors: 80%
        if o["lm_weight"] == 2.0 and o["word_score"] == 0.5:
            return {"u1": "A B C", "u2": "B B"}
        return {"u1": "A C", "u2": "B B"}  # one deletion out of 5 words: 20%

    current = {"sil_score": 0.0, "lm_weight": 1.0, "word_score": 0.0}
    chosen, table, dev_wer = tune(decode, refs, {"lm_weight": [1.0, 2.0], "word_score": [0.0, 0.5]}, current)
    assert chosen == {"lm_weight": 1.0, "word_score": 0.0} and dev_wer == 80.0  # flat at sil_score 0: the first
    chosen, table, dev_wer = tune(decode, refs, {"sil_score": [0.0, 5.0], "lm_weight": [1.0, 2.0],
                                                 "word_score": [0.0, 0.5]}, current)
    assert chosen == {"sil_score": 5.0, "lm_weight": 2.0, "word_score": 0.5} and dev_wer == 0.0
    assert [round(r["wer"], 6) for r in table] == [80.0, 20.0, 20.0, 20.0, 20.0, 0.0]
    assert list(table[0]) == ["sil_score", "wer"] and list(table[2]) == ["lm_weight", "word_score", "wer"]
    # the silence stage decodes at the current weights, the weight stage at the chosen silence score
    assert tried[-6]["lm_weight"] == 1.0 and all(o["sil_score"] == 5.0 for o in tried[-4:])
    with pytest.raises(AsrError, match="no grid search for beam_size"):
        tune(decode, refs, {"beam_size": [1]}, current)


def test_tuned_value_at_the_edge_of_its_grid_is_warned(caplog):
    refs = {"u": "A B"}
    current = {"sil_score": 0.0, "lm_weight": 1.0, "word_score": 0.0}
    best_at_two = lambda o: {"u": "A B" if o["lm_weight"] == 2.0 else "A"}  # noqa: E731
    with caplog.at_level("WARNING"):
        tune(best_at_two, refs, {"lm_weight": [0.5, 1.0, 2.0], "word_score": [0.0]}, current)
    assert "tuned lm_weight = 2 is at the edge of its grid (0.5 to 2)" in caplog.text
    assert "word_score" not in caplog.text  # a grid of one value has no edge
    caplog.clear()
    with caplog.at_level("WARNING"):
        tune(best_at_two, refs, {"lm_weight": [0.5, 2.0, 3.0]}, current)  # inside: no warning
        tune(lambda o: {"u": "A B"}, refs, {"lm_weight": [0.5, 2.0]}, current)  # flat: no best
    assert "edge" not in caplog.text


def test_piece_words_and_boundary_checks():
    pieces = ["<b>", "▁", "▁the", "▁ca", "t", "s"]
    path = [2, 0, 3, 4, 4, 0, 1, 5, 0]  # "▁the" "▁ca" "t" "▁" "s": words THE, CAT, S
    scores = peaky(path, len(pieces))
    hyp = greedy_hypothesis(scores, pieces, "<b>", "▁", 0.04)
    assert hyp.text == "the cat s"
    assert [round(t / 0.04) for w in hyp.words for t in (w.start, w.end)] == [0, 1, 2, 5, 6, 8]
    beam = LexiconFreeSearch(pieces, "<b>", "▁", None, SearchOptions(lm_weight=0.0)).search(scores, 0.04)[0]
    assert beam.text == hyp.text
    with pytest.raises(AsrError, match="boundary"):
        LexiconFreeSearch(["<b>", "a", "b"], "<b>", "|", None)
