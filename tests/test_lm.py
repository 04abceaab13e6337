"""n-gram LMs: our modified Kneser-Ney estimator against hand-derived values and KenLM's lmplz,
vocabulary restriction, perplexity through kenlm against our own scoring of the ARPA file."""
from __future__ import annotations

import math
import re
import subprocess

import kenlm
import pytest

from asr.cli import main
from asr.errors import AsrError
from asr.lm import arpa_vocab, binary_path, build_lm, perplexity, read_arpa
from asr.lm import kenlm_tools
from asr.lm.kneser_ney import (FALLBACK_DISCOUNTS, count_of_counts, estimate, kn_counts,
                                 modified_kn_discounts)
from asr.lm.text import read_sentences

LMPLZ = kenlm_tools.find_tool("lmplz")
needs_lmplz = pytest.mark.skipif(LMPLZ is None, reason="KenLM's lmplz is not built: run `make lmplz` "
                                 "(scripts/install_kenlm.sh) to compare our estimator with it")
TOLERANCE = 1e-3  # log10 probabilities and backoffs: ours vs lmplz (float32 there, float64 here)


# ---------------------------------------------------------------- fixtures: real LM text

@pytest.fixture(scope="module")
def an4_train_text(data_root, tmp_path_factory):
    """AN4 train transcripts as plain sentences: `<s> TEXT </s> (id)` -> `TEXT`."""
    out = tmp_path_factory.mktemp("an4") / "an4_train.txt"
    lines = []
    for line in open(data_root / "an4" / "etc" / "an4_train.transcription", encoding="utf-8"):
        line = re.sub(r"\([^()]*\)\s*$", "", line)
        lines.append(" ".join(w for w in line.split() if w not in ("<s>", "</s>")))
    out.write_text("\n".join(lines) + "\n")
    return out


@pytest.fixture(scope="module")
def arctic_train(data_root):
    return data_root / "lm_text" / "arctic_prompts.train.norm.txt"


@pytest.fixture(scope="module")
def arctic_test(data_root):
    return data_root / "lm_text" / "arctic_prompts.test.norm.txt"


# ---------------------------------------------------------------- hand-computed cases

def test_bigram_hand_computed(tmp_path):
    # Sentences: <s> A B </s> | <s> A C </s> | <s> B A C </s>
    # Bigram counts (highest order: raw): <s> A 2, <s> B 1, A B 1, A C 2, B A 1, B </s> 1, C </s> 2.
    #   count-of-counts n1=4 n2=3 n3=0 -> closed form impossible -> fallback D1=.5 D2=1 D3+=1.5.
    # Unigram counts (adjusted = distinct left words): A {<s>,B}=2, B {<s>,A}=2, C {A}=1,
    #   </s> {B,C}=2, <unk> 0, <s> 0 -> n1=1 n2=3 n3=0 -> fallback too. Total 7.
    #   gamma() = (.5*1 + 1*3) / 7 = 0.5; uniform = 1/5 (6 unigrams without <s>).
    #   p(A) = p(B) = p(</s>) = (2-1)/7 + .5/5;  p(C) = (1-.5)/7 + .5/5;  p(<unk>) = .5/5 = 0.1
    # Contexts: <s>: {A:2, B:1} total 3, gamma = (1 + .5)/3 = .5
    #   p(A|<s>) = (2-1)/3 + .5 p(A);  p(B|<s>) = (1-.5)/3 + .5 p(B)
    #   A: {B:1, C:2} total 3, gamma .5: p(B|A) = .5/3 + .5 p(B);  p(C|A) = 1/3 + .5 p(C)
    #   B: {A:1, </s>:1} total 2, gamma (.5+.5)/2 = .5: p(A|B) = p(</s>|B) = .5/2 + .5 p(A)
    #   C: {</s>:2} total 2, gamma 1/2: p(</s>|C) = (2-1)/2 + .5 p(</s>)
    # Backoffs: gamma of each context = .5 (<s>, A, B, C); </s> and <unk> are never contexts: 1.
    text = tmp_path / "tiny.txt"
    text.write_text("A B\nA C\nB A C\n")
    p_a = p_b = p_eos = 1 / 7 + 0.5 / 5
    p_c = 0.5 / 7 + 0.5 / 5
    expected = [
        {("<s>",): (1.0, 0.5), ("<unk>",): (0.1, 1.0), ("</s>",): (p_eos, 1.0),
         ("A",): (p_a, 0.5), ("B",): (p_b, 0.5), ("C",): (p_c, 0.5)},
        {("<s>", "A"): (1 / 3 + 0.5 * p_a, None), ("<s>", "B"): (0.5 / 3 + 0.5 * p_b, None),
         ("A", "B"): (0.5 / 3 + 0.5 * p_b, None), ("A", "C"): (1 / 3 + 0.5 * p_c, None),
         ("B", "A"): (0.5 / 2 + 0.5 * p_a, None), ("B", "</s>"): (0.5 / 2 + 0.5 * p_eos, None),
         ("C", "</s>"): (1 / 2 + 0.5 * p_eos, None)},
    ]
    arpa = build_lm([text], 2, tmp_path / "tiny.arpa", tool="builtin")
    got = read_arpa(arpa)
    assert [set(g) for g in got] == [set(e) for e in expected]
    for order_got, order_expected in zip(got, expected):
        for words, (prob, backoff) in order_expected.items():
            assert order_got[words][0] == pytest.approx(math.log10(prob), abs=1e-6), words
            if backoff is not None:
                assert order_got[words][1] == pytest.approx(math.log10(backoff), abs=1e-6), words
    model = estimate(read_sentences([text]), 2, progress=False)
    assert model.fallback_orders == [1, 2] and model.discounts == [FALLBACK_DISCOUNTS] * 2


def test_discounts_closed_form_and_fallback():
    # n1..n4 = 10, 5, 3, 2: Y = 10 / (10 + 2*5) = .5; D1 = 1 - 2*.5*5/10 = .5;
    # D2 = 2 - 3*.5*3/5 = 1.1; D3+ = 3 - 4*.5*2/3 = 5/3
    discounts, fell_back = modified_kn_discounts([0, 10, 5, 3, 2])
    assert not fell_back and discounts == pytest.approx((0.5, 1.1, 5 / 3))
    assert modified_kn_discounts([0, 10, 5, 0, 2]) == (FALLBACK_DISCOUNTS, True)  # no n3
    # Y = 10/12; D2 = 2 - 3 * (10/12) * 100 / 1 < 0: out of range
    assert modified_kn_discounts([0, 10, 1, 100, 1]) == (FALLBACK_DISCOUNTS, True)


# ---------------------------------------------------------------- against KenLM's lmplz

def run_reference_lmplz(text, order, out, tmp_path):
    """lmplz called directly (not through our wrapper): the independent reference."""
    subprocess.run([str(LMPLZ), "-o", str(order), "--discount_fallback", "-S", "64M",
                    "-T", f"{tmp_path}/", "--text", str(text), "--arpa", str(out)],
                   check=True, capture_output=True)
    return out


def assert_same_model(ours, theirs, tolerance=TOLERANCE):
    assert [len(g) for g in ours] == [len(g) for g in theirs]
    for n, (a, b) in enumerate(zip(ours, theirs), 1):
        assert set(a) == set(b), f"{n}-grams differ: {sorted(set(a) ^ set(b))[:5]}"
        for words, (prob, backoff) in a.items():
            assert abs(prob - b[words][0]) <= tolerance, (words, prob, b[words][0])
            assert abs(backoff - b[words][1]) <= tolerance, (words, backoff, b[words][1])


@needs_lmplz
@pytest.mark.parametrize("corpus,order", [("an4", 2), ("an4", 3), ("an4", 4),
                                          ("arctic", 2), ("arctic", 3), ("arctic", 4)])
def test_matches_lmplz(corpus, order, an4_train_text, arctic_train, tmp_path):
    text = an4_train_text if corpus == "an4" else arctic_train
    ours = read_arpa(build_lm([text], order, tmp_path / "ours.arpa", tool="builtin"))
    theirs = read_arpa(run_reference_lmplz(text, order, tmp_path / "lmplz.arpa", tmp_path))
    assert_same_model(ours, theirs)


def test_lmplz_count_of_counts_quirk(tmp_path):
    # Unigram adjusted counts of "A X B | A C | B A C | X X": X {A,<s>,X}=3, </s> {B,C,X}=3,
    # A {<s>,B}=2, B {X,<s>}=2, C {A}=1 -> n1..n4 = 1,2,2,0: a valid closed form (D = .2, 1.4, 3).
    # lmplz files the last unigram of its sort (C: highest id, the newest word) under its raw
    # count 2 instead -> n1 = 0 -> fallback discounts. We follow lmplz.
    sentences = read_sentences([_write(tmp_path / "toy.txt", "A X B\nA C\nB A C\nX X\n")])
    unigram_counts = kn_counts(sentences, 2).adjusted[0]
    assert modified_kn_discounts(count_of_counts(unigram_counts)) == ((pytest.approx(0.2), pytest.approx(1.4),
                                                                     pytest.approx(3.0)), False)
    assert 1 in estimate(sentences, 2, progress=False).fallback_orders


def _write(path, text):
    path.write_text(text)
    return path


@needs_lmplz
@pytest.mark.parametrize("text", ["A B\nA C\nB A C\n", "A X B\nA C\nB A C\nX X\n"])
def test_tiny_corpus_fallback_matches_lmplz(text, tmp_path):
    text = _write(tmp_path / "tiny.txt", text)
    for order in (2, 3):
        ours = read_arpa(build_lm([text], order, tmp_path / "ours.arpa", tool="builtin"))
        theirs = read_arpa(run_reference_lmplz(text, order, tmp_path / "lmplz.arpa", tmp_path))
        assert_same_model(ours, theirs)


@needs_lmplz
def test_lmplz_wrapper_and_binary(an4_train_text, tmp_path):
    arpa = build_lm([an4_train_text], 3, tmp_path / "lm.arpa", tool="lmplz")
    assert_same_model(read_arpa(arpa), read_arpa(build_lm([an4_train_text], 3, tmp_path / "b.arpa",
                                                          tool="builtin")))
    if kenlm_tools.find_tool("build_binary"):
        binary = binary_path(arpa)
        assert binary == tmp_path / "lm.bin" and binary.is_file()
        assert perplexity(binary, an4_train_text) == pytest.approx(perplexity(arpa, an4_train_text), rel=1e-5)


def test_auto_without_lmplz_uses_builtin_and_drops_stale_binary(an4_train_text, tmp_path, monkeypatch):
    monkeypatch.setattr(kenlm_tools, "find_tool", lambda name: None)
    stale = tmp_path / "lm.bin"
    stale.write_bytes(b"old")
    arpa = build_lm([an4_train_text], 2, tmp_path / "lm.arpa", tool="auto")
    assert read_arpa(arpa) == read_arpa(build_lm([an4_train_text], 2, tmp_path / "b.arpa", tool="builtin"))
    assert not stale.exists()
    with pytest.raises(AsrError, match="lmplz not found"):
        build_lm([an4_train_text], 2, tmp_path / "x.arpa", tool="lmplz")


# ---------------------------------------------------------------- vocabulary

def distribution_sum(model, vocab, context):
    """sum over w of p(w | <s> context) from kenlm: 1 for a normalised model."""
    state = kenlm.State()
    model.BeginSentenceWrite(state)
    for word in context:
        next_state = kenlm.State()
        model.BaseScore(state, word, next_state)
        state = next_state
    return sum(10 ** model.BaseScore(state, w, kenlm.State()) for w in vocab if w != "<s>")


@pytest.mark.parametrize("tool", ["builtin", pytest.param("lmplz", marks=needs_lmplz)])
def test_vocab_restriction(tool, data_root, arctic_train, tmp_path):
    lexicon = data_root / "an4" / "etc" / "an4.dic"  # AN4's CMU-style dictionary: `A(2)` variants
    lexicon_words = {re.sub(r"\(\d+\)$", "", line.split()[0]) for line in open(lexicon) if line.strip()}
    text_words = {w for s in read_sentences([arctic_train]) for w in s}
    arpa = build_lm([arctic_train], 3, tmp_path / "lm.arpa", tool=tool, vocab=lexicon)
    vocab = arpa_vocab(arpa)
    assert vocab == (lexicon_words & text_words) | {"<s>", "</s>", "<unk>"}
    grams = read_arpa(arpa)
    assert any(words[0] == "<unk>" for words in grams[1])  # <unk> is counted in context
    model = kenlm.Model(str(arpa))
    for context in ([], ["<unk>"], ["THE"], ["<unk>", "<unk>"], ["A", "HUNDRED"]):
        assert distribution_sum(model, vocab, context) == pytest.approx(1.0, abs=1e-4), context
    if tool == "lmplz":  # lmplz's output, its own <unk> merged in, is our estimator's model
        builtin = read_arpa(build_lm([arctic_train], 3, tmp_path / "b.arpa", tool="builtin", vocab=lexicon))
        assert_same_model(grams, builtin)


def test_no_shared_words_is_an_error(an4_train_text, tmp_path):
    wordlist = tmp_path / "words.txt"
    wordlist.write_text("ZYZZYVA\nQUOKKA\n")
    with pytest.raises(AsrError, match="share no words"):
        build_lm([an4_train_text], 2, tmp_path / "lm.arpa", tool="builtin", vocab=wordlist)
    assert not (tmp_path / "lm.arpa").exists()


# ---------------------------------------------------------------- perplexity

def arpa_log10_prob(grams, history, word):
    """Back-off scoring straight from the ARPA tables: the reference for kenlm's."""
    ngram = (*history, word)
    if ngram in grams[len(ngram) - 1]:
        return grams[len(ngram) - 1][ngram][0]
    backoff = grams[len(history) - 1].get(history, (0.0, 0.0))[1] if history else 0.0
    return backoff + arpa_log10_prob(grams, history[1:], word)


def test_perplexity_kenlm_matches_arpa_scoring(arctic_train, arctic_test, tmp_path):
    arpa = build_lm([arctic_train], 3, tmp_path / "lm.arpa", tool="builtin")
    result = perplexity(arpa, arctic_test)
    grams = read_arpa(arpa)
    unigrams = {w[0] for w in grams[0]}
    total = oov_total = 0.0
    words = oovs = 0
    sentences = read_sentences([arctic_test])
    for sentence in sentences:
        tokens = [w if w in unigrams else "<unk>" for w in sentence] + ["</s>"]
        history = ("<s>",)
        for token in tokens:
            logp = arpa_log10_prob(grams, history, token)
            total += logp
            if token == "<unk>":
                oovs += 1
                oov_total += logp
            history = (*history, token)[-2:]
        words += len(sentence)
    assert result["sentences"] == len(sentences) and result["words"] == words and result["oovs"] == oovs
    assert 0 < oovs < words  # the ARCTIC test prompts have unseen words: both conventions matter
    assert result["log10_prob"] == pytest.approx(total, abs=1e-3)
    assert result["ppl"] == pytest.approx(10 ** (-total / (words + len(sentences))), rel=1e-4)
    assert result["ppl_no_oov"] == pytest.approx(
        10 ** (-(total - oov_total) / (words - oovs + len(sentences))), rel=1e-4)
    assert result["oov_rate"] == pytest.approx(oovs / words)


def test_unreadable_inputs_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.arpa"
    bad.write_text("\\data\\\nngram 1=2\n\n\\1-grams:\n-1.0\tA\t0\n\n\\end\\\n")
    with pytest.raises(AsrError, match="header says ngram 1=2"):
        read_arpa(bad)
    with pytest.raises(AsrError, match="not a loadable"):
        perplexity(tmp_path / "bad.arpa", bad)
    with pytest.raises(AsrError, match="no such text file"):
        build_lm([tmp_path / "missing.txt"], 2, tmp_path / "lm.arpa")
    with pytest.raises(AsrError, match="at least 2"):
        build_lm([bad], 1, tmp_path / "lm.arpa")


# ---------------------------------------------------------------- command line

def test_cli_build_and_ppl(an4_train_text, tmp_path, capsys):
    out = tmp_path / "lm.arpa"
    assert main(["lm", "build", "--order", "2", "--tool", "builtin", str(an4_train_text), str(out)]) == 0
    assert out.is_file()
    assert main(["lm", "ppl", str(out), str(an4_train_text)]) == 0
    assert "ppl" in capsys.readouterr().out
    assert main(["lm", "ppl", str(tmp_path / "none.arpa"), str(an4_train_text)]) == 1
    assert "no such language model file" in capsys.readouterr().err


def test_flashlight_kenlm_loads_and_agrees(an4_train_text, tmp_path):
    """The search decodes with flashlight-text's KenLM: it must read our ARPA and score like kenlm."""
    from flashlight.lib.text.decoder.kenlm import KenLM
    from flashlight.lib.text.dictionary import Dictionary

    arpa = build_lm([an4_train_text], 3, tmp_path / "lm.arpa", tool="builtin")
    dictionary = Dictionary()
    for word in sorted(arpa_vocab(arpa)):
        dictionary.add_entry(word)
    flashlight_lm, kenlm_model = KenLM(str(arpa), dictionary), kenlm.Model(str(arpa))
    for sentence in read_sentences([an4_train_text])[:20]:
        state, total = flashlight_lm.start(False), 0.0
        for word in sentence:
            state, score = flashlight_lm.score(state, dictionary.get_index(word))
            total += score
        total += flashlight_lm.finish(state)[1]
        assert total == pytest.approx(kenlm_model.score(" ".join(sentence)), abs=1e-4), sentence
