"""kathleen: one US English speaker reading the CMU ARCTIC prompts (1,620 recordings).

Layout (github.com/rhasspy/dataset-voice-cathy, here converted to FLAC): SRC/data/<id>.flac
(or .wav) with SRC/data/<id>.txt holding the prompt as read, punctuation and mixed case;
<id> = arctic_<a|b><NNNN>_<unixtime>. Many prompts were read several times.

Split, prompt-disjoint: prompt number NNNN divisible by 10 is test (153 recordings), the same
rule that split ../shared/data/lm_text/arctic_prompts.{train,test}.norm.txt, so an LM built on
the training prompts never saw a test sentence. Dev, for tuning: prompt number ending in 5
(147 recordings), also prompt-disjoint from train; train keeps the other 1,320.

Text: normalised like the lm_text prompt files (asr.corpora.text_norm; no digits occur).
The transcript is what was read, which differs from the ARCTIC prompt in 19 recordings.
"""
from __future__ import annotations

import re
from pathlib import Path

from asr.corpora.common import add_utterance, require_dir
from asr.corpora.text_norm import normalize_text
from asr.datadir import DataDir
from asr.errors import AsrError
from asr.fileio import read_lines

SPEAKER = "kathleen"
AUDIO_SUFFIXES = (".flac", ".wav")
RECORDING_ID = re.compile(r"^arctic_[ab](?P<prompt>\d{4})_\d+$")
TEST_EVERY = 10  # prompt number divisible by ten: test
DEV_REMAINDER = 5  # prompt number ending in five: dev


def split_of(prompt_number: int) -> str:
    if prompt_number % TEST_EVERY == 0:
        return "test"
    return "dev" if prompt_number % TEST_EVERY == DEV_REMAINDER else "train"


def find_audio(transcript: Path) -> Path:
    for suffix in AUDIO_SUFFIXES:
        if transcript.with_suffix(suffix).is_file():
            return transcript.with_suffix(suffix)
    raise AsrError(f"{transcript.with_suffix('.flac')}: audio for this transcript is missing (no .flac or .wav)")


def load(src: Path) -> dict[str, DataDir]:
    data_dir = require_dir(src / "data", "data")
    transcripts = sorted(data_dir.glob("arctic_*.txt"))
    if not transcripts:
        raise AsrError(f"{data_dir}: no arctic_*.txt transcripts")
    splits = {"train": DataDir(), "dev": DataDir(), "test": DataDir()}
    for transcript in transcripts:
        match = RECORDING_ID.match(transcript.stem)
        if not match:
            raise AsrError(f"{transcript}: name is not arctic_<a|b><NNNN>_<time>.txt")
        text = normalize_text(" ".join(line for _, line in read_lines(transcript)))
        split = split_of(int(match["prompt"]))
        add_utterance(splits[split], f"{SPEAKER}-{transcript.stem}", SPEAKER, find_audio(transcript),
                      text, transcript)
    return splits
