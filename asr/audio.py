"""Read audio for every pipeline: any format soundfile reads, down-mixed to mono, resampled, float32.

soundfile (libsndfile) does the I/O, never torchaudio (its I/O needs the compiled extension that
cannot load against the CPU torch; see DESIGN.md). Resampling is scipy's polyphase filter.

Damaged files: a WAV whose header promises more samples than the file holds (a copy or download
cut short) is read as far as it goes with a one-line warning naming the file and the seconds
missing; NaN or infinite samples (float WAVs) are an error naming the file.
"""
from __future__ import annotations

import logging
import os
import struct
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

from asr.errors import AsrError

log = logging.getLogger(__name__)

CLIP_LEVEL = 0.999  # |sample| at or above this counts as clipped (full scale is 1.0)
CLIP_WARN_FRACTION = 0.001  # warn when more than one sample in a thousand is clipped
# File suffixes taken as audio when a folder is searched (formats libsndfile reads).
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".au", ".sph", ".opus"}


def audio_info(path: str | os.PathLike) -> sf._SoundFileInfo:
    """Header of an audio file (rate, channels, frames) without reading the samples."""
    path = Path(path)
    _check_exists(path)
    try:
        return sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AsrError(f"{path}: not a readable audio file ({_reason(e)})") from None


def duration_seconds(path: str | os.PathLike) -> float:
    info = audio_info(path)
    return info.frames / info.samplerate


def load_audio(path: str | os.PathLike, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Read `path` as mono float32 in [-1, 1]; resample to `sample_rate` when given.

    Returns (samples, rate). Raises AsrError naming the file when it is missing, not audio,
    corrupt or empty. Warns (does not fail) when the recording is clipped.
    """
    path = Path(path)
    _check_exists(path)
    try:
        samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AsrError(f"{path}: not a readable audio file ({_reason(e)})") from None
    if samples.shape[0] == 0:
        raise AsrError(f"{path}: audio is empty (0 samples)")
    check_finite(path, samples)
    warn_if_truncated(path, rate, samples.shape[0])
    mono = to_mono(samples)
    clipped = float(np.mean(np.abs(mono) >= CLIP_LEVEL))
    if clipped > CLIP_WARN_FRACTION:
        log.warning("%s: %.1f%% of samples are clipped", path, 100 * clipped)
    if sample_rate is not None and rate != sample_rate:
        mono = resample(mono, rate, sample_rate)
        rate = sample_rate
    return mono, rate


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels of a (frames, channels) array; a 1-D array is already mono."""
    if samples.ndim == 1:
        return samples.astype(np.float32, copy=False)
    return samples.mean(axis=1, dtype=np.float32)


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited polyphase resampling (scipy), exact for rational rate ratios."""
    if from_rate == to_rate:
        return samples.astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    ratio = Fraction(to_rate, from_rate)
    out = resample_poly(samples, ratio.numerator, ratio.denominator)
    return out.astype(np.float32)


def warn_if_truncated(path: str | os.PathLike, rate: int, frames: int) -> float:
    """Warn (one line naming the file) when a WAV's header promises more audio than the file holds;
    return the seconds missing (0.0 when complete, or not a WAV)."""
    missing = missing_seconds(path, rate)
    if missing > 0:
        log.warning("%s: truncated file: %.2f s of audio missing (the header promises %.2f s, the file "
                    "holds %.2f s); using what is there", path, missing, frames / rate + missing, frames / rate)
    return missing


def missing_seconds(path: str | os.PathLike, rate: int) -> float:
    """Seconds of audio a RIFF/WAVE header's data chunk promises beyond the end of the file."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return 0.0
        order = "<" if head[:4] == b"RIFF" else ">"
        size = os.fstat(f.fileno()).st_size
        pos, block_align = 12, 0
        while pos + 8 <= size:
            f.seek(pos)
            chunk_id, length = struct.unpack(order + "4sI", f.read(8))
            if chunk_id == b"fmt " and length >= 14:
                block_align = struct.unpack(order + "H", f.read(14)[12:14])[0]
            elif chunk_id == b"data":
                available = size - pos - 8
                if length in (0, 0xFFFFFFFF) or length <= available or not block_align:
                    return 0.0  # complete, or a streaming writer's "unknown length"
                return (length - available) // block_align / rate
            pos += 8 + length + (length & 1)
    return 0.0


def check_finite(path: str | os.PathLike, samples: np.ndarray) -> None:
    """NaN or infinite samples (a damaged float recording) are an AsrError naming the file."""
    bad = int(np.count_nonzero(~np.isfinite(samples)))
    if bad:
        raise AsrError(f"{path}: {bad} sample(s) are NaN or infinite (a damaged float recording)")


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise AsrError(f"{path}: no such file")
    if path.is_dir():
        raise AsrError(f"{path}: is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise AsrError(f"{path}: file is empty (0 bytes)")


def _reason(error: Exception) -> str:
    # libsndfile's messages repeat the path and span lines: keep the last clause only
    text = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
    return text.split(": ")[-1].rstrip(".")
