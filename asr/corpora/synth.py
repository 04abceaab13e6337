"""A small synthetic corpus made offline with espeak-ng: the demo's data, and a smoke test.

espeak-ng comes from the `espeakng-loader` wheel (libespeak-ng plus its voice data; no system
package). It is driven through ctypes in synchronous mode: espeak_Synth calls back with blocks
of 16-bit samples at 22,050 Hz, which are collected, resampled to 16 kHz, padded with a little
silence and mixed with white noise at a random signal-to-noise ratio.

Vocabulary: the ten digits and ten command words; each utterance is 2-5 words drawn at random,
so a model can learn it in minutes. Speakers are espeak voices (several accents, male and
female variants); each utterance gets its own speaking rate, pitch, pitch range, loudness and
noise level. Splits are by utterance with every voice in train, dev and test: this measures
whether a pipeline runs and learns, not how well it generalises to new speakers. Synthetic
speech is a smoke test; real numbers come from the AN4 recipe.
"""
from __future__ import annotations

import ctypes
import json
import os
import random
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from asr.audio import resample
from asr.corpora.common import add_utterance
from asr.datadir import DataDir, validate_datadir, write_datadir
from asr.errors import AsrError
from asr.fileio import atomic_write

DIGITS = ("ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE")
COMMANDS = ("YES", "NO", "GO", "STOP", "UP", "DOWN", "LEFT", "RIGHT", "ON", "OFF")
VOCABULARY = DIGITS + COMMANDS

# speaker id -> espeak voice ("language+variant"); accents: US, British RP, Scottish, New York, Caribbean.
VOICES = {
    "us_m1": "en-us+m1",
    "us_f3": "en-us+f3",
    "us_m3": "en-us+m3",
    "gb_f2": "en+f2",
    "rp_m2": "en-gb-x-rp+m2",
    "scot_f4": "en-gb-scotland+f4",
    "nyc_m5": "en-us-nyc+m5",
    "carib_f1": "en-029+f1",
}

# espeak-ng's C API constants (speak_lib.h)
AUDIO_OUTPUT_SYNCHRONOUS = 2  # espeak_Synth returns when done, audio goes to the callback
POS_CHARACTER = 1
ESPEAK_CHARS_AUTO = 0
ESPEAK_RATE, ESPEAK_PITCH, ESPEAK_RANGE = 1, 3, 4  # espeak_PARAMETER values
SAMPLE_MAX = 32768.0  # full scale of 16-bit samples
MIN_SAMPLE_RATE = 8000  # telephone band: below it the digits are no longer intelligible


class Espeak:
    """The espeak-ng library in synchronous mode; one per process (the library is global state)."""

    def __init__(self) -> None:
        try:
            import espeakng_loader

            self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
            data_path = espeakng_loader.get_data_path()
        except (ImportError, OSError, RuntimeError) as e:
            raise AsrError(f"espeak-ng: cannot load the library from espeakng-loader ({e}); "
                           f"pip install espeakng-loader") from None
        lib = self.lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        self.sample_rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), 0)
        if self.sample_rate <= 0:
            raise AsrError(f"{data_path}: espeak-ng failed to initialise with this voice data")
        self._blocks: list[np.ndarray] = []
        callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
        self._callback = callback_type(self._collect)  # kept on self: C holds only a raw pointer
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, samples, count, events) -> int:
        if count > 0:
            self._blocks.append(np.ctypeslib.as_array(samples, shape=(count,)).copy())
        return 0  # 0 = go on synthesising

    def synthesize(self, text: str, voice: str, rate: int = 175, pitch: int = 50,
                   pitch_range: int = 50, seed: int = 0) -> np.ndarray:
        """float32 samples in [-1, 1] at self.sample_rate. rate in words per minute; pitch and
        pitch_range 0-100 (espeak's scale, 50 = the voice's normal); seed: espeak's own random
        generator (the breath noise of some voice variants)."""
        self.lib.espeak_ng_SetRandSeed(seed)
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise AsrError(f"espeak-ng: unknown voice {voice!r}")
        for parameter, value in ((ESPEAK_RATE, rate), (ESPEAK_PITCH, pitch), (ESPEAK_RANGE, pitch_range)):
            self.lib.espeak_SetParameter(parameter, int(value), 0)
        self._blocks = []
        encoded = text.encode() + b"\0"
        if self.lib.espeak_Synth(encoded, len(encoded), 0, POS_CHARACTER, 0, ESPEAK_CHARS_AUTO, None, None) != 0:
            raise AsrError(f"espeak-ng: synthesis failed for {text!r}")
        self.lib.espeak_Synchronize()
        if not self._blocks:
            raise AsrError(f"espeak-ng: no audio for {text!r}")
        return np.concatenate(self._blocks).astype(np.float32) / SAMPLE_MAX


_ENGINE: Espeak | None = None


def engine() -> Espeak:
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = Espeak()
    return _ENGINE


def white_noise(length: int, speech: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """`length` samples of Gaussian noise whose power is `snr_db` below the power of `speech`."""
    speech_power = float(np.mean(speech.astype(np.float64) ** 2))
    return rng.standard_normal(length) * np.sqrt(speech_power / 10 ** (snr_db / 10))


@dataclass
class SynthConfig:
    num_utts: int = 600  # about 15 minutes of audio (measured): the demo trains on it in minutes
    seed: int = 0
    sample_rate: int = 16000
    voices: dict[str, str] = field(default_factory=lambda: dict(VOICES))
    min_words: int = 2
    max_words: int = 5
    rate_wpm: tuple[int, int] = (130, 200)  # speaking rate range, words per minute (espeak default 175)
    pitch: tuple[int, int] = (30, 70)  # espeak pitch range, 0-100 (50 = the voice's normal)
    pitch_range: tuple[int, int] = (30, 80)  # intonation range, 0-100
    snr_db: tuple[float, float] = (15.0, 30.0)  # white-noise signal-to-noise ratio range, dB
    peak: tuple[float, float] = (0.3, 0.9)  # loudness: peak amplitude range before noise
    pad_seconds: tuple[float, float] = (0.1, 0.4)  # silence added before and after, seconds
    dev_fraction: float = 0.1
    test_fraction: float = 0.1


def render(text: str, voice: str, config: SynthConfig, rng: np.random.Generator) -> np.ndarray:
    """One noisy utterance at config.sample_rate, with random rate, pitch, loudness and padding."""
    tts = engine()
    speech = tts.synthesize(text.lower(), voice, rate=rng.integers(*config.rate_wpm, endpoint=True),
                            pitch=rng.integers(*config.pitch, endpoint=True),
                            pitch_range=rng.integers(*config.pitch_range, endpoint=True),
                            seed=int(rng.integers(2**31)))
    speech = resample(speech, tts.sample_rate, config.sample_rate)
    speech *= rng.uniform(*config.peak) / max(float(np.abs(speech).max()), 1e-9)
    before, after = (int(rng.uniform(*config.pad_seconds) * config.sample_rate) for _ in range(2))
    padded = np.concatenate([np.zeros(before, np.float32), speech, np.zeros(after, np.float32)])
    # SNR against the speech alone, so the added silence does not lower the noise floor.
    noise = white_noise(len(padded), speech, rng.uniform(*config.snr_db), rng)
    return np.clip(padded + noise, -1.0, 1.0).astype(np.float32)


def split_counts(num_utts: int, config: SynthConfig) -> dict[str, int]:
    dev = max(1, round(num_utts * config.dev_fraction))
    test = max(1, round(num_utts * config.test_fraction))
    if num_utts - dev - test < 1:
        raise AsrError(f"synth: {num_utts} utterances are too few for train, dev and test")
    return {"train": num_utts - dev - test, "dev": dev, "test": test}


def make_corpus(out: str | os.PathLike, config: SynthConfig | None = None) -> dict[str, Path]:
    """Write OUT/wav/*.wav and the data dirs OUT/{train,dev,test}; return {split: path}.

    The same config (seed included) gives the same transcripts, voices, rates, pitches, gains,
    padding and noise. The samples are identical when the corpus is the first synthesis in its
    process (as with `asr synth`): espeak-ng keeps waveform state (pitch flutter phase) from one
    utterance to the next that neither espeak_Initialize nor its random seed resets, so a second
    corpus made in the same process differs by a few samples per utterance.
    """
    config = config or SynthConfig()
    if not config.voices:
        raise AsrError("synth: no voices given")
    if config.sample_rate < MIN_SAMPLE_RATE:
        raise AsrError(f"synth: sample rate {config.sample_rate} is below {MIN_SAMPLE_RATE} Hz")
    counts = split_counts(config.num_utts, config)
    out = Path(out)
    wav_dir = out / "wav"
    wav_dir.mkdir(parents=True, exist_ok=True)
    picker = random.Random(config.seed)
    speakers = sorted(config.voices)
    order = list(range(config.num_utts))
    picker.shuffle(order)
    split_of = {}
    for split, (start, stop) in zip(counts, ((0, counts["train"]),
                                             (counts["train"], counts["train"] + counts["dev"]),
                                             (counts["train"] + counts["dev"], config.num_utts))):
        split_of.update({index: split for index in order[start:stop]})
    splits = {name: DataDir() for name in counts}
    for index in tqdm(range(config.num_utts), desc="synth", unit="utt", file=sys.stderr):
        speaker = speakers[index % len(speakers)]
        words = picker.choices(VOCABULARY, k=picker.randint(config.min_words, config.max_words))
        text = " ".join(words)
        # One generator per utterance: its settings and noise do not depend on how many
        # samples espeak produced for the utterances before it.
        rng = np.random.default_rng([config.seed, index])
        samples = render(text, config.voices[speaker], config, rng)
        utt = f"{speaker}-{index:05d}"
        path = wav_dir / f"{utt}.wav"
        with atomic_write(path, "wb") as f:
            sf.write(f, samples, config.sample_rate, format="WAV", subtype="PCM_16")
        add_utterance(splits[split_of[index]], utt, speaker, path, text, path)
    written = {}
    for name, data in splits.items():
        write_datadir(data, out / name)
        problems = validate_datadir(out / name)
        if problems:
            raise AsrError(f"synth: generated data dir is invalid: {problems[0]}")
        written[name] = out / name
    with atomic_write(out / "synth.json") as f:
        json.dump({"config": asdict(config), "counts": counts, "vocabulary": list(VOCABULARY)}, f, indent=1)
    return written
