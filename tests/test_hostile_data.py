"""Hostile data through the CLI: data dirs, transcripts, LM text, tables, subsets, scoring.

For each input: a non-zero exit with one line on stderr (`asr: error: <file>...: <problem>`) and no
output written, or (for input that is merely unusual: TABs, CRLF) the correct result. Never a
traceback: an unexpected exception fails the test.
"""
import pytest

from asr.cli import main

LATIN1 = "CAF\xe9".encode("latin-1")  # not UTF-8


@pytest.fixture
def data(tmp_path, data_root):
    """A valid 3-utterance data dir from yesno audio (ids prefixed by the speaker)."""
    d = tmp_path / "data"
    d.mkdir()
    wavs = sorted((data_root / "yesno" / "waves_yesno").glob("*.wav"))[:3]
    utts = [f"spk-{i}" for i in range(3)]
    (d / "wav.scp").write_text("".join(f"{u} {w}\n" for u, w in zip(utts, wavs)))
    (d / "utt2spk").write_text("".join(f"{u} spk\n" for u in utts))
    (d / "text").write_text("".join(f"{u} YES NO\n" for u in utts))
    return d


def _segments(d, lines):
    """Turn the data dir into one recording (spk-0's audio) cut into segments."""
    wav = (d / "wav.scp").read_text().split()[1]
    (d / "wav.scp").write_text(f"rec {wav}\n")
    (d / "segments").write_text(lines)


def _librispeech_trans(t, content: bytes):
    chapter = t / "ls" / "dev-clean" / "19" / "198"
    chapter.mkdir(parents=True)
    (chapter / "19-198.trans.txt").write_bytes(content)


# Each case: (name, setup(tmp_path, data dir) -> argv, text the single stderr line must contain).
# `{d}` and `{t}` in the expected text stand for the data dir and tmp_path.
def _nonutf8_text(t, d):
    (d / "text").write_bytes(b"spk-0 YES\nspk-1 " + LATIN1 + b"\nspk-2 NO\n")
    return ["validate-data", str(d)]


CASES = {
    "validate non-UTF-8 text": (_nonutf8_text, "{d}: 1 problem(s)"),
    "validate duplicate id": (
        lambda t, d: ((d / "text").write_text("spk-0 YES\nspk-1 NO\nspk-0 YES\nspk-2 NO\n"), ["validate-data", str(d)])[1],
        "{d}: 1 problem(s)"),
    "validate segment end before start": (
        lambda t, d: (_segments(d, "spk-0 rec 0 1\nspk-1 rec 2 1.5\nspk-2 rec 3 4\n"), ["validate-data", str(d)])[1],
        "{d}: 1 problem(s)"),
    "validate segment negative start": (
        lambda t, d: (_segments(d, "spk-0 rec -1 1\nspk-1 rec 1 2\nspk-2 rec 3 4\n"), ["validate-data", str(d)])[1],
        "{d}: 1 problem(s)"),
    "validate segment past the audio": (
        lambda t, d: (_segments(d, "spk-0 rec 0 1\nspk-1 rec 1 2\nspk-2 rec 3 60\n"), ["validate-data", str(d)])[1],
        "{d}: 1 problem(s)"),
    "validate segment times not numbers": (
        lambda t, d: (_segments(d, "spk-0 rec 0 1\nspk-1 rec a b\nspk-2 rec 3 nan\n"), ["validate-data", str(d)])[1],
        "{d}: 2 problem(s)"),
    "score non-UTF-8 hypothesis": (
        lambda t, d: ((t / "hyp").write_bytes(b"spk-0 " + LATIN1 + b"\n"),
                      ["score", "--ref", str(d / "text"), "--hyp", str(t / "hyp"), "--out", str(t / "out")])[1],
        "{t}/hyp:1: not UTF-8 text"),
    "score non-UTF-8 reference": (
        lambda t, d: ((d / "text").write_bytes(b"spk-0 YES\n\nspk-1 " + LATIN1 + b"\n"),
                      ["score", "--ref", str(d / "text"), "--hyp", str(d / "text"), "--out", str(t / "out")])[1],
        "{d}/text:3: not UTF-8 text"),
    "score lower-case reference": (
        lambda t, d: ((d / "text").write_text("spk-0 yes\n"),
                      ["score", "--ref", str(d / "text"), "--hyp", str(d / "text"), "--out", str(t / "out")])[1],
        "{d}/text:1: transcript is not upper case ('yes')"),
    "score duplicate hypothesis": (
        lambda t, d: ((t / "hyp").write_text("spk-0 YES\nspk-0\tNO\n"),
                      ["score", "--ref", str(d / "text"), "--hyp", str(t / "hyp"), "--out", str(t / "out")])[1],
        "{t}/hyp:2: duplicate utterance id 'spk-0'"),
    "lexicon build non-UTF-8 data text": (
        lambda t, d: ((d / "text").write_bytes(b"spk-0 " + LATIN1 + b"\n"),
                      ["lexicon", "build", "--data", str(d), "--out", str(t / "out")])[1],
        "{d}/text:1: not UTF-8 text"),
    "lexicon build non-UTF-8 LM text": (
        lambda t, d: ((t / "lm.txt").write_bytes(b"YES\n" + LATIN1 + b"\n"),
                      ["lexicon", "build", "--text", str(t / "lm.txt"), "--out", str(t / "out")])[1],
        "{t}/lm.txt:2: not UTF-8 text"),
    "lexicon build lower-case text": (
        lambda t, d: ((d / "text").write_text("spk-0 YES\nspk-1\tyes no\n"),
                      ["lexicon", "build", "--data", str(d), "--out", str(t / "out")])[1],
        "{d}/text:2: transcript is not upper case"),
    "lm build non-UTF-8 text": (
        lambda t, d: ((t / "lm.txt").write_bytes(LATIN1 + b"\n"), ["lm", "build", str(t / "lm.txt"), str(t / "out")])[1],
        "{t}/lm.txt:1: not UTF-8 text"),
    "lm build lower-case text": (
        lambda t, d: ((t / "lm.txt").write_text("YES NO\nyes\n"), ["lm", "build", str(t / "lm.txt"), str(t / "out")])[1],
        "{t}/lm.txt:2: transcript is not upper case"),
    "lm build --data without text": (
        lambda t, d: ((d / "text").unlink(), ["lm", "build", "--data", str(d), str(t / "out")])[1],
        "{d}: data dir has no text file"),
    "lm build --data missing dir": (
        lambda t, d: ["lm", "build", "--data", str(t / "nowhere"), str(t / "out")], "{t}/nowhere: no such data directory"),
    "lm build nothing to read": (lambda t, d: ["lm", "build", str(t / "out")], "give TEXT files and/or --data DIR"),
    "normalize-text non-UTF-8": (
        lambda t, d: ((t / "in.txt").write_bytes(b"ok\n" + LATIN1 + b"\n"), ["normalize-text", str(t / "in.txt"), str(t / "out")])[1],
        "{t}/in.txt:2: not UTF-8 text"),
    "subset hours beyond the data": (lambda t, d: ["subset-data", str(d), str(t / "out"), "--hours", "2"],
                                     "subset: asked for 2 hours, the data dir has 0.0"),
    "subset hours nan": (lambda t, d: ["subset-data", str(d), str(t / "out"), "--hours", "nan"],
                         "hours must be a positive number, got nan"),
    "subset zero speakers": (lambda t, d: ["subset-data", str(d), str(t / "out"), "--speakers", "0"],
                             "asked for 0 speakers, the data dir has 1"),
    "subset too many speakers": (lambda t, d: ["subset-data", str(d), str(t / "out"), "--speakers", "2"],
                                 "asked for 2 speakers, the data dir has 1"),
    "subset missing utt list": (lambda t, d: ["subset-data", str(d), str(t / "out"), "--utt-list", str(t / "none")],
                                "{t}/none: no such file"),
    "subset empty speaker list": (
        lambda t, d: ((t / "spk").write_text("\n\n"), ["subset-data", str(d), str(t / "out"), "--speaker-list", str(t / "spk")])[1],
        "{t}/spk: empty list"),
    "subset exclude a file": (
        lambda t, d: ["subset-data", str(d), str(t / "out"), "--exclude", str(d / "text")],
        "{d}/text: not a data directory"),
    "subset exclude everything": (lambda t, d: ["subset-data", str(d), str(t / "out"), "--exclude", str(d)],
                                  "excluding its utterances leaves nothing"),
    "subset lower-case source": (
        lambda t, d: ((d / "text").write_text("spk-0 YES\nspk-1 no\nspk-2 YES\n"), ["subset-data", str(d), str(t / "out"), "--utts", "1"])[1],
        "{d}/text:2: transcript is not upper case"),
    "prepare folder missing source": (lambda t, d: ["prepare", "folder", str(t / "nowhere"), str(t / "out")],
                                      "{t}/nowhere: no such folder or file"),
    "prepare folder audio file as source": (
        lambda t, d: ["prepare", "folder", (d / "wav.scp").read_text().split()[1], str(t / "out")], "an audio file; give the folder"),
    "prepare folder empty folder": (lambda t, d: ((t / "empty").mkdir(), ["prepare", "folder", str(t / "empty"), str(t / "out")])[1],
                                    "{t}/empty: no audio files"),
    "prepare folder csv without path column": (
        lambda t, d: ((t / "l.csv").write_text("id,words\n1,HI\n"), ["prepare", "folder", str(t / "l.csv"), str(t / "out")])[1],
        "{t}/l.csv:1: no audio path and text columns"),
    "prepare folder ragged tsv": (
        lambda t, d: ((t / "l.tsv").write_text("path\ttext\na.wav\thi\tthere\n"), ["prepare", "folder", str(t / "l.tsv"), str(t / "out")])[1],
        "{t}/l.tsv:2: 3 columns where the first line has 2"),
    "prepare folder non-UTF-8 csv": (
        lambda t, d: ((t / "l.csv").write_bytes(b"path,text\na.wav," + LATIN1 + b"\n"), ["prepare", "folder", str(t / "l.csv"), str(t / "out")])[1],
        "{t}/l.csv:2: not UTF-8 text"),
    "prepare folder nothing usable": (
        lambda t, d: ((t / "l.csv").write_text("path,text\na.wav,hi\nb.wav,\n"), ["prepare", "folder", str(t / "l.csv"), str(t / "out")])[1],
        "{t}/l.csv: no usable utterances (2 skipped"),
    "prepare librispeech non-UTF-8 transcript": (
        lambda t, d: (_librispeech_trans(t, b"19-198-0000 " + LATIN1 + b"\n"), ["prepare", "librispeech", str(t / "ls"), str(t / "out")])[1],
        "{t}/ls/dev-clean/19/198/19-198.trans.txt:1: not UTF-8 text"),
    "prepare folder bad speaker pattern": (
        lambda t, d: ["prepare", "folder", str(d), str(t / "out"), "--speaker-pattern", "[a-"], "not a regular expression"),
}


@pytest.mark.parametrize("name", CASES)
def test_hostile_data_gives_one_line_error_and_no_output(name, tmp_path, data, capsys):
    setup, expected = CASES[name]
    argv = setup(tmp_path, data)
    assert main(argv) != 0, name
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("asr: error: "), (name, err)
    assert expected.format(d=data, t=tmp_path) in err, (name, err)
    assert not (tmp_path / "out").exists(), name


def test_validate_data_names_each_problem_on_stdout(tmp_path, data, capsys):
    _nonutf8_text(tmp_path, data)
    main(["validate-data", str(data)])
    assert capsys.readouterr().out.splitlines() == [
        f"{data}/text:2: not UTF-8 text (byte 0xe9 at column 10); convert the file to UTF-8"]
    (data / "text").write_text("spk-0 YES\nspk-1 NO\nspk-0 YES\nspk-2 NO\n")
    main(["validate-data", str(data)])
    assert capsys.readouterr().out.splitlines() == [f"{data}/text:3: duplicate utterance id 'spk-0' (first at line 1)"]


def test_tab_crlf_and_bom_files_give_correct_results(tmp_path, data, capsys):
    """Unusual but valid: TAB after the id, CRLF endings, a UTF-8 byte-order mark, trailing blanks."""
    for name in ("wav.scp", "utt2spk", "text"):
        lines = (data / name).read_text().splitlines()
        (data / name).write_bytes(b"\xef\xbb\xbf" + "".join(l.replace(" ", "\t", 1) + "  \r\n" for l in lines).encode())
    assert main(["validate-data", str(data)]) == 0
    (tmp_path / "hyp").write_text("spk-0\tYES\r\nspk-1   YES  NO\nspk-2\t\n")
    assert main(["score", "--ref", str(data / "text"), "--hyp", str(tmp_path / "hyp"), "--out", str(tmp_path / "s")]) == 0
    assert "%WER 50.00 [ 3 / 6, 0 ins, 3 del, 0 sub ]" in capsys.readouterr().out
    assert main(["lm", "build", "--tool", "builtin", "--order", "2", "--data", str(data), str(tmp_path / "lm.arpa")]) == 0
    arpa = (tmp_path / "lm.arpa").read_text()
    assert "spk-" not in arpa and "\tYES" in arpa
    assert main(["subset-data", str(data), str(tmp_path / "sub"), "--utts", "2"]) == 0
    assert (tmp_path / "sub" / "text").read_text().count("YES NO") == 2
