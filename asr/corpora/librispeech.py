"""LibriSpeech (OpenSLR SLR12) and Mini LibriSpeech (SLR31): read audiobooks, 16 kHz FLAC.

Layout: <part>/<reader>/<chapter>/<reader>-<chapter>-<NNNN>.flac with one
<reader>-<chapter>.trans.txt per chapter (`<utt id> TRANSCRIPT` lines, already upper case).
SRC is the LibriSpeech folder holding the parts (or its parent, or one part itself).
Parts go to data dirs by name: train-* -> train (all training parts pooled), dev-clean* -> dev,
test-clean -> test, dev-other -> dev_other, test-other -> test_other. Mini LibriSpeech has no
test part (Kaldi's mini_librispeech recipe tests on dev-clean-2).
The speaker is the reader (for speaker CMVN); utterance ids are LibriSpeech's own, which start
with the reader id.
"""
from __future__ import annotations

from pathlib import Path

from asr.corpora.common import add_utterance, require_dir
from asr.corpora.text_norm import normalize_text
from asr.datadir import DataDir
from asr.errors import AsrError
from asr.fileio import read_lines


def split_of(part: str) -> str | None:
    """The data dir a LibriSpeech part goes to, None for a folder that is not a part."""
    if part.startswith("train-"):
        return "train"
    if part.startswith("dev-clean"):
        return "dev"
    if part.startswith("test-clean"):
        return "test"
    if part in ("dev-other", "test-other"):
        return part.replace("-", "_")
    return None


def find_parts(src: Path) -> list[Path]:
    require_dir(src, "LibriSpeech")
    if split_of(src.name):
        return [src]
    root = src / "LibriSpeech" if (src / "LibriSpeech").is_dir() else src
    parts = sorted(p for p in root.iterdir() if p.is_dir() and split_of(p.name))
    if not parts:
        raise AsrError(f"{root}: no LibriSpeech parts (expected folders such as train-clean-100, dev-clean, test-clean)")
    return parts


def load_part(part: Path, data: DataDir) -> None:
    transcripts = sorted(part.glob("*/*/*.trans.txt"))
    if not transcripts:
        raise AsrError(f"{part}: no READER/CHAPTER/*.trans.txt transcripts")
    for transcript in transcripts:
        reader = transcript.parent.parent.name
        for lineno, line in read_lines(transcript):
            if not line.strip():
                continue
            fields = line.split(maxsplit=1)
            utt = fields[0]
            if len(fields) < 2 or not utt.startswith(f"{reader}-"):
                raise AsrError(f"{transcript}:{lineno}: expected '{reader}-<chapter>-<n> TRANSCRIPT', got {line!r}")
            audio = transcript.parent / f"{utt}.flac"
            add_utterance(data, utt, reader, audio, normalize_text(fields[1]), transcript)


def load(src: Path) -> dict[str, DataDir]:
    splits: dict[str, DataDir] = {}
    for part in find_parts(src):
        load_part(part, splits.setdefault(split_of(part.name), DataDir()))
    return splits
