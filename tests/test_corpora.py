"""Corpus preparation on the real corpora in ../shared/data (counts, splits, text, validity)."""
import re
import shutil
from pathlib import Path

import pytest
import soundfile as sf

from asr.corpora import CORPORA, load, prepare
from asr.corpora.text_norm import normalize_text
from asr.datadir import read_datadir, validate_datadir
from asr.errors import AsrError

# corpus -> split -> utterances (official counts from ../shared/data/README.md; dev carved from train)
EXPECTED = {
    "yesno": {"train": 30, "test": 30},
    "an4": {"train": 857, "dev": 91, "test": 130},
    "fsdd": {"train": 2400, "dev": 300, "test": 300},
    "kathleen": {"train": 1320, "dev": 147, "test": 153},
}
OFFICIAL_TRAIN = {"yesno": 30, "an4": 948, "fsdd": 2700, "kathleen": 1467}


@pytest.fixture(scope="module")
def prepared(data_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("corpora")
    return {c: prepare(c, data_root / c, out / c) for c in EXPECTED}


@pytest.mark.parametrize("corpus", sorted(EXPECTED))
def test_counts_and_validity(prepared, corpus):
    dirs = prepared[corpus]
    assert set(dirs) == set(EXPECTED[corpus])
    counts = {name: len(read_datadir(path)) for name, path in dirs.items()}
    assert counts == EXPECTED[corpus]
    assert counts["train"] + counts.get("dev", 0) == OFFICIAL_TRAIN[corpus]
    for path in dirs.values():
        assert validate_datadir(path) == []  # includes every audio file existing
        data = read_datadir(path)
        assert all(Path(p).is_absolute() for p in data.wav.values())
        assert all(u.startswith(s + "-") for u, s in data.utt2spk.items())
        # Kaldi's rule: sorting by utterance keeps each speaker's utterances together, in speaker order.
        assert [data.utt2spk[u] for u in data.utts] == sorted(data.utt2spk.values())
        assert all(t == normalize_text(t) for t in data.text.values())


@pytest.mark.parametrize("corpus", sorted(EXPECTED))
def test_splits_are_disjoint(prepared, corpus):
    datas = {name: read_datadir(path) for name, path in prepared[corpus].items()}
    audio = [set(d.wav.values()) for d in datas.values()]
    assert sum(map(len, audio)) == len(set().union(*audio))


def test_an4_speakers(prepared, data_root):
    data = {name: read_datadir(path) for name, path in prepared["an4"].items()}
    speakers = {name: set(d.spk2utt) for name, d in data.items()}
    assert len(speakers["test"]) == 10
    assert len(speakers["train"]) + len(speakers["dev"]) == 74
    assert not speakers["test"] & (speakers["train"] | speakers["dev"])
    assert not speakers["train"] & speakers["dev"]
    # The speaker is the folder named in the official file id list.
    fileids = (data_root / "an4/etc/an4_test.fileids").read_text().split()
    assert speakers["test"] == {f.split("/")[1] for f in fileids}
    test = data["test"]
    assert test.text["fcaw-an406-fcaw-b"] == "RUBOUT G M E F THREE NINE"  # a line without <s> </s>
    assert data["train"].text["fash-an251-fash-b"] == "YES"  # '<s> YES </s> (an251-fash-b)'
    assert sum(len(t.split()) for t in test.text.values()) == 773  # words in the published AN4 test


def test_yesno_labels(prepared):
    train = read_datadir(prepared["yesno"]["train"])
    assert train.text["yesno-0_0_0_0_1_1_1_1"] == "NO NO NO NO YES YES YES YES"
    test = read_datadir(prepared["yesno"]["test"])
    assert min(test.utts) > max(train.utts)  # Kaldi's split: first 30 of the sorted list train


def test_fsdd_takes(prepared):
    data = {name: read_datadir(path) for name, path in prepared["fsdd"].items()}
    takes = {name: {int(u.rsplit("-", 1)[1]) for u in d.utts} for name, d in data.items()}
    assert takes == {"test": set(range(5)), "dev": set(range(5, 10)), "train": set(range(10, 50))}
    assert data["test"].text["jackson-7-03"] == "SEVEN"
    assert len(data["test"].spk2utt) == len(data["train"].spk2utt) == 6


def test_kathleen_prompt_disjoint(prepared, data_root):
    data = {name: read_datadir(path) for name, path in prepared["kathleen"].items()}
    prompt = lambda utt: int(re.search(r"arctic_[ab](\d{4})", utt)[1])
    prompts = {name: {prompt(u) for u in d.utts} for name, d in data.items()}
    assert all(p % 10 == 0 for p in prompts["test"])
    assert all(p % 10 == 5 for p in prompts["dev"])
    assert all(p % 5 for p in prompts["train"])
    # Transcripts normalise to the lm_text prompt lines, except where the reader changed a
    # word (19 recordings read something other than the prompt).
    lm_lines = set()
    for name in ("train", "test"):
        lm_lines |= set((data_root / f"lm_text/arctic_prompts.{name}.norm.txt").read_text().splitlines())
    texts = [t for d in data.values() for t in d.text.values()]
    assert sum(t not in lm_lines for t in texts) == 19
    assert data["test"].text["kathleen-arctic_a0010_1592748378"] == "I'M PLAYING A SINGLE HAND IN WHAT LOOKS LIKE A LOSING GAME"


def test_normaliser_matches_published_arctic_normalisation(data_root):
    """Every ARCTIC prompt normalises to the line of the independently made lm_text files."""
    rows = re.findall(r'\( arctic_[ab](\d{4}) "(.*)" \)', (data_root / "kathleen/cmuarctic.data").read_text())
    assert len(rows) == 1132
    for split, keep in (("train", lambda n: n % 10), ("test", lambda n: n % 10 == 0)):
        mine = [normalize_text(text) for number, text in rows if keep(int(number))]
        assert mine == (data_root / f"lm_text/arctic_prompts.{split}.norm.txt").read_text().splitlines()


@pytest.mark.parametrize("raw, expected", [
    ("Author of the danger trail, Philip Steels, etc.", "AUTHOR OF THE DANGER TRAIL PHILIP STEELS ETC"),
    ("I don't know.", "I DON'T KNOW"),
    ("God bless 'em, I hope I'll go on", "GOD BLESS EM I HOPE I'LL GO ON"),
    ("The log on which Lop-Ear was lying", "THE LOG ON WHICH LOP EAR WAS LYING"),
    ("I was sick once -- typhoid.", "I WAS SICK ONCE TYPHOID"),
    ("the boys' dog", "THE BOYS DOG"),
    ("O\u2019Brien said \u201cyes\u201d", "O'BRIEN SAID YES"),
    ("Caf\u00e9 na\u00efve", "CAFE NAIVE"),
    ("  spaced \t out\n", "SPACED OUT"),
    ("<s> ENTER SIX </s>", "S ENTER SIX S"),  # markup is not the normaliser's job (an4 strips it first)
    ("...", ""),
])
def test_normalize_text(raw, expected):
    assert normalize_text(raw) == expected


def test_librispeech_layout(data_root, tmp_path):
    """A tiny LibriSpeech tree made from real kathleen recordings, with hand-written transcripts."""
    flacs = sorted((data_root / "kathleen/data").glob("arctic_a000*.flac"))[:5]
    root = tmp_path / "LibriSpeech"
    layout = {"train-clean-5": [("19", "198", flacs[0:2]), ("26", "495", flacs[2:3])],
              "dev-clean-2": [("84", "121123", flacs[3:4])],
              "test-clean": [("1089", "134686", flacs[4:5])]}
    for part, chapters in layout.items():
        for reader, chapter, files in chapters:
            folder = root / part / reader / chapter
            folder.mkdir(parents=True)
            lines = []
            for n, flac in enumerate(files):
                utt = f"{reader}-{chapter}-{n:04d}"
                shutil.copy(flac, folder / f"{utt}.flac")
                lines.append(f"{utt} HELLO WORLD NUMBER {n} IT'S FINE")
            (folder / f"{reader}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
    out = prepare("librispeech", tmp_path, tmp_path / "data")
    assert set(out) == {"train", "dev", "test"}
    train = read_datadir(out["train"])
    assert train.utts == ["19-198-0000", "19-198-0001", "26-495-0000"]
    assert train.utt2spk["26-495-0000"] == "26"
    assert train.text["19-198-0001"] == "HELLO WORLD NUMBER ONE IT'S FINE"
    assert read_datadir(out["test"]).utt2spk == {"1089-134686-0000": "1089"}
    for path in out.values():
        assert validate_datadir(path) == []
    # One part given directly gives one data dir.
    assert set(prepare("librispeech", root / "dev-clean-2", tmp_path / "one")) == {"dev"}


def test_an4_sphere_edition(data_root, tmp_path):
    """CMU's an4_sphere.tar.gz has .sph audio: prepare finds it and soundfile reads it."""
    src = tmp_path / "an4"
    shutil.copytree(data_root / "an4/etc", src / "etc")
    ids = (src / "etc/an4_test.fileids").read_text().split()[:3]
    train_ids = (src / "etc/an4_train.fileids").read_text().split()[:2]
    for name, keep in (("test", ids), ("train", train_ids)):
        lines = (src / f"etc/an4_{name}.transcription").read_text().splitlines()[:len(keep)]
        (src / f"etc/an4_{name}.transcription").write_text("\n".join(lines) + "\n")
        (src / f"etc/an4_{name}.fileids").write_text("\n".join(keep) + "\n")
        for file_id in keep:
            samples, rate = sf.read(data_root / "an4/wav" / f"{file_id}.wav")
            (src / "wav" / file_id).parent.mkdir(parents=True, exist_ok=True)
            sf.write(src / "wav" / f"{file_id}.sph", samples, rate, format="NIST", subtype="PCM_16")
    out = prepare("an4", src, tmp_path / "data")
    test = read_datadir(out["test"])
    assert len(test) == 3 and all(p.endswith(".sph") for p in test.wav.values())
    # Without the .fileids lists, paths come from the ids; same result.
    for name in ("train", "test"):
        (src / f"etc/an4_{name}.fileids").unlink()
    again = prepare("an4", src, tmp_path / "data2")
    assert read_datadir(again["test"]).wav == test.wav
    from asr.audio import load_audio
    samples, rate = load_audio(test.wav[test.utts[0]])
    assert rate == 16000 and len(samples) > 0


def test_bad_sources(data_root, tmp_path):
    with pytest.raises(AsrError, match="no-such-dir"):
        prepare("an4", tmp_path / "no-such-dir", tmp_path / "out")
    with pytest.raises(AsrError, match="unknown corpus"):
        load("timit", tmp_path)
    # Missing transcription file.
    src = tmp_path / "an4"
    shutil.copytree(data_root / "an4/etc", src / "etc")
    (src / "wav").symlink_to(data_root / "an4/wav")
    (src / "etc/an4_test.transcription").unlink()
    with pytest.raises(AsrError, match=r"an4_test\.transcription: missing"):
        load("an4", src)
    # A malformed transcription line is named with its line number.
    (src / "etc/an4_test.transcription").write_text("ERASE C Q Q F SEVEN an407-fcaw-b\n")
    with pytest.raises(AsrError, match=r"an4_test\.transcription:1: expected"):
        load("an4", src)
    # A missing audio file is named.
    yes = tmp_path / "yesno/waves_yesno"
    yes.mkdir(parents=True)
    for wav in sorted((data_root / "yesno/waves_yesno").glob("*.wav"))[:2]:
        (yes / wav.name).symlink_to(wav)
    (yes / "1_1_1_1_1_1_1_1.wav").symlink_to(tmp_path / "dangling.wav")
    with pytest.raises(AsrError, match=r"1_1_1_1_1_1_1_1\.wav: audio file"):
        load("yesno", yes.parent)
    # A file name that is not a label sequence.
    (yes / "1_1_1_1_1_1_1_1.wav").unlink()
    (yes / "hello.wav").symlink_to(next(yes.iterdir()).resolve())
    with pytest.raises(AsrError, match=r"hello\.wav: file name"):
        load("yesno", yes.parent)
    # Empty source trees.
    (tmp_path / "fsdd/recordings").mkdir(parents=True)
    with pytest.raises(AsrError, match=r"recordings: no \.wav"):
        load("fsdd", tmp_path / "fsdd")
    with pytest.raises(AsrError, match=r"fsdd/data: missing data directory"):
        load("kathleen", tmp_path / "fsdd")


def test_every_corpus_has_a_module():
    for corpus in CORPORA:
        assert callable(__import__(f"asr.corpora.{corpus}", fromlist=["load"]).load)


def test_cli_prepare(data_root, tmp_path, capsys):
    from asr.cli import main

    assert main(["prepare", "yesno", str(data_root / "yesno"), str(tmp_path / "yesno")]) == 0
    out = capsys.readouterr().out
    assert "train: 30 utterances, 1 speakers" in out and "test: 30 utterances" in out
    assert main(["prepare", "an4", str(tmp_path / "nowhere"), str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nowhere" in err
