"""AN4 (CMU census / alphanumeric): 948 training and 130 test utterances, speaker-disjoint.

Layout (github.com/cmusphinx/an4, or CMU's an4_sphere.tar.gz with .sph instead of .wav):
SRC/etc/an4_{train,test}.fileids list `<dir>/<spk>/<id>`, in the same order as
SRC/etc/an4_{train,test}.transcription, whose lines are `<s> TEXT </s> (<id>)` (the `<s> </s>`
markers are missing on some lines); audio is SRC/wav/<dir>/<spk>/<id>.wav (or .sph). Without a
.fileids list the path is derived from the id (an251-fash-b: wav/an4_clstk/fash/an251-fash-b).

Dev: the official test set is kept for testing only, so dev is carved out of training as whole
speakers: every DEV_SPEAKER_STRIDE-th training speaker in sorted order, starting at the
DEV_SPEAKER_OFFSET-th (7 of the 74 speakers, about 10% of the utterances; female and male
speakers in roughly the training mix, since the sorted ids start with f or m).
"""
from __future__ import annotations

import re
from pathlib import Path

from asr.corpora.common import add_utterance, require_dir, require_file, split_by
from asr.corpora.text_norm import normalize_text
from asr.datadir import DataDir
from asr.errors import AsrError
from asr.fileio import read_lines

AUDIO_SUFFIXES = (".wav", ".sph")  # WAV edition (github) or the original NIST SPHERE release
AUDIO_DIRS = {"train": "an4_clstk", "test": "an4test_clstk"}  # audio folders under wav/
DEV_SPEAKER_STRIDE = 10  # one training speaker in ten goes to dev ...
DEV_SPEAKER_OFFSET = 5  # ... starting from the sixth in sorted order
TRANSCRIPT_LINE = re.compile(r"^(?P<text>.*?)\s*\((?P<id>[^()\s]+)\)\s*$")
SENTENCE_MARKERS = re.compile(r"</?s>")


def read_transcription(path: Path) -> list[tuple[str, str]]:
    """(file id, normalised text) for each line of an an4_*.transcription file."""
    rows = []
    for lineno, line in read_lines(path):
        if not line.strip():
            continue
        match = TRANSCRIPT_LINE.match(line)
        if not match:
            raise AsrError(f"{path}:{lineno}: expected '<s> TEXT </s> (<id>)', got {line!r}")
        text = normalize_text(SENTENCE_MARKERS.sub(" ", match["text"]))
        rows.append((match["id"], text))
    return rows


def find_audio(wav_dir: Path, file_id: str) -> Path:
    for suffix in AUDIO_SUFFIXES:
        path = wav_dir / f"{file_id}{suffix}"
        if path.is_file():
            return path
    raise AsrError(f"{wav_dir / file_id}.wav: audio file is missing (no .wav or .sph)")


def file_ids(src: Path, part: str, rows: list[tuple[str, str]]) -> tuple[list[str], Path]:
    """`<dir>/<spk>/<id>` for each transcription row, from etc/an4_<part>.fileids or, when that
    list is absent, from the id itself (`an251-fash-b` is speaker fash)."""
    listing = src / "etc" / f"an4_{part}.fileids"
    if listing.is_file():
        return [line.strip() for _, line in read_lines(listing) if line.strip()], listing
    ids = []
    for utt_name, _ in rows:
        fields = utt_name.split("-")
        if len(fields) < 3:
            raise AsrError(f"{listing}: missing, and id {utt_name!r} does not name its speaker")
        ids.append(f"{AUDIO_DIRS[part]}/{fields[1]}/{utt_name}")
    return ids, listing


def load_part(src: Path, part: str) -> DataDir:
    """One official part ('train' or 'test') as a data dir."""
    transcription = require_file(src / "etc" / f"an4_{part}.transcription", "transcription")
    wav_dir = require_dir(src / "wav", "wav")
    rows = read_transcription(transcription)
    ids, fileids = file_ids(src, part, rows)
    if len(ids) != len(rows):
        raise AsrError(f"{transcription}: {len(rows)} lines but {fileids} lists {len(ids)} files")
    data = DataDir()
    for lineno, (file_id, (utt_name, text)) in enumerate(zip(ids, rows), 1):
        parts = file_id.split("/")
        if len(parts) != 3 or parts[2] != utt_name:
            raise AsrError(f"{fileids}:{lineno}: {file_id!r} does not match transcription id {utt_name!r}")
        speaker = parts[1]
        add_utterance(data, f"{speaker}-{utt_name}", speaker, find_audio(wav_dir, file_id), text, transcription)
    return data


def dev_speakers(train: DataDir) -> set[str]:
    speakers = sorted(train.spk2utt)
    return set(speakers[DEV_SPEAKER_OFFSET::DEV_SPEAKER_STRIDE])


def load(src: Path) -> dict[str, DataDir]:
    require_dir(src, "AN4 root")
    official_train = load_part(src, "train")
    test = load_part(src, "test")
    shared = set(official_train.spk2utt) & set(test.spk2utt)
    if shared:
        raise AsrError(f"{src / 'etc'}: speakers {sorted(shared)} are in both train and test")
    held_out = dev_speakers(official_train)
    train, dev = split_by(official_train, lambda utt: official_train.utt2spk[utt] in held_out)
    return {"train": train, "dev": dev, "test": test}
