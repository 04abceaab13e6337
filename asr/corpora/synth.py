"""Synthetic corpora made offline with espeak-ng: the demo's small one, and long ones for benchmarks.

espeak-ng comes from the `espeakng-loader` wheel (libespeak-ng plus its voice data; no system
package). It is driven through ctypes in synchronous mode: espeak_Synth calls back with blocks
of 16-bit samples at 22,050 Hz, which are collected, resampled to 16 kHz, padded with a little
silence and mixed with white noise at a random signal-to-noise ratio.

Vocabulary (`vocabulary`): "commands" (the default, the demo's) is the ten digits and ten command
words, 2-5 words drawn at random per utterance, so a model can learn it in minutes; "digits" the
ten digits alone; "text" windows of 3-15 consecutive words of the sentences of a text file,
normalised with the toolkit's one text rule (asr.corpora.text_norm), so the lexicon and LM stages
read it as they read any corpus. Every tenth sentence of the file (the 1st, 11th, ...) is held out:
dev and test draw from those, train from the rest. Speakers are espeak voices (several accents,
male and female variants); each utterance gets its own speaking rate, pitch, pitch range,
loudness and noise level. Splits are by utterance with every voice in train, dev and test: this
measures whether a pipeline runs and learns, not how well it generalises to new speakers.
Synthetic speech is a smoke test and a benchmark of scale (speed, memory), never a WER claim;
real numbers come from the AN4 recipe.

Size: `num_utts` utterances split 80/10/10, or with `hours` dev and test of `eval_utts`
utterances each and train made until its audio reaches that many hours (the last utterance
crosses the line). Utterances are made and written one at a time; only the tables (ids, paths,
transcripts: about 0.4 kB per utterance, some 50 MB for 100 hours) stay in memory.

The corpus is built in a hidden folder beside OUT (`.OUT.partial`) and renamed to OUT when it is
complete, replacing a corpus made there before: a killed run never leaves an OUT that looks
finished. Run the same command again and it continues: the audio files already written (each
written atomically) are kept, the rest are made. A folder holding anything `asr synth` does not
write is refused, never replaced.
"""
from __future__ import annotations

import ctypes
import itertools
import json
import logging
import math
import os
import random
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf
from tqdm import tqdm

from asr.audio import resample
from asr.corpora.text_norm import normalize_text
from asr.datadir import DataDir, validate_datadir, write_datadir
from asr.errors import AsrError
from asr.fileio import atomic_write, read_lines, sha256

log = logging.getLogger(__name__)

DIGITS = ("ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE")
COMMANDS = ("YES", "NO", "GO", "STOP", "UP", "DOWN", "LEFT", "RIGHT", "ON", "OFF")
VOCABULARY = DIGITS + COMMANDS
# vocabulary name -> its words; "text" takes its words from a text file
VOCABULARIES = {"commands": VOCABULARY, "digits": DIGITS, "text": ()}

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
EVAL_UTTS = 60  # dev and test utterances each when the size is given in hours: the default corpus's
HELD_OUT_EVERY = 10  # vocabulary "text": sentence i of the file is for dev and test when i % 10 == 0
SHARD_SIZE = 1000  # with hours, the audio goes in folders of a thousand files: wav/0000, wav/0001, ...
HOURS_ID_DIGITS = 7  # utterance numbers with hours: ten million (about 7,000 hours of commands)
SECONDS_PER_HOUR = 3600
# What a corpus folder holds; a folder with anything else is never replaced.
CORPUS_NAMES = frozenset({"wav", "train", "dev", "test", "synth.json"})
PROGRESS_FILE = "settings.json"  # in the unfinished folder: the settings it is being made with
# Settings added after the first version: synth.json names them only when they differ from their
# defaults, so a corpus made with the default options is byte for byte the one made before them.
ADDED_SETTINGS = ("vocabulary", "text", "text_words", "hours", "eval_utts")


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
    min_words: int = 2  # words per utterance, vocabularies "commands" and "digits"
    max_words: int = 5
    rate_wpm: tuple[int, int] = (130, 200)  # speaking rate range, words per minute (espeak default 175)
    pitch: tuple[int, int] = (30, 70)  # espeak pitch range, 0-100 (50 = the voice's normal)
    pitch_range: tuple[int, int] = (30, 80)  # intonation range, 0-100
    snr_db: tuple[float, float] = (15.0, 30.0)  # white-noise signal-to-noise ratio range, dB
    peak: tuple[float, float] = (0.3, 0.9)  # loudness: peak amplitude range before noise
    pad_seconds: tuple[float, float] = (0.1, 0.4)  # silence added before and after, seconds
    dev_fraction: float = 0.1
    test_fraction: float = 0.1
    vocabulary: str = "commands"  # commands (digits and command words), digits, or text
    text: str | None = None  # vocabulary "text": a text file, one sentence a line (normalised here)
    text_words: tuple[int, int] = (3, 15)  # vocabulary "text": words per utterance (a shorter sentence whole)
    hours: float | None = None  # instead of num_utts: make train this many hours of audio long
    eval_utts: int = EVAL_UTTS  # with hours: utterances in each of dev and test


def word_range(config: SynthConfig) -> tuple[int, int]:
    low, high = config.text_words if config.vocabulary == "text" else (config.min_words, config.max_words)
    return low, high


def check_config(config: SynthConfig) -> None:
    """Every setting checked before any work; one line each."""
    if not config.voices:
        raise AsrError("synth: no voices given")
    if config.sample_rate < MIN_SAMPLE_RATE:
        raise AsrError(f"synth: sample rate {config.sample_rate} is below {MIN_SAMPLE_RATE} Hz")
    if config.vocabulary not in VOCABULARIES:
        raise AsrError(f"synth: unknown vocabulary {config.vocabulary!r}; known: {', '.join(VOCABULARIES)}")
    if config.vocabulary == "text" and not config.text:
        raise AsrError("synth: vocabulary 'text' needs a text file (--text FILE)")
    if config.vocabulary != "text" and config.text:
        raise AsrError(f"synth: a text file is read only with vocabulary 'text', not {config.vocabulary!r}")
    low, high = word_range(config)
    if not 1 <= low <= high:
        raise AsrError(f"synth: words per utterance {low} to {high}: need 1 <= MIN <= MAX")
    if config.hours is None:
        split_counts(config.num_utts, config)
        return
    hours = config.hours
    if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not math.isfinite(hours) or hours <= 0:
        raise AsrError(f"synth: hours must be a number above 0, not {hours!r}")
    if config.eval_utts < 1:
        raise AsrError(f"synth: dev and test need at least 1 utterance each, not {config.eval_utts}")


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


def read_sentences(path: str | os.PathLike) -> list[tuple[str, ...]]:
    """The non-empty lines of a text file as normalised words (upper case, numbers spelled out)."""
    sentences = [tuple(normalize_text(line).split()) for _, line in read_lines(path)]
    sentences = [s for s in sentences if s]
    if len(sentences) < 2:
        raise AsrError(f"{path}: {len(sentences)} sentence(s) with words; vocabulary 'text' needs at least "
                       f"2 (train and the held-out share for dev and test)")
    return sentences


class Transcripts:
    """Each utterance's words, drawn in utterance order from one random.Random (`picker`)."""

    def __init__(self, config: SynthConfig, picker: random.Random) -> None:
        self.picker = picker
        self.low, self.high = word_range(config)
        self.words = VOCABULARIES[config.vocabulary]
        self.pools: dict[str, list[tuple[str, ...]]] = {}
        if config.vocabulary == "text":
            sentences = read_sentences(config.text)
            self.pools = {"train": [s for i, s in enumerate(sentences) if i % HELD_OUT_EVERY],
                          "eval": [s for i, s in enumerate(sentences) if i % HELD_OUT_EVERY == 0]}

    def draw(self, split: str) -> str:
        picker = self.picker
        if not self.pools:
            return " ".join(picker.choices(self.words, k=picker.randint(self.low, self.high)))
        sentence = picker.choice(self.pools["train" if split == "train" else "eval"])
        length = min(picker.randint(self.low, self.high), len(sentence))
        start = picker.randint(0, len(sentence) - length)
        return " ".join(sentence[start:start + length])


def plan(config: SynthConfig, picker: random.Random) -> Iterator[tuple[int, str]]:
    """(utterance number, split) in the order they are made. With hours: dev, test, then train
    without end (the caller stops it). Otherwise the splits are a shuffle of the numbers, drawn
    from `picker` before any transcript."""
    if config.hours is not None:
        for index in range(2 * config.eval_utts):
            yield index, "dev" if index < config.eval_utts else "test"
        for index in itertools.count(2 * config.eval_utts):
            yield index, "train"
        return
    counts = split_counts(config.num_utts, config)
    order = list(range(config.num_utts))
    picker.shuffle(order)
    split_of = {}
    for split, (start, stop) in zip(counts, ((0, counts["train"]),
                                             (counts["train"], counts["train"] + counts["dev"]),
                                             (counts["train"] + counts["dev"], config.num_utts))):
        split_of.update({index: split for index in order[start:stop]})
    for index in range(config.num_utts):
        yield index, split_of[index]


def audio_name(config: SynthConfig, index: int, speaker: str) -> tuple[str, Path]:
    """(utterance id, audio path relative to the corpus folder)."""
    if config.hours is None:
        utt = f"{speaker}-{index:05d}"
        return utt, Path("wav") / f"{utt}.wav"
    utt = f"{speaker}-{index:0{HOURS_ID_DIGITS}d}"
    return utt, Path("wav") / f"{index // SHARD_SIZE:04d}" / f"{utt}.wav"


def settings_record(config: SynthConfig) -> dict:
    """The settings as synth.json records them: the added ones only where not at their defaults."""
    defaults = asdict(SynthConfig())
    record = asdict(config)
    for name in ADDED_SETTINGS:
        if record[name] == defaults[name]:
            del record[name]
    return record


def check_destination(target: Path) -> None:
    """OUT may be missing, empty, or a corpus made before (replaced whole); nothing else."""
    if target.exists() and not target.is_dir():
        raise AsrError(f"{target}: exists and is not a folder")
    if target.is_dir():
        foreign = sorted(p.name for p in target.iterdir()
                         if p.name not in CORPUS_NAMES and not (p.name.startswith(".") and p.name.endswith(".tmp")))
        if foreign:
            raise AsrError(f"{target}: holds {foreign[0]!r}, which `asr synth` does not write; remove it or "
                           f"choose another folder (a corpus made there before is replaced whole)")


def unfinished_dir(target: Path) -> Path:
    """Where the corpus for `target` is built before it is renamed into place."""
    return target.parent / f".{target.name}.partial"


def open_work_dir(work: Path, progress: dict) -> bool:
    """Make or reopen the unfinished folder; True when it continues a run with the same settings."""
    progress = json.loads(json.dumps(progress))  # tuples as lists, as read back
    if work.is_dir():
        try:
            same = json.loads((work / PROGRESS_FILE).read_text()) == progress
        except (OSError, ValueError):
            same = False
        if same:
            for stale in (work / "wav").rglob(".*.tmp"):  # files a killed run was writing
                stale.unlink()
            log.warning("%s: continuing an unfinished run with the same settings", work)
            return True
        log.warning("%s: unfinished run with other settings; starting again", work)
        shutil.rmtree(work)
    elif work.exists() or work.is_symlink():
        work.unlink()
    (work / "wav").mkdir(parents=True)
    with atomic_write(work / PROGRESS_FILE) as f:
        json.dump(progress, f, indent=1)
    return False


def replace_dir(work: Path, target: Path) -> None:
    """Rename the finished folder to OUT. A corpus there before is first renamed aside to .OUT.old
    and deleted once the new one is in place."""
    old = target.parent / f".{target.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        os.rename(target, old)
    os.rename(work, target)
    shutil.rmtree(old, ignore_errors=True)


def make_corpus(out: str | os.PathLike, config: SynthConfig | None = None) -> dict[str, Path]:
    """Write OUT/wav/ and the data dirs OUT/{train,dev,test}; return {split: path}.

    The same config (seed included) gives the same transcripts, voices, rates, pitches, gains,
    padding and noise. The samples are identical when the corpus is the first synthesis in its
    process (as with `asr synth`): espeak-ng keeps waveform state (pitch flutter phase) from one
    utterance to the next that neither espeak_Initialize nor its random seed resets, so a second
    corpus made in the same process differs by a few samples per utterance. For the same reason
    a run continued after a kill has the transcripts and settings of an uninterrupted one, but the
    files made after the restart may differ by a few samples (and, with hours, train may end one
    utterance sooner or later).
    """
    config = config or SynthConfig()
    check_config(config)
    target = Path(out).resolve()  # through a link to a folder elsewhere: the corpus goes there
    check_destination(target)
    picker = random.Random(config.seed)
    transcripts = Transcripts(config, picker)  # reads and checks the text file before any work
    progress = {"config": asdict(config), "text_sha256": sha256(config.text) if config.text else None}
    work = unfinished_dir(target)
    resumed = open_work_dir(work, progress)
    speakers = sorted(config.voices)
    splits = {name: DataDir() for name in ("train", "dev", "test")}
    seconds = dict.fromkeys(splits, 0.0)
    words_used: set[str] = set()
    goal = None if config.hours is None else config.hours * SECONDS_PER_HOUR
    if goal is None:
        bar = tqdm(total=config.num_utts, desc="synth", unit="utt", file=sys.stderr)
    else:
        bar = tqdm(total=2 * config.eval_utts, desc="synth dev+test", unit="utt", file=sys.stderr)
    in_train = False  # with hours: the bar counts dev and test utterances, then hours of train
    for index, split in plan(config, picker):
        if goal is not None and split == "train":
            if seconds["train"] >= goal:
                break
            if not in_train:
                in_train = True
                bar.close()
                bar = tqdm(total=config.hours, desc="synth train", unit="h", file=sys.stderr,
                           bar_format="{l_bar}{bar}| {n:.4f}/{total:.4f} h [{elapsed}<{remaining}]")
        speaker = speakers[index % len(speakers)]
        text = transcripts.draw(split)
        utt, relative = audio_name(config, index, speaker)
        path = work / relative
        if resumed and path.is_file():
            frames = sf.info(str(path)).frames
        else:
            # One generator per utterance: its settings and noise do not depend on how many
            # samples espeak produced for the utterances before it.
            rng = np.random.default_rng([config.seed, index])
            samples = render(text, config.voices[speaker], config, rng)
            with atomic_write(path, "wb") as f:
                sf.write(f, samples, config.sample_rate, format="WAV", subtype="PCM_16")
            frames = len(samples)
        seconds[split] += frames / config.sample_rate
        data = splits[split]
        data.wav[utt] = str(target / relative)
        data.text[utt] = text
        data.utt2spk[utt] = speaker
        words_used.update(text.split())
        if goal is not None and split == "train":
            bar.update(min(seconds["train"], goal) / SECONDS_PER_HOUR - bar.n)
        else:
            bar.update(1)
    bar.close()
    for name, data in splits.items():
        write_datadir(data, work / name)
        problems = validate_datadir(work / name, check_audio=False)  # paths name OUT, not yet there
        if problems:
            raise AsrError(f"synth: generated data dir is invalid: {problems[0]}")
    record = settings_record(config)
    summary = {"config": record, "counts": {name: len(data) for name, data in splits.items()},
               "vocabulary": list(transcripts.words) or sorted(words_used)}
    if any(name in record for name in ADDED_SETTINGS):  # a corpus the first version could not make
        summary["hours"] = {name: round(s / SECONDS_PER_HOUR, 6) for name, s in seconds.items()}
        if config.text:
            summary["text_sha256"] = progress["text_sha256"]
    with atomic_write(work / "synth.json") as f:
        json.dump(summary, f, indent=1)
    (work / PROGRESS_FILE).unlink()
    replace_dir(work, target)
    return {name: Path(out) / name for name in splits}
