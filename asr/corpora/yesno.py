"""yesno (OpenSLR SLR1): 60 recordings of one man saying eight words, each YES or NO (Hebrew).

Layout: SRC/waves_yesno/*.wav; the file name spells the words, 1 = YES, 0 = NO
("0_1_1_0_0_1_1_0.wav" is "NO YES YES NO NO YES YES NO").
Split as Kaldi's recipe: the sorted file list, first 30 train, last 30 test. One speaker, so no
dev set (a dev carved from 30 utterances of the same speaker would only shrink the training set).
"""
from __future__ import annotations

from pathlib import Path

from asr.corpora.common import add_utterance, require_dir
from asr.datadir import DataDir
from asr.errors import AsrError

SPEAKER = "yesno"
WORDS = {"0": "NO", "1": "YES"}
WORDS_PER_FILE = 8
NUM_TRAIN = 30  # Kaldi's egs/yesno: the first 30 files of the sorted list train, the rest test


def load(src: Path) -> dict[str, DataDir]:
    wave_dir = src / "waves_yesno" if (src / "waves_yesno").is_dir() else src
    require_dir(wave_dir, "waves_yesno")
    files = sorted(wave_dir.glob("*.wav"))
    if not files:
        raise AsrError(f"{wave_dir}: no .wav files (expected waves_yesno/0_1_..._1.wav)")
    data = DataDir()
    for audio in files:
        labels = audio.stem.split("_")
        if len(labels) != WORDS_PER_FILE or any(label not in WORDS for label in labels):
            raise AsrError(f"{audio}: file name is not eight 0/1 labels joined by '_'")
        text = " ".join(WORDS[label] for label in labels)
        add_utterance(data, f"{SPEAKER}-{audio.stem}", SPEAKER, audio, text, audio)
    utts = data.utts
    return {"train": data.select(utts[:NUM_TRAIN]), "test": data.select(utts[NUM_TRAIN:])}
