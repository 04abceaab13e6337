"""Read audio for every pipeline: any format soundfile reads, down-mixed to mono, resampled, float32.

soundfile (libsndfile) does the I/O, never torchaudio (its I/O needs the compiled extension that
cannot load against the CPU torch; see DESIGN.md). Resampling is scipy's polyphase filter.
"""
from __future__ import annotations

import logging
import os
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
