"""Shared by the neural pipeline tests: a six-utterance yesno set and a tiny, fast model config."""
from pathlib import Path

from asr.corpora import prepare
from asr.datadir import read_datadir, write_datadir

NUM_UTTS = 6  # a few real yesno recordings: enough to show learning, small enough for CI

# A model small enough to overfit six utterances in well under a minute on one core. yesno is
# 8 kHz audio, so the features stay at 8 kHz with 40 mel bins (no empty bands above 4 kHz).
TINY = dict(sample_rate=8000, num_filters=40, encoder="blstm", d_model=64, num_layers=1, lstm_hidden=128,
            subsampling_channels=16, dropout=0.0, epochs=70, patience=8, batch_frames=1300, lr=0.006,
            warmup_steps=100, average=1, speed_perturb=False, spec_augment=False, threads=1, device="cpu")


def yesno_subset(data_root: Path, out: Path) -> Path:
    """The first NUM_UTTS yesno training utterances as a data dir under `out`."""
    dirs = prepare("yesno", data_root / "yesno", out / "prepared")
    data = read_datadir(dirs["train"])
    write_datadir(data.select(data.utts[:NUM_UTTS]), out / "few")
    return out / "few"


def transcripts(recognizer, data_dir: Path) -> tuple[dict, dict]:
    """(refs, hyps) over a data dir, decoding one file at a time through asr.audio."""
    from asr.audio import load_audio

    data = read_datadir(data_dir)
    hyps = {}
    for utt in data.utts:
        samples, _ = load_audio(data.audio_path(utt), sample_rate=recognizer.sample_rate)
        hyps[utt] = recognizer.recognize(samples)[0].text
    return data.text, hyps
