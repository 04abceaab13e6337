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
