"""Text normalisation and the one case rule, applied the same way by every reader of transcripts;
the one Kaldi-table reader (TABs, CRLF, non-UTF-8) behind validate-data, lexicon build, lm build, score."""
import pytest

from asr.cli import main
from asr.corpora.text_norm import case_problem, normalize_file, normalize_text, number_words
from asr.lm import read_arpa


@pytest.mark.parametrize("raw, norm", [
    ("7", "SEVEN"),
    ("25 cats", "TWENTY FIVE CATS"),
    ("He paid $1,200.", "HE PAID ONE THOUSAND TWO HUNDRED"),
    ("pi is 3.14", "PI IS THREE POINT ONE FOUR"),
    ("the 21st of May, 1984", "THE TWENTY FIRST OF MAY ONE THOUSAND NINE HUNDRED EIGHTY FOUR"),
    ("agent 007", "AGENT ZERO ZERO SEVEN"),
    ("the 40th and 2nd and 12th", "THE FORTIETH AND SECOND AND TWELFTH"),
    ("  Don't   stop -- 'em\tnow! ", "DON'T STOP EM NOW"),
    ("Café Lop-Ear", "CAFE LOP EAR"),
])
def test_normalize_text(raw, norm):
    assert normalize_text(raw) == norm


def test_number_words_scales():
    assert number_words(0) == ["ZERO"]
    assert number_words(100) == ["ONE", "HUNDRED"]
    assert " ".join(number_words(2_000_019)) == "TWO MILLION NINETEEN"
    assert " ".join(number_words(1_000_000_000_001)) == "ONE TRILLION ONE"


def test_case_rule_ignores_markers_and_names_the_word():
    assert case_problem("HELLO <unk> [noise] <s> WORLD") is None
    assert case_problem("HELLO world") .startswith("transcript is not upper case ('world')")
    assert case_problem("") is None


def test_normalize_file_keeps_kaldi_ids(tmp_path):
    src = tmp_path / "text"
    src.write_text("utt1\thello, world 7\nutt2 ALREADY FINE\n")
    assert normalize_file(src, tmp_path / "out", kaldi=True) == (1, 2)
    assert (tmp_path / "out").read_text() == "utt1 HELLO WORLD SEVEN\nutt2 ALREADY FINE\n"
    assert main(["normalize-text", str(src), str(src)]) == 0  # in place; plain text: the id is words too
    assert src.read_text() == "UTT ONE HELLO WORLD SEVEN\nUTT TWO ALREADY FINE\n"


@pytest.fixture
def tab_datadir(tmp_path, data_root):
    """A 4-utterance data dir whose files separate the id with a TAB (and CRLF on text)."""
    d = tmp_path / "tabbed"
    d.mkdir()
    wavs = sorted((data_root / "yesno" / "waves_yesno").glob("*.wav"))[:4]
    texts = ["YES", "NO YES", "GO HOME NOW", "YES NO NO"]
    utts = [f"spk-{i}" for i in range(4)]
    (d / "wav.scp").write_text("".join(f"{u}\t{w}\n" for u, w in zip(utts, wavs)))
    (d / "utt2spk").write_text("".join(f"{u}\tspk\n" for u in utts))
    (d / "text").write_bytes("".join(f"{u}\t{t}\r\n" for u, t in zip(utts, texts)).encode())
    return d


def test_tab_separated_text_reads_the_same_everywhere(tab_datadir, tmp_path, capsys):
    """Ids are stripped by the one reader: the LM holds every first word and no id; the lexicon
    has no id; scoring the text against itself is 0%."""
    assert main(["validate-data", str(tab_datadir)]) == 0
    arpa = tmp_path / "lm.arpa"
    assert main(["lm", "build", "--order", "2", "--tool", "builtin", "--data", str(tab_datadir), str(arpa)]) == 0
    unigrams = {ngram[0] for ngram in read_arpa(arpa)[0]}
    assert {"YES", "NO", "GO", "HOME", "NOW"} <= unigrams
    assert not any(w.startswith("spk") for w in unigrams), unigrams
    bigrams = set(read_arpa(arpa)[1])
    assert ("<s>", "GO") in bigrams and ("<s>", "YES") in bigrams  # first words kept as sentence starts
    lexicon = tmp_path / "lexicon.txt"
    assert main(["lexicon", "build", "--data", str(tab_datadir), "--out", str(lexicon)]) == 0
    assert sorted({line.split()[0] for line in lexicon.read_text().splitlines()}) == ["GO", "HOME", "NO", "NOW", "YES"]
    assert main(["score", "--ref", str(tab_datadir / "text"), "--hyp", str(tab_datadir / "text"),
                 "--out", str(tmp_path / "score")]) == 0
    assert "%WER 0.00 [ 0 / 9," in capsys.readouterr().out


def test_every_reader_refuses_lower_case_text_the_same_way(tab_datadir, tmp_path, capsys):
    text = tab_datadir / "text"
    text.write_text("spk-0\tYES\nspk-1\tno YES\nspk-2\tGO HOME NOW\nspk-3\tYES NO NO\n")
    plain = tmp_path / "lm.txt"
    plain.write_text("YES NO\nno YES\n")
    problem = case_problem("no YES")
    assert main(["validate-data", str(tab_datadir)]) == 1
    assert capsys.readouterr().out.splitlines() == [f"{text}:2: {problem}"]
    for argv, where in [
        (["lexicon", "build", "--data", str(tab_datadir), "--out", str(tmp_path / "lex.txt")], f"{text}:2"),
        (["lexicon", "build", "--text", str(plain), "--out", str(tmp_path / "lex.txt")], f"{plain}:2"),
        (["lm", "build", "--tool", "builtin", "--data", str(tab_datadir), str(tmp_path / "lm.arpa")], f"{text}:2"),
        (["lm", "build", "--tool", "builtin", str(plain), str(tmp_path / "lm.arpa")], f"{plain}:2"),
        (["score", "--ref", str(text), "--hyp", str(text), "--out", str(tmp_path / "s")], f"{text}:2"),
        (["train", "ctc", str(tab_datadir), str(tmp_path / "exp")], f"{text}:2"),
    ]:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{where}: {problem}" in err, (argv, err)
    assert not any((tmp_path / name).exists() for name in ("lex.txt", "lm.arpa", "s", "exp"))
