"""Kaldi data dirs: read/write, validation problems with file and line, nested subsets, combine."""
import pytest

from asr.cli import main
from asr.datadir import (DataDir, check_datadir, combine, read_datadir, subset, utterance_seconds,
                         validate_datadir, write_datadir)
from asr.errors import AsrError

WORDS = {"0": "NO", "1": "YES"}


@pytest.fixture
def yesno(data_root) -> DataDir:
    """The 60 real yesno recordings as one data dir (file name = transcript)."""
    data = DataDir()
    for wav in sorted((data_root / "yesno" / "waves_yesno").glob("*.wav")):
        utt = f"yesno-{wav.stem}"
        data.wav[utt] = str(wav.resolve())
        data.text[utt] = " ".join(WORDS[b] for b in wav.stem.split("_"))
        data.utt2spk[utt] = "yesno"
    return data


def test_write_read_round_trip_is_sorted_and_valid(tmp_path, yesno):
    write_datadir(yesno, tmp_path / "d")
    assert validate_datadir(tmp_path / "d") == []
    back = read_datadir(tmp_path / "d")
    assert back.wav == yesno.wav and back.text == yesno.text and back.utt2spk == yesno.utt2spk
    lines = (tmp_path / "d" / "wav.scp").read_text().splitlines()
    assert lines == sorted(lines) and len(lines) == 60
    assert (tmp_path / "d" / "spk2utt").read_text().split()[0] == "yesno"


def _write(tmp_path, yesno, **files):
    d = tmp_path / "d"
    write_datadir(yesno.select(yesno.utts[:3]), d)
    for name, content in files.items():
        (d / name).write_text(content)
    return d


def test_validation_reports_each_problem_with_file_and_line(tmp_path, yesno):
    utts = yesno.utts[:3]
    d = _write(tmp_path, yesno,
               text=f"{utts[1]} YES\n{utts[0]} NO\n",                       # unsorted, utts[2] missing
               utt2spk="".join(f"{u} yesno\n" for u in utts))
    problems = validate_datadir(d)
    assert any(p.startswith(f"{d / 'text'}:2: not sorted") for p in problems), problems
    assert any("missing from text" in p and f"{d / 'utt2spk'}:3" in p for p in problems), problems


def test_validation_catches_missing_audio_empty_text_lower_case_and_speakers(tmp_path, yesno):
    utts = yesno.utts[:3]
    d = _write(tmp_path, yesno,
               text=f"{utts[0]} \n{utts[1]} yes no\n{utts[2]} YES\n",
               spk2utt=f"yesno {utts[0]} {utts[1]}\n")
    wav_lines = (d / "wav.scp").read_text().splitlines()
    wav_lines[2] = f"{utts[2]} {tmp_path}/gone.wav"
    (d / "wav.scp").write_text("\n".join(wav_lines) + "\n")
    problems = "\n".join(validate_datadir(d))
    assert f"{d / 'text'}:1: empty transcript" in problems
    assert f"{d / 'text'}:2: transcript is not upper case" in problems
    assert f"{d / 'wav.scp'}:3: audio file {tmp_path}/gone.wav does not exist" in problems
    assert f"{d / 'spk2utt'}:1: speaker 'yesno' does not match utt2spk" in problems


def test_malformed_dir_is_one_line_error(tmp_path, yesno):
    with pytest.raises(AsrError, match="not a data directory"):
        check_datadir(tmp_path / "nope")
    d = _write(tmp_path, yesno)
    (d / "utt2spk").unlink()
    with pytest.raises(AsrError, match="missing"):
        check_datadir(d)
    d = _write(tmp_path, yesno, utt2spk="onlyonefield\n")
    with pytest.raises(AsrError, match=r"utt2spk:1: expected"):
        read_datadir(d)


def test_subsets_are_nested_and_reproducible(yesno):
    small, large = subset(yesno, num_utts=10), subset(yesno, num_utts=30)
    assert set(small.utts) < set(large.utts)
    assert subset(yesno, num_utts=10).utts == small.utts
    assert subset(yesno, num_utts=10, seed=1).utts != small.utts
    assert small.text == {u: yesno.text[u] for u in small.utts}


def test_subset_by_hours_reaches_the_budget_and_nests(yesno):
    seconds = utterance_seconds(yesno)
    assert all(4.5 < s < 7.5 for s in seconds.values())  # yesno files last 4.9-7.0 s
    half_minute, two_minutes = subset(yesno, hours=30 / 3600), subset(yesno, hours=120 / 3600)
    assert 30 <= sum(seconds[u] for u in half_minute.utts) < 30 + 7
    assert set(half_minute.utts) < set(two_minutes.utts)


def test_combine_unions_and_rejects_duplicates(yesno):
    a, b = yesno.select(yesno.utts[:20]), yesno.select(yesno.utts[20:])
    both = combine([a, b])
    assert both.utts == yesno.utts
    with pytest.raises(AsrError, match="more than one data dir"):
        combine([a, a])


def test_cli_validate_subset_combine(tmp_path, yesno, capsys):
    write_datadir(yesno, tmp_path / "all")
    assert main(["validate-data", str(tmp_path / "all")]) == 0
    assert main(["subset-data", str(tmp_path / "all"), str(tmp_path / "sub"), "--utts", "7"]) == 0
    assert len(read_datadir(tmp_path / "sub")) == 7
    assert main(["combine-data", str(tmp_path / "both"), str(tmp_path / "sub"), str(tmp_path / "all")]) == 1
    assert "more than one data dir" in capsys.readouterr().err
    (tmp_path / "all" / "text").write_text("x yes\n")
    assert main(["validate-data", str(tmp_path / "all")]) == 1


# ---------------------------------------------------------------- one reader: whitespace, encodings, order

def test_tab_crlf_and_runs_of_spaces_read_and_validate_like_single_spaces(tmp_path, yesno):
    few = yesno.select(yesno.utts[:3])
    d = tmp_path / "d"
    write_datadir(few, d)
    for name in ("wav.scp", "text", "utt2spk", "spk2utt"):
        rows = (d / name).read_text().splitlines()
        (d / name).write_bytes("".join(r.replace(" ", "\t  ", 1) + " \t\r\n" for r in rows).encode())
    assert validate_datadir(d) == []
    back = read_datadir(d)
    assert back.wav == few.wav and back.text == few.text and back.utt2spk == few.utt2spk


def test_non_utf8_text_is_one_problem_with_file_and_line(tmp_path, yesno):
    utts = yesno.utts[:3]
    d = _write(tmp_path, yesno)
    (d / "text").write_bytes(f"{utts[0]} NO\n{utts[1]} CAF\xe9\n{utts[2]} YES\n".encode("latin-1"))
    assert validate_datadir(d) == [f"{d / 'text'}:2: not UTF-8 text (byte 0xe9 at column {len(utts[1]) + 5}); "
                                   "convert the file to UTF-8"]
    with pytest.raises(AsrError, match=r"text:2: not UTF-8"):
        read_datadir(d)


def test_duplicate_ids_are_called_duplicates_even_when_not_adjacent(tmp_path, yesno):
    utts = yesno.utts[:3]
    d = _write(tmp_path, yesno, text=f"{utts[0]} NO\n{utts[1]} YES\n{utts[0]} NO\n{utts[2]} YES\n")
    problems = validate_datadir(d)
    assert f"{d / 'text'}:3: duplicate utterance id {utts[0]!r} (first at line 1)" in problems
    assert not any("not sorted" in p for p in problems), problems


def _segmented(tmp_path, yesno, segments: str):
    """A data dir with one recording (the first yesno file) cut into the given segments."""
    rec = yesno.utts[0]
    seconds = utterance_seconds(yesno.select([rec]))[rec]
    d = tmp_path / "seg"
    d.mkdir()
    (d / "wav.scp").write_text(f"{rec} {yesno.wav[rec]}\n")
    lines = [line.split() for line in segments.format(rec=rec, end=seconds).splitlines()]
    (d / "segments").write_text("".join(" ".join(f) + "\n" for f in lines))
    (d / "utt2spk").write_text("".join(f"{f[0]} yesno\n" for f in lines))
    (d / "text").write_text("".join(f"{f[0]} YES\n" for f in lines))
    return d, seconds


def test_segments_out_of_range_are_reported(tmp_path, yesno):
    d, seconds = _segmented(tmp_path, yesno, "yesno-a {rec} 0.0 1.0\nyesno-b {rec} 2.0 2.0\n"
                                             "yesno-c {rec} -0.5 1.0\nyesno-d {rec} 1.0 {end}\n"
                                             "yesno-e {rec} 1.0 99\nyesno-f {rec} 3.0 1.0\n")
    problems = validate_datadir(d)
    seg = d / "segments"
    assert f"{seg}:2: segment 'yesno-b' ends at 2 s, not after its start (2 s)" in problems
    assert f"{seg}:3: segment 'yesno-c' starts before 0 (-0.5 s)" in problems
    assert f"{seg}:5: segment 'yesno-e' ends at 99 s, past the end of {yesno.wav[yesno.utts[0]]} ({seconds:.3f} s)" \
        in problems
    assert any(p.startswith(f"{seg}:6: segment 'yesno-f' ends at 1 s") for p in problems)
    assert len(problems) == 4, problems  # lines 1 and 4 (exactly to the end) are fine
    # without the audio check the end past the audio cannot be seen; the rest still is
    assert len(validate_datadir(d, check_audio=False)) == 3


# ---------------------------------------------------------------- subsets by speaker, by list, by exclusion

@pytest.fixture
def speakers(yesno) -> DataDir:
    """The 60 yesno files spread over 6 made-up speakers (10 each), ids prefixed with the speaker."""
    data = DataDir()
    for i, utt in enumerate(yesno.utts):
        spk = f"s{i % 6}"
        data.wav[f"{spk}-{utt}"] = yesno.wav[utt]
        data.text[f"{spk}-{utt}"] = yesno.text[utt]
        data.utt2spk[f"{spk}-{utt}"] = spk
    return data


def test_subset_by_speakers_keeps_whole_speakers_nested_and_seeded(speakers):
    from asr.datadir import subset_speakers

    two, four = subset_speakers(speakers, 2), subset_speakers(speakers, 4)
    assert len(two.spk2utt) == 2 and len(two) == 20
    assert set(two.spk2utt) < set(four.spk2utt)
    assert subset_speakers(speakers, 2).utts == two.utts
    assert {tuple(subset_speakers(speakers, 2, seed=s).spk2utt) for s in range(5)} != {tuple(two.spk2utt)}
    with pytest.raises(AsrError, match="asked for 7 speakers, the data dir has 6"):
        subset_speakers(speakers, 7)


def test_subset_beyond_the_data_is_an_error_for_hours_as_for_utts(yesno):
    total = sum(utterance_seconds(yesno).values()) / 3600
    assert len(subset(yesno, hours=total)) == 60  # exactly all is fine
    with pytest.raises(AsrError, match=rf"asked for 1 hours, the data dir has {total:.4f}"):
        subset(yesno, hours=1.0)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(AsrError, match="hours must be a positive number"):
            subset(yesno, hours=bad)
    with pytest.raises(AsrError, match="at least 1"):
        subset(yesno, num_utts=0)


def test_cli_subset_by_speakers_lists_and_exclusion_make_a_disjoint_dev(tmp_path, speakers, capsys, caplog):
    src, dev, train = tmp_path / "all", tmp_path / "dev", tmp_path / "train"
    write_datadir(speakers, src)
    assert main(["subset-data", str(src), str(dev), "--speakers", "2", "--seed", "3"]) == 0
    assert main(["subset-data", str(src), str(train), "--exclude", str(dev)]) == 0
    d, t = read_datadir(dev), read_datadir(train)
    assert len(d) + len(t) == 60 and not set(d.spk2utt) & set(t.spk2utt)
    assert validate_datadir(train) == [] and validate_datadir(dev) == []

    (tmp_path / "spk.list").write_text("s1\ns4\nnobody\n")
    assert main(["subset-data", str(src), str(tmp_path / "s14"), "--speaker-list", str(tmp_path / "spk.list")]) == 0
    assert set(read_datadir(tmp_path / "s14").spk2utt) == {"s1", "s4"}
    assert "1 of 3 listed speaker ids are not in" in caplog.text
    # an utterance list may be any Kaldi table: its first field is the id
    (tmp_path / "utts").write_text("".join(f"{u}\tanything\n" for u in speakers.utts[5:12]))
    assert main(["subset-data", str(src), str(tmp_path / "u"), "--utt-list", str(tmp_path / "utts")]) == 0
    assert read_datadir(tmp_path / "u").utts == speakers.utts[5:12]

    (tmp_path / "none.list").write_text("x\ny\n")
    assert main(["subset-data", str(src), str(tmp_path / "n"), "--utt-list", str(tmp_path / "none.list")]) == 1
    assert main(["subset-data", str(src), str(tmp_path / "n"), "--exclude", str(src)]) == 1
    assert main(["subset-data", str(src), str(tmp_path / "n"), "--hours", "5"]) == 1
    total = sum(utterance_seconds(speakers).values()) / 3600
    assert capsys.readouterr().err.splitlines() == [
        f"asr: error: {tmp_path / 'none.list'}: none of its 2 utt ids is in the data dir {src}",
        f"asr: error: {src}: excluding its utterances leaves nothing of {src}",
        f"asr: error: subset: asked for 5 hours, the data dir has {total:.4f}"]
    assert not (tmp_path / "n").exists()
