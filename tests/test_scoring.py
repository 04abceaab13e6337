"""WER scoring: hand-counted alignments, an independent Levenshtein DP, bootstrap intervals, the CLI,
and the real AN4 test transcripts."""
import json
import logging
import math
import re

import pytest

from asr import cli
from asr.errors import AsrError
from asr.scoring import (GAP, bootstrap_ci, paired_bootstrap, score, score_files, wer, wer_lines,
                         write_scores)

AN4_LINE = re.compile(r"^(?P<text>.*)\((?P<utt>[^()]+)\)\s*$")


def read_an4_transcription(path) -> dict[str, str]:
    """Sphinx `TEXT (utt-id)` lines; the optional <s> </s> markers are dropped."""
    refs = {}
    for line in path.read_text().splitlines():
        m = AN4_LINE.match(line)
        assert m, line
        words = [w for w in m["text"].split() if w not in ("<s>", "</s>")]
        refs[m["utt"]] = " ".join(words)
    return refs


@pytest.fixture(scope="module")
def an4_refs(data_root):
    return read_an4_transcription(data_root / "an4" / "etc" / "an4_test.transcription")


def edit(text: str, k: int) -> str:
    """A deterministic corruption of a transcript: k picks which words are dropped/replaced/added."""
    words = text.split()
    out = []
    for i, w in enumerate(words):
        if (i + k) % 5 == 0:
            continue  # deletion
        out.append("OOPS" if (i + k) % 7 == 0 else w)  # substitution
    if k % 3 == 0:
        out.append("EXTRA")  # insertion
    return " ".join(out)


def levenshtein(ref: list[str], hyp: list[str]) -> int:
    """Plain dynamic-programming word edit distance, the independent reference for jiwer."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


# ---------------------------------------------------------------- hand-counted cases

def test_substitution_and_insertion_hand_counted():
    # ref: A B C D ***
    # hyp: A X C D E
    # op:  C S C C I   -> 1 sub, 1 ins, 0 del over 4 words
    s = score({"u1": "A B C D"}, {"u1": "A X C D E"})
    assert (s.subs, s.ins, s.dels, s.errors, s.words) == (1, 1, 0, 2, 4)
    assert s.wer == pytest.approx(50.0)
    u = s.utts[0]
    assert u.ref == ["A", "B", "C", "D", GAP]
    assert u.hyp == ["A", "X", "C", "D", "E"]
    assert u.ops == ["C", "S", "C", "C", "I"]


def test_deletions_across_utterances_hand_counted():
    # u1 ref: THE CAT SAT      u2 ref: ON THE MAT
    #    hyp: THE *** SAT         hyp: ON A   MAT   NOW
    #    op:  C   D   C           op:  C  S   C     I
    # -> 1 del, 1 sub, 1 ins = 3 errors over 6 words; 2 of 2 sentences wrong
    s = score({"u1": "THE CAT SAT", "u2": "ON THE MAT"}, {"u1": "THE SAT", "u2": "ON A MAT NOW"})
    assert (s.dels, s.subs, s.ins, s.errors, s.words) == (1, 1, 1, 3, 6)
    assert (s.sentences, s.sentence_errors) == (2, 2)
    assert wer_lines(s)[0] == "%WER 50.00 [ 3 / 6, 1 ins, 1 del, 1 sub ]"
    assert wer_lines(s)[1] == "%SER 100.00 [ 2 / 2 ]"


def test_whitespace_is_any_run_of_blanks():
    # tabs and double spaces separate words just as one space does: A B vs A B = no error
    assert wer({"u": "A  B"}, {"u": "A\tB"}) == 0.0


def test_empty_hypothesis_is_all_deletions():
    # ref: X   Y
    # hyp: *** ***
    # op:  D   D   -> 2 del over 2 words = 100%
    s = score({"u": "X Y"}, {"u": ""})
    assert (s.dels, s.ins, s.subs, s.words, s.wer) == (2, 0, 0, 2, 100.0)
    assert s.utts[0].hyp == [GAP, GAP]


def test_empty_reference_is_insertions_over_zero_words(tmp_path):
    # ref: *** ***
    # hyp: P   Q
    # op:  I   I   -> 2 ins over 0 words: Kaldi's 100 * 2 / 0 = inf; JSON writes null
    s = score({"u": ""}, {"u": "P Q"})
    assert (s.ins, s.errors, s.words) == (2, 2, 0)
    assert math.isinf(s.wer)
    write_scores(s, tmp_path)
    j = json.loads((tmp_path / "scores.json").read_text())
    assert j["wer"] is None and j["errors"] == 2 and j["words"] == 0
    # nothing said and nothing to say: no error
    assert score({"u": ""}, {"u": ""}).wer == 0.0


def test_empty_reference_inside_a_larger_set_counts_insertions():
    # u1: A B vs A B (0 errors); u2: (empty) vs Z -> 1 ins over 2 words = 50%
    s = score({"u1": "A B", "u2": ""}, {"u1": "A B", "u2": "Z"})
    assert (s.ins, s.words, s.wer) == (1, 2, 50.0)


def test_missing_utterance_is_deletions_with_warning(caplog):
    # u2 has no hypothesis: ref C D E -> 3 deletions; u1 perfect. 3 / 5 words.
    with caplog.at_level(logging.WARNING, logger="asr.scoring"):
        s = score({"u1": "A B", "u2": "C D E"}, {"u1": "A B"})
    assert (s.dels, s.errors, s.words) == (3, 3, 5)
    assert s.missing == ["u2"]
    assert "u2" in caplog.text and "deletions" in caplog.text
    assert wer_lines(s)[0].endswith("[PARTIAL]")


def test_hypothesis_for_unknown_utterance_is_an_error():
    with pytest.raises(AsrError, match="not in the reference: u9"):
        score({"u1": "A"}, {"u1": "A", "u9": "B"})


# ---------------------------------------------------------------- independent reference

def test_jiwer_alignment_matches_plain_levenshtein(an4_refs):
    """Total errors equal the DP edit distance; the alignment rebuilds both strings."""
    hyps = {u: edit(t, k) for k, (u, t) in enumerate(sorted(an4_refs.items()))}
    hand = {"h1": ("A B C", "C B A"), "h2": ("A A A B", "A B B B"), "h3": ("X", "Y Z X W")}
    refs = dict(an4_refs, **{u: r for u, (r, _) in hand.items()})
    hyps.update({u: h for u, (_, h) in hand.items()})
    s = score(refs, hyps)
    total = 0
    for u in s.utts:
        ref, hyp = refs[u.utt].split(), hyps[u.utt].split()
        assert u.errors == levenshtein(ref, hyp), u.utt
        assert [w for w in u.ref if w != GAP] == ref
        assert [w for w in u.hyp if w != GAP] == hyp
        for r, h, op in zip(u.ref, u.hyp, u.ops):
            expected_op = "I" if r == GAP else "D" if h == GAP else "C" if r == h else "S"
            assert op == expected_op, (u.utt, r, h, op)
        total += levenshtein(ref, hyp)
    assert s.errors == total > 0
    assert s.ins + s.dels + s.subs == s.errors


# ---------------------------------------------------------------- bootstrap

def test_bootstrap_ci_contains_wer_and_narrows_with_more_data(an4_refs):
    refs = dict(sorted(an4_refs.items()))
    hyps = {u: edit(t, k) for k, (u, t) in enumerate(refs.items())}
    s = score(refs, hyps)
    low, high = s.ci95
    assert low < s.wer < high
    # the same test set four times over: the interval should shrink by about sqrt(4) = 2
    refs4 = {f"{u}-{c}": t for c in range(4) for u, t in refs.items()}
    hyps4 = {f"{u}-{c}": t for c in range(4) for u, t in hyps.items()}
    s4 = score(refs4, hyps4)
    assert s4.wer == pytest.approx(s.wer)
    assert s4.ci95[0] < s4.wer < s4.ci95[1]
    ratio = (s4.ci95[1] - s4.ci95[0]) / (high - low)
    assert 0.35 < ratio < 0.7
    # fixed seed: the same data gives the same interval
    assert score(refs, hyps).ci95 == s.ci95


def test_bootstrap_ci_of_perfect_output_is_zero():
    assert bootstrap_ci([0, 0, 0], [3, 4, 5]) == (0.0, 0.0)


def test_paired_bootstrap_matches_analytic_probability():
    # A and B differ only on u1 (A right, B one deletion). A resample of 2 utterances misses u1
    # with probability (1/2)^2 = 1/4, and then A is not better: p = 0.25.
    refs = {"u1": "A B", "u2": "C D"}
    r = paired_bootstrap(refs, {"u1": "A B", "u2": "C D"}, {"u1": "A", "u2": "C D"})
    assert r["delta"] == pytest.approx(-25.0)
    assert r["p_value"] == pytest.approx(0.25, abs=0.05)
    assert r["poi"] == pytest.approx(0.75, abs=0.05)


def test_paired_bootstrap_direction_on_an4(an4_refs):
    refs = dict(sorted(an4_refs.items()))
    good = {u: edit(t, 1) if k % 4 == 0 else t for k, (u, t) in enumerate(refs.items())}
    bad = {u: edit(t, k) for k, (u, t) in enumerate(refs.items())}
    better = paired_bootstrap(refs, good, bad)
    assert better["delta"] < 0 and better["p_value"] < 0.01 and better["ci95"][1] < 0
    worse = paired_bootstrap(refs, bad, good)
    assert worse["delta"] == pytest.approx(-better["delta"]) and worse["p_value"] > 0.99
    same = paired_bootstrap(refs, bad, bad)
    assert same["delta"] == 0 and same["p_value"] == 1.0 and same["p_two_sided"] == 1.0


# ---------------------------------------------------------------- real data and the CLI

def test_an4_test_transcripts_against_themselves(an4_refs):
    assert len(an4_refs) == 130
    s = score(an4_refs, an4_refs)
    assert wer_lines(s)[0] == "%WER 0.00 [ 0 / 773, 0 ins, 0 del, 0 sub ]"
    assert s.ci95 == (0.0, 0.0)


def write_text(path, table):
    path.write_text("".join(f"{u} {t}\n" if t else f"{u}\n" for u, t in table.items()))


def test_cli_writes_every_file(tmp_path, capsys, an4_refs):
    refs = dict(sorted(an4_refs.items()))
    hyps = {u: edit(t, k) for k, (u, t) in enumerate(refs.items())}
    hyps[next(iter(hyps))] = ""  # an empty hypothesis line: just the utterance id
    write_text(tmp_path / "ref", refs)
    write_text(tmp_path / "hyp", hyps)
    # AN4 ids end with the speaker: an406-fcaw-b -> fcaw
    write_text(tmp_path / "utt2spk", {u: u.split("-")[1] for u in refs})
    out = tmp_path / "score"
    rc = cli.main(["score", "--ref", str(tmp_path / "ref"), "--hyp", str(tmp_path / "hyp"),
                   "--out", str(out), "--utt2spk", str(tmp_path / "utt2spk")])
    assert rc == 0
    expected = score(refs, hyps)
    assert capsys.readouterr().out.splitlines()[0] == wer_lines(expected)[0]
    for name in ("wer.txt", "scores.json", "per_utt.txt", "per_utt.json", "per_spk.txt", "confusions.txt"):
        assert (out / name).is_file(), name
    j = json.loads((out / "scores.json").read_text())
    assert (j["errors"], j["words"], j["ins"], j["del"], j["sub"]) == (
        expected.errors, 773, expected.ins, expected.dels, expected.subs)
    assert j["sentences"] == 130 and j["ci95"][0] < j["wer"] < j["ci95"][1]
    per_utt = json.loads((out / "per_utt.json").read_text())
    assert sum(v["errors"] for v in per_utt.values()) == expected.errors
    assert sum(v["words"] for v in per_utt.values()) == 773
    lines = (out / "per_utt.txt").read_text().splitlines()
    assert len(lines) == 4 * 130 and lines[0].split()[1] == "ref" and lines[3].split()[1] == "#csid"
    spk = (out / "per_spk.txt").read_text().splitlines()
    assert spk[0].split()[0] == "SPEAKER" and len(spk) == 1 + 2 * 11  # 10 speakers + SUM
    assert spk[-2].split()[:4] == ["SUM", "raw", "130", "773"]
    conf = (out / "confusions.txt").read_text()
    assert re.search(r"^substitution\s+\S+\s+OOPS\s+\d+$", conf, re.M)
    assert re.search(r"^insertion\s+\*\*\*\s+EXTRA\s+\d+$", conf, re.M)
    assert not list(out.glob(".*.tmp"))  # atomic writes left no temporary files


def test_cli_errors_are_one_line(tmp_path, capsys):
    write_text(tmp_path / "ref", {"u1": "A B"})
    write_text(tmp_path / "hyp", {"u1": "A B", "u2": "C"})
    rc = cli.main(["score", "--ref", str(tmp_path / "ref"), "--hyp", str(tmp_path / "hyp"),
                   "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and str(tmp_path / "hyp") in err and "u2" in err
    rc = cli.main(["score", "--ref", str(tmp_path / "nope"), "--hyp", str(tmp_path / "hyp"),
                   "--out", str(tmp_path / "o")])
    assert rc == 1 and "nope: no such file" in capsys.readouterr().err
    write_text(tmp_path / "utt2spk", {"u0": "s"})
    with pytest.raises(AsrError, match="utt2spk: no speaker for 1 utterance"):
        score_files(tmp_path / "ref", tmp_path / "ref", tmp_path / "utt2spk")


def test_empty_utt2spk_means_no_speakers():
    # decode dirs pass the data dir's utt2spk; an empty map must not be an error
    s = score({"u": "A"}, {"u": "A"}, {})
    assert s.utts[0].speaker is None and s.wer == 0.0
