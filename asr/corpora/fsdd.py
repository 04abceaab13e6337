"""FSDD, the free spoken digit dataset: isolated digits, 6 speakers, 50 takes of each digit.

Layout: SRC/recordings/{digit}_{speaker}_{take}.wav, digit 0-9 read as ZERO..NINE.
Official split: takes 0-4 are test, takes 5-49 train; the same six speakers are in both, so
the test set measures unseen takes, not unseen speakers. Dev: takes 5-9 (300 utterances, the
same size and make-up as test), carved out of the official training part; train keeps 10-49.
"""
from __future__ import annotations

from pathlib import Path

from asr.corpora.common import add_utterance, require_dir
from asr.datadir import DataDir
from asr.errors import AsrError

DIGITS = ("ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE")
TEST_TAKES = range(0, 5)  # official FSDD split: takes 0-4 test
DEV_TAKES = range(5, 10)  # ours: the next five takes tune the decoder


def parse_name(audio: Path) -> tuple[int, str, int]:
    """(digit, speaker, take) from '{digit}_{speaker}_{take}.wav'."""
    parts = audio.stem.split("_")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[2].isdigit() or int(parts[0]) > 9:
        raise AsrError(f"{audio}: file name is not '{{digit}}_{{speaker}}_{{take}}.wav'")
    return int(parts[0]), parts[1], int(parts[2])


def load(src: Path) -> dict[str, DataDir]:
    rec_dir = require_dir(src / "recordings", "recordings")
    files = sorted(rec_dir.glob("*.wav"))
    if not files:
        raise AsrError(f"{rec_dir}: no .wav files (expected {{digit}}_{{speaker}}_{{take}}.wav)")
    splits = {"train": DataDir(), "dev": DataDir(), "test": DataDir()}
    for audio in files:
        digit, speaker, take = parse_name(audio)
        split = "test" if take in TEST_TAKES else "dev" if take in DEV_TAKES else "train"
        # Zero-padded take so that ids sort in take order within a speaker and digit.
        utt = f"{speaker}-{digit}-{take:02d}"
        add_utterance(splits[split], utt, speaker, audio, DIGITS[digit], audio)
    return splits
