"""`asr prepare folder`: users' own layouts (FSDD as a folder of wav + txt, AN4 as a TSV with
lower-case text) become one valid Kaldi data dir, with speakers, normalisation and a report."""
import pytest

from asr.cli import main
from asr.corpora.folder import REPORT_NAME, prepare_folder
from asr.datadir import read_datadir, validate_datadir
from asr.errors import AsrError

FSDD_SPEAKERS = ("george", "jackson", "lucas")


@pytest.fixture
def fsdd_folder(tmp_path, data_root):
    """36 FSDD recordings (3 speakers x 6 digits x 2 takes) as symlinks in nested folders, each with a
    .txt transcript holding the digit as a numeral ("7"), as a user who exported them would."""
    src = tmp_path / "fsdd_src"
    for speaker in FSDD_SPEAKERS:
        folder = src / "batch1" / speaker[0]  # folder names that are not the speaker
        folder.mkdir(parents=True)
        for digit in range(6):
            for take in (0, 1):
                name = f"{digit}_{speaker}_{take}"
                (folder / f"{name}.wav").symlink_to(data_root / "fsdd" / "recordings" / f"{name}.wav")
                (folder / f"{name}.txt").write_text(f"{digit}\n")
    return src


def test_fsdd_folder_with_speaker_pattern(fsdd_folder, tmp_path, capsys):
    out = tmp_path / "data"
    assert main(["prepare", "folder", str(fsdd_folder), str(out), "--speaker-pattern", "^[0-9]+_([a-z]+)_"]) == 0
    assert validate_datadir(out) == []
    data = read_datadir(out)
    assert len(data) == 36 and sorted(data.spk2utt) == list(FSDD_SPEAKERS)
    assert data.text["jackson-5_jackson_1"] == "FIVE"
    assert all(utt.startswith(spk + "-") for utt, spk in data.utt2spk.items())
    stdout = capsys.readouterr().out
    assert f"{out}: 36 utterances, 3 speakers" in stdout
    assert "transcripts changed by normalisation: 36 of 36" in stdout and "'3' -> 'THREE'" in stdout
    report = (out / REPORT_NAME).read_text()
    assert report.startswith(f"{out}: 36 utterances, 3 speakers") and "numbers spelled out" in report


def test_fsdd_folder_defaults_and_skips(fsdd_folder, tmp_path, caplog):
    """Speaker from the parent folder; missing transcript, missing audio and empty text are skipped
    and listed; --speaker-per-file gives each file its own speaker."""
    g = fsdd_folder / "batch1" / "g"
    (g / "0_george_0.txt").unlink()                 # audio without transcript
    (g / "1_george_0.wav").unlink()                 # transcript without audio
    (g / "2_george_0.txt").write_text(" ?! \n")     # nothing left after normalisation
    (g / "3_george_0.txt").write_text("")           # empty
    report = prepare_folder(fsdd_folder, tmp_path / "d")
    data = read_datadir(tmp_path / "d")
    assert len(data) == 32 and sorted(data.spk2utt) == ["g", "j", "l"]
    assert report.utterances == 32 and 0.0 < report.hours < 0.02
    reasons = sorted(why for _, why in report.skipped)
    assert reasons == ["audio file missing", "empty text", "empty text after normalisation",
                       "no transcript (.txt beside the audio)"]
    listed = (tmp_path / "d" / REPORT_NAME).read_text()
    assert f"skipped: {g / '0_george_0.wav'}: no transcript" in listed
    assert "the one speaker" not in caplog.text  # three folders: three speakers, no warning

    one = prepare_folder(g, tmp_path / "one")
    assert one.speakers == 1 and "every utterance has the one speaker 'g'" in caplog.text
    each = prepare_folder(g, tmp_path / "each", speaker_per_file=True)
    assert each.speakers == each.utterances == 8
    assert validate_datadir(tmp_path / "each") == []


def _an4_rows(data_root, count=12):
    """(absolute wav path, lower-case transcript, speaker) of the first AN4 training utterances."""
    an4 = data_root / "an4"
    ids = (an4 / "etc" / "an4_train.fileids").read_text().split()[:count]
    lines = (an4 / "etc" / "an4_train.transcription").read_text().splitlines()[:count]
    texts = [line.split("</s>")[0].replace("<s>", "").strip().lower() for line in lines]
    return [(an4 / "wav" / f"{i}.wav", t, i.split("/")[1]) for i, t in zip(ids, texts)]


def test_an4_tsv_lower_case_relative_paths_and_speaker_column(tmp_path, data_root):
    rows = _an4_rows(data_root)
    table = tmp_path / "corpus" / "list.tsv"
    (tmp_path / "corpus" / "audio").mkdir(parents=True)
    for wav, _, _ in rows:
        (tmp_path / "corpus" / "audio" / wav.name).symlink_to(wav)
    table.write_text("File\tTranscript\tSpeaker_ID\n"
                     + "".join(f"audio/{w.name}\t{t}\t{s}\n" for w, t, s in rows))
    out = tmp_path / "data"
    report = prepare_folder(table, out)
    data = read_datadir(out)
    assert validate_datadir(out) == [] and len(data) == 12
    assert data.spk2utt.keys() == {s for _, _, s in rows}
    for wav, text, speaker in rows:
        assert data.text[f"{speaker}-{wav.stem}"] == text.upper()
    assert report.changed == 12


def test_headerless_csv_two_columns(tmp_path, data_root):
    rows = _an4_rows(data_root, 4)
    table = tmp_path / "list.csv"
    table.write_text("".join(f'{w},"{t}, again!"\n' for w, t, _ in rows))
    prepare_folder(table, tmp_path / "data", speaker_per_file=True)
    data = read_datadir(tmp_path / "data")
    assert sorted(data.text.values()) == sorted(f"{t.upper()} AGAIN" for _, t, _ in rows)


@pytest.mark.parametrize("content, options, message", [
    ("name,words\na.wav,hi\n", {}, r"list\.csv:1: no audio path and text columns in the header"),
    ("path,text\n{wav},hello\n{wav},one,two\n", {}, r"list\.csv:3: 3 columns where the first line has 2"),
    ("path,text\nmissing.wav,hello\n", {}, r"no usable utterances \(1 skipped, first: .*audio file missing"),
    ("path,text\n", {}, r"list\.csv: no rows after the header"),
    ("path,text\n{wav},hello\n", {"speaker_pattern": "(unclosed"}, r"not a regular expression"),
    ("path,text\n{wav},hello\n", {"speaker_pattern": "^x"}, r"needs a group"),
    ("path,text\n{wav},hello\n", {"speaker_pattern": "^(zzz)"}, r"does not match the file name"),
    ("path,text\n{wav},hello\n", {"speaker_pattern": "(a)", "speaker_per_file": True}, r"not both"),
    ("path,text\n{wav},hello\n{wav},again\n", {}, r"utterance id .* is also that of"),
])
def test_bad_tables_and_options_are_one_line_errors(tmp_path, data_root, content, options, message):
    wav = _an4_rows(data_root, 1)[0][0]
    table = tmp_path / "list.csv"
    table.write_text(content.format(wav=wav))
    with pytest.raises(AsrError, match=message):
        prepare_folder(table, tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()


def test_cli_refuses_a_used_output_folder_and_non_utf8_transcripts(fsdd_folder, tmp_path, capsys):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "text").write_text("old\n")
    assert main(["prepare", "folder", str(fsdd_folder), str(tmp_path / "used")]) == 1
    bad = fsdd_folder / "batch1" / "l" / "4_lucas_1.txt"
    bad.write_bytes(b"caf\xe9\n")
    assert main(["prepare", "folder", str(fsdd_folder), str(tmp_path / "new")]) == 1
    assert main(["prepare", "an4", str(fsdd_folder), str(tmp_path / "x"), "--speaker-per-file"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"asr: error: {tmp_path / 'used'}: already exists and is not an empty folder; choose a new output folder",
        f"asr: error: {bad}:1: not UTF-8 text (byte 0xe9 at column 4); convert the file to UTF-8",
        "asr: error: prepare an4: --speaker-pattern and --speaker-per-file are for `asr prepare folder`"]
    assert not (tmp_path / "new").exists()
