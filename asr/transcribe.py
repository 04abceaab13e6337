"""Transcribe audio with a model dir: the Python API (`asr.load`) behind `asr transcribe`.

A recogniser only sees in-memory samples at its own rate; this layer reads any file soundfile
reads, down-mixes and resamples, splits long recordings at pauses (asr.segment) so that memory
stays flat with file length, stitches chunk transcripts with global times, and writes outputs.
"""
from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from asr.audio import AUDIO_SUFFIXES, audio_info, load_audio, resample, to_mono, warn_if_truncated
from asr.errors import AsrError
from asr.fileio import atomic_write
from asr.formats import STREAM_FORMATS, render, render_named, stream_header
from asr.modeldir import read_model_info
from asr.pipelines import load as load_recognizer
from asr.search import Hypothesis
from asr.segment import MAX_CHUNK_SECONDS  # longer audio is split at pauses into chunks of at most this

log = logging.getLogger(__name__)


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
                 max_chunk_seconds: float = MAX_CHUNK_SECONDS, head: str = "main", **options):
        self.model_dir = Path(model_dir)
        self.info = read_model_info(model_dir)
        self.recognizer = load_recognizer(model_dir, device=device, threads=threads, head=head)
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
        samples = np.asarray(audio, dtype=np.float32)
        if samples.size == 0:
            raise AsrError("transcribe: the array holds no samples")
        if not np.all(np.isfinite(samples)):
            raise AsrError("transcribe: the array holds NaN or infinite samples")
        samples = resample(to_mono(samples), sample_rate, self.sample_rate)
        duration = len(samples) / self.sample_rate
        if duration <= self.max_chunk_seconds:
            self._check_length("transcribe: the array", len(samples))
            return Transcript("<array>", duration, self.recognizer.recognize(samples, nbest=nbest))
        from asr.segment import split_samples

        spans = split_samples(samples, self.sample_rate, self.max_chunk_seconds)
        pieces = ((start / self.sample_rate, samples[start:end]) for start, end in spans)
        return Transcript("<array>", duration, [self._stitch(pieces)])

    def _transcribe_file(self, path: Path, nbest: int) -> Transcript:
        info = audio_info(path)
        duration = info.frames / info.samplerate
        if info.samplerate < self.sample_rate:
            log.warning("%s: recorded at %d Hz, below the model's %d Hz: upsampled audio lacks the high "
                        "frequencies the model was trained on (expect more errors)", path, info.samplerate,
                        self.sample_rate)
        if duration <= self.max_chunk_seconds:
            samples, _ = load_audio(path, sample_rate=self.sample_rate)
            self._check_length(str(path), len(samples))
            return Transcript(str(path), duration, self.recognizer.recognize(samples, nbest=nbest))
        from asr.segment import split_file

        warn_if_truncated(path, info.samplerate, info.frames)  # (the pause finder checks for NaN)

        def pieces():
            for start, end in split_file(path, self.max_chunk_seconds):
                block, rate = sf.read(str(path), start=start, stop=end, dtype="float32", always_2d=True)
                yield start / rate, resample(to_mono(block), rate, self.sample_rate)

        return Transcript(str(path), duration, [self._stitch(pieces())])

    def _check_length(self, name: str, num_samples: int) -> None:
        """Audio shorter than one analysis frame has no features: an error naming it."""
        needed = self.recognizer.min_samples
        if num_samples < needed:
            raise AsrError(f"{name}: audio too short: {1000 * num_samples / self.sample_rate:.1f} ms, "
                           f"one {1000 * needed / self.sample_rate:.0f} ms frame is the least")

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


def load(model_dir: str | Path, device: str = "auto", threads: int | None = None, head: str = "main",
         **options) -> Transcriber:
    """Load a model dir for transcription: `asr.load("exp/classic").transcribe("a.wav").text`
    (`head="aux"`: a multi-task hybrid model's character head)."""
    return Transcriber(model_dir, device=device, threads=threads, head=head, **options)


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files as given; directories searched recursively for audio; `-` reads paths from stdin."""
    paths: list[Path] = []
    for item in inputs:
        if item == "-":
            listed = [Path(line.strip()) for line in sys.stdin if line.strip()]
            if not listed:
                raise AsrError("-: the list of audio paths on stdin is empty")
            paths.extend(listed)
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
                     options: dict | None = None, head: str = "main") -> list[Path]:
    """Transcribe every input; a file that fails is reported on one line and the rest go on.

    Returns the files that failed. Outputs go to OUTPUT_DIR (see `output_paths`), or stdout: one
    input as `render` writes it; several in a form that names the file on every line (see
    asr.formats.render_named), which srt and vtt have not (AsrError: use an output dir).
    Inputs, formats and the output dir are checked before the model is loaded.
    """
    paths = expand_inputs(inputs)
    targets = output_paths(paths, output_dir, fmt) if output_dir else None
    named = targets is None and len(paths) > 1  # several transcripts share stdout
    if named:
        check_stream(paths, fmt)
    transcriber = load(model_dir, device=device, threads=threads, head=head, **(options or {}))
    failures: list[Path] = []
    if named:
        sys.stdout.write(stream_header(fmt))
    # disable=None: tqdm draws the bar on a terminal only
    for i, path in enumerate(tqdm(paths, desc="transcribe", unit="file", disable=None if len(paths) > 1 else True)):
        try:
            result = transcriber.transcribe(path, nbest=nbest)
        except AsrError as e:
            tqdm.write(f"asr: error: {e}", file=sys.stderr)
            failures.append(path)
            continue
        if targets is not None:
            text = render(fmt, result.best, name=path.stem, nbest=result.nbest, duration=result.duration)
            try:
                with atomic_write(targets[i]) as f:
                    f.write(text)
            except OSError as e:
                tqdm.write(f"asr: error: {targets[i]}: cannot write ({e.strerror})", file=sys.stderr)
                failures.append(path)
        elif named:
            sys.stdout.write(render_named(fmt, result.best, str(path), nbest=result.nbest, duration=result.duration))
        else:
            sys.stdout.write(render(fmt, result.best, name=path.stem, nbest=result.nbest, duration=result.duration))
    return failures


def output_paths(paths: list[Path], output_dir: str | os.PathLike, fmt: str) -> list[Path]:
    """OUTPUT_DIR/<name>.<fmt> per input. When two inputs share a name (a/x.wav, b/x.wav), every
    input's folder relative to the inputs' common folder is mirrored under OUTPUT_DIR
    (OUTPUT_DIR/a/x.txt, OUTPUT_DIR/b/x.txt). Inputs that would still write one file (the same file
    twice, x.wav beside x.flac) and an output dir that is not a directory are AsrErrors."""
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise AsrError(f"{out}: --output-dir names an existing file, not a directory")
    stems = [p.stem for p in paths]
    if len(set(stems)) == len(stems):
        targets = [out / f"{stem}.{fmt}" for stem in stems]
    else:
        absolute = [Path(os.path.abspath(p)) for p in paths]
        common = Path(os.path.commonpath([a.parent for a in absolute]))
        targets = [out / a.parent.relative_to(common) / f"{a.stem}.{fmt}" for a in absolute]
    first: dict[Path, Path] = {}
    for path, target in zip(paths, targets):
        if target in first:
            raise AsrError(f"{path}: its transcript would overwrite that of {first[target]} ({target}); "
                           "give each input once, or transcribe same-named files separately")
        first[target] = path
    existing = next(p for p in (out.absolute(), *out.absolute().parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise AsrError(f"{out}: cannot create files there ({existing} is not a writable directory)")
    return targets


def check_stream(paths: list[Path], fmt: str) -> None:
    """Several transcripts on stdout: only formats that name the file on every line, and names
    that keep the lines parseable."""
    if fmt not in STREAM_FORMATS:
        raise AsrError(f"--format {fmt}: {len(paths)} inputs give {len(paths)} {fmt} documents; "
                       "use --output-dir DIR (one file per input)")
    for path in paths:
        if fmt in ("ctm", "tsv") and any(c.isspace() for c in str(path)):
            raise AsrError(f"{path}: a name with whitespace cannot be a {fmt} field; use --output-dir DIR")


def describe_model(model_dir: str | Path) -> str:
    """What `asr info` prints: pipeline, units, training data, sizes, recorded scores."""
    model_dir = Path(model_dir)
    info = read_model_info(model_dir)
    train = info.train
    lines = [f"model dir:   {model_dir}",
             f"pipeline:    {info.pipeline}",
             f"units:       {_short(info.units or '?')}",
             f"sample rate: {info.sample_rate or '?'} Hz",
             f"training:    {train.get('utts', '?')} utterances, {float(train.get('hours', 0)):.2f} h"
             f" from {train.get('data', train.get('dir', '?'))}, {_seconds(train.get('wall_seconds'))} to train",
             f"parameters:  {info.params or '?'}"]
    if info.init_from is not None:
        lines += _transfer_lines(info)
    for key, value in info.decoding.items():
        lines.append(f"decoding:    {key} = {value}")
    if info.tuning and isinstance(info.tuning.get("dev_wer"), (int, float)):
        lines.append(f"tuning:      {float(info.tuning['dev_wer']):.2f}% WER on {info.tuning.get('dev')} "
                     f"over {len(info.tuning.get('table') or [])} grid points")
    if info.aux:  # a multi-task model's second head
        aux_tuning = info.aux.get("tuning") or {}
        lines.append(f"second head: {_short(info.aux.get('units') or '?')} (asr decode --head aux)"
                     + (f", {float(aux_tuning['dev_wer']):.2f}% WER on {aux_tuning.get('dev')}"
                        if isinstance(aux_tuning.get("dev_wer"), (int, float)) else ""))
    sizes = sorted((p.stat().st_size, p.relative_to(model_dir)) for p in model_dir.rglob("*")
                   if p.is_file() and not any(part.startswith("decode_") for part in p.parts))
    lines.append(f"files:       {sum(s for s, _ in sizes) / 1e6:.2f} MB in {len(sizes)} files")
    lines += [f"  {size / 1e6:8.2f} MB  {name}" for size, name in sizes if size > 10_000]
    return "\n".join(lines)


def _transfer_lines(info) -> list[str]:
    """Where a transferred network started (model.yaml's init_from) and how it was fine-tuned."""
    source, config = info.init_from, info.train.get("config")
    config = config if isinstance(config, dict) else {}
    digest = str(source.get("weights_sha256") or "?")[:12]
    lines = [f"init from:   {source.get('path', '?')} (a {source.get('pipeline', '?')} model, "
             f"weights sha256 {digest}...)"]
    parts = [f"copied {', '.join(map(str, source.get('copied') or [])) or 'nothing'}"]
    if source.get("new"):
        parts.append(f"new {', '.join(map(str, source['new']))} (other units)")
    if config.get("freeze_encoder_epochs"):
        parts.append(f"encoder frozen for {config['freeze_encoder_epochs']} epoch(s)")
    if config.get("encoder_lr_scale", 1.0) != 1.0:
        parts.append(f"encoder at lr x {config['encoder_lr_scale']}")
    return lines + [f"transfer:    {'; '.join(parts)}"]


def _seconds(value) -> str:
    return "?" if value is None else f"{float(value):.0f} s"


def _short(units) -> str:
    if isinstance(units, dict):
        return ", ".join(f"{k}={_short(v)}" for k, v in units.items())
    if isinstance(units, list):
        return f"{len(units)} units" if len(units) > 8 else " ".join(map(str, units))
    return str(units)
