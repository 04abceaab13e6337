"""Helpers shared by the corpus modules: checking the source tree and building data dirs."""
from __future__ import annotations

from pathlib import Path

from asr.datadir import DataDir
from asr.errors import AsrError


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise AsrError(f"{path}: missing {what} directory (is this the right corpus root?)")
    return path


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise AsrError(f"{path}: missing {what}")
    return path


def add_utterance(data: DataDir, utt: str, speaker: str, audio: Path, text: str, source: Path) -> None:
    """Add one utterance; `source` names the file that defined it, for error messages."""
    if not utt.startswith(speaker):
        raise AsrError(f"{source}: utterance id {utt!r} does not start with its speaker {speaker!r}")
    if utt in data.utt2spk:
        raise AsrError(f"{source}: utterance {utt!r} appears twice")
    if not text:
        raise AsrError(f"{source}: empty transcript for utterance {utt!r}")
    if not audio.is_file():
        raise AsrError(f"{audio}: audio file of utterance {utt!r} is missing")
    data.wav[utt] = str(audio.resolve())
    data.text[utt] = text
    data.utt2spk[utt] = speaker


def split_by(data: DataDir, goes_to_dev) -> tuple[DataDir, DataDir]:
    """(rest, dev): the utterances for which goes_to_dev(utt) is true form dev."""
    dev = [u for u in data.utts if goes_to_dev(u)]
    keep = set(dev)
    return data.select([u for u in data.utts if u not in keep]), data.select(dev)
