"""Transcribe audio with a model dir: the Python API (`asr.load`) behind `asr transcribe`.

A recogniser only sees in-memory samples at its own rate; this layer reads any file soundfile
reads, down-mixes and resamples, splits long recordings at pauses (asr.segment) so that memory
stays flat with file length, stitches chunk transcripts with global times, and writes outputs.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from asr.audio import AUDIO_SUFFIXES, audio_info, load_audio, resample, to_mono
from asr.errors import AsrError
from asr.fileio import atomic_write
from asr.formats import render
from asr.pipelines import load as load_recognizer
from asr.pipelines import read_model_info
from asr.search import Hypothesis

MAX_CHUNK_SECONDS = 20.0  # twenty seconds: longer audio is split at pauses (training utterances are shorter)


@dataclass
class Transcript:
    audio: str
    duration: float  # seconds
    nbest: list[Hypothesis] = field(default_factory=list)  # best first; one entry when chunked

    @property
    def best(self) -> Hypothesis:
        return self.nbest[0] if self.nbest else Hypothesis()

    @property
    def text(self) -> str:
        return self.best.text

    @property
    def words(self):
        return self.best.words


class Transcriber:
    """`asr.load(model_dir)`: a recogniser plus audio handling. Thread-unsafe, like the model."""

    def __init__(self, model_dir: str | Path, device: str = "auto", threads: int | None = None,
                 max_chunk_seconds: float = MAX_CHUNK_SECONDS, **options):
        self.model_dir = Path(model_dir)
        self.info = read_model_info(model_dir)
        self.recognizer = load_recognizer(model_dir, device=device, threads=threads)
        if options:
            self.recognizer.configure(**options)
        self.max_chunk_seconds = max_chunk_seconds

    @property
    def sample_rate(self) -> int:
        return self.recognizer.sample_rate

    def transcribe(self, audio: str | Path | np.ndarray, sample_rate: int | None = None,
                   nbest: int = 1) -> Transcript:
        """Transcribe a file path or an array (frames, or frames x channels, at `sample_rate`)."""
        if isinstance(audio, (str, Path)):
            return self._transcribe_file(Path(audio), nbest)
        if sample_rate is None:
            raise AsrError("transcribe: an array needs its sample_rate")
        samples = resample(to_mono(np.asarray(audio, dtype=np.float32)), sample_rate, self.sample_rate)
        if len(samples) == 0:
            raise AsrError("transcribe: the array holds no samples")
        duration = len(samples) / self.sample_rate
        if duration <= self.max_chunk_seconds:
            return Transcript("<array>", duration, self.recognizer.recognize(samples, nbest=nbest))
        from asr.segment import split_samples

        spans = split_samples(samples, self.sample_rate, self.max_chunk_seconds)
        pieces = ((start / self.sample_rate, samples[start:end]) for start, end in spans)
        return Transcript("<array>", duration, [self._stitch(pieces)])

    def _transcribe_file(self, path: Path, nbest: int) -> Transcript:
        info = audio_info(path)
        duration = info.frames / info.samplerate
        if duration <= self.max_chunk_seconds:
            samples, _ = load_audio(path, sample_rate=self.sample_rate)
            return Transcript(str(path), duration, self.recognizer.recognize(samples, nbest=nbest))
        from asr.segment import split_file

        def pieces():
            for start, end in split_file(path, self.max_chunk_seconds):
                block, rate = sf.read(str(path), start=start, stop=end, dtype="float32", always_2d=True)
                yield start / rate, resample(to_mono(block), rate, self.sample_rate)

        return Transcript(str(path), duration, [self._stitch(pieces())])

    def _stitch(self, pieces) -> Hypothesis:
        """One hypothesis from chunk hypotheses, times moved to the start of each chunk."""
        out = Hypothesis()
        for offset, samples in pieces:
            hyps = self.recognizer.recognize(samples, nbest=1)
            if hyps:
                best = hyps[0].shifted(offset)
                out.words.extend(best.words)
                out.score += best.score
        return out


def load(model_dir: str | Path, device: str = "auto", threads: int | None = None, **options) -> Transcriber:
    """Load a model dir for transcription: `asr.load("exp/classic").transcribe("a.wav").text`."""
    return Transcriber(model_dir, device=device, threads=threads, **options)


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files as given; directories searched recursively for audio; `-` reads paths from stdin."""
    paths: list[Path] = []
    for item in inputs:
        if item == "-":
            paths.extend(Path(line.strip()) for line in sys.stdin if line.strip())
        elif Path(item).is_dir():
            found = sorted(p for p in Path(item).rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
            if not found:
                raise AsrError(f"{item}: directory holds no audio files ({', '.join(sorted(AUDIO_SUFFIXES))})")
            paths.extend(found)
        else:
            paths.append(Path(item))
    return paths


def transcribe_files(model_dir, inputs: list[str], fmt: str = "txt", output_dir: str | None = None,
                     nbest: int = 1, device: str = "auto", threads: int | None = None,
                     options: dict | None = None) -> list[Path]:
    """Transcribe every input; a file that fails is reported on one line and the rest go on.

    Returns the files that failed. Outputs go to OUTPUT_DIR/<name>.<fmt>, or stdout.
    """
    paths = expand_inputs(inputs)
    transcriber = load(model_dir, device=device, threads=threads, **(options or {}))
    failures: list[Path] = []
    for path in tqdm(paths, desc="transcribe", unit="file", disable=len(paths) < 2):
        try:
            result = transcriber.transcribe(path, nbest=nbest)
        except AsrError as e:
            tqdm.write(f"asr: error: {e}", file=sys.stderr)
            failures.append(path)
            continue
        text = render(fmt, result.best, name=path.stem, nbest=result.nbest, duration=result.duration)
        if output_dir:
            with atomic_write(Path(output_dir) / f"{path.stem}.{fmt}") as f:
                f.write(text)
        else:
            prefix = f"{path}: " if fmt == "txt" and len(paths) > 1 else ""
            sys.stdout.write(prefix + text)
    return failures


def describe_model(model_dir: str | Path) -> str:
    """What `asr info` prints: pipeline, units, training data, sizes, recorded scores."""
    model_dir = Path(model_dir)
    info = read_model_info(model_dir)
    train = info.get("train", {})
    lines = [f"model dir:   {model_dir}",
             f"pipeline:    {info['pipeline']}",
             f"units:       {_short(info.get('units', '?'))}",
             f"sample rate: {info.get('sample_rate', '?')} Hz",
             f"training:    {train.get('utts', '?')} utterances, {float(train.get('hours', 0)):.2f} h"
             f" from {train.get('data', train.get('dir', '?'))}, {_seconds(train.get('wall_seconds'))} to train",
             f"parameters:  {info.get('params', '?')}"]
    for key, value in (info.get("decoding") or {}).items():
        lines.append(f"decoding:    {key} = {value}")
    for key, value in (info.get("scores") or {}).items():
        lines.append(f"score:       {key} = {value}")
    sizes = sorted((p.stat().st_size, p.relative_to(model_dir)) for p in model_dir.rglob("*")
                   if p.is_file() and not any(part.startswith("decode_") for part in p.parts))
    lines.append(f"files:       {sum(s for s, _ in sizes) / 1e6:.2f} MB in {len(sizes)} files")
    lines += [f"  {size / 1e6:8.2f} MB  {name}" for size, name in sizes if size > 10_000]
    return "\n".join(lines)


def _seconds(value) -> str:
    return "?" if value is None else f"{float(value):.0f} s"


def _short(units) -> str:
    if isinstance(units, dict):
        return ", ".join(f"{k}={_short(v)}" for k, v in units.items())
    if isinstance(units, list):
        return f"{len(units)} units" if len(units) > 8 else " ".join(map(str, units))
    return str(units)
