"""Split long audio at pauses into chunks a recogniser can take, with an energy voice detector.

`split_file(path, max_seconds)` and `split_samples(samples, rate, max_seconds)` return
(start_sample, end_sample) pairs, at most `max_seconds` long, covering all detected speech.

How: log energy of every 10 ms frame; frames quieter than the noise floor (10th percentile of the
file's frames that are not digital silence) plus a margin are pauses. From the start of the current
chunk, the next cut goes in the middle of the longest pause in the second half of the allowed span
(longest in the whole span if the second half has none; the quietest frame if there is no pause at
all). Each chunk is then trimmed to its speech plus a short margin, and chunks without speech
are dropped.

Memory: split_file reads the file in blocks and keeps only the frame energies (4 bytes per 10 ms,
1.4 MB per hour of audio), never the samples.
"""
from __future__ import annotations

import logging
import os

import numpy as np

from asr.errors import AsrError

log = logging.getLogger(__name__)

MAX_CHUNK_SECONDS = 20.0  # twenty seconds, the one chunk limit (asr.transcribe imports it): audio this
                          # long is decoded whole, longer audio split at pauses; training utterances are
                          # usually shorter (a pause of SPLIT_PAUSE_SECONDS ends a chunk sooner anyway)
FRAME_SECONDS = 0.010  # energy frames of ten milliseconds
BLOCK_SECONDS = 2.0  # split_file reads two seconds of audio at a time
NOISE_PERCENTILE = 10  # the quietest tenth of the frames estimates the noise floor
LOUD_PERCENTILE = 99  # and the loudest hundredth the speech level
SPEECH_MARGIN_DB = 15.0  # speech is at least 15 dB above the noise floor ...
# ... or, in a recording with little dynamic range, above the middle between floor and speech level
PAD_SECONDS = 0.2  # keep a fifth of a second of context around the speech of a chunk
SPLIT_PAUSE_SECONDS = 1.0  # a pause of a second or more always ends a chunk: models are trained on
                           # single utterances, and a character model has no word boundary for a pause
MIN_SPEECH_SECONDS = 0.1  # a chunk with less than a tenth of a second of speech frames is noise
SILENCE_DB = -80.0  # frames below -80 dB full scale are silence whatever the recording's levels
DIGITAL_SILENCE_DB = -90.0  # below one int16 step of noise (-90 dB): exact zeros, not a room's tone;
                            # left out of the noise floor estimate, or zero gaps would set it at -100 dB
POWER_FLOOR = 1e-10  # mean squared amplitude floor (-100 dB): digital silence has finite energy


def split_file(path: str | os.PathLike, max_seconds: float = MAX_CHUNK_SECONDS) -> list[tuple[int, int]]:
    """Chunks of an audio file as sample ranges at the file's own rate, reading it block by block
    (NaN or infinite samples, which would spoil the energies, are an AsrError naming the file)."""
    import soundfile as sf

    from asr.audio import audio_info, check_finite, to_mono

    info = audio_info(path)  # AsrError naming the file when missing, empty or not audio
    hop = frame_hop(info.samplerate)
    block = hop * max(1, int(BLOCK_SECONDS / FRAME_SECONDS))
    energies = []
    try:
        with sf.SoundFile(str(path)) as f:
            for data in f.blocks(blocksize=block, dtype="float32", always_2d=True):
                check_finite(path, data)
                energies.append(frame_energies(to_mono(data), hop))
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AsrError(f"{path}: audio unreadable part-way ({e})") from None
    if not energies:
        raise AsrError(f"{path}: audio is empty (0 samples)")
    return _chunks(np.concatenate(energies), hop, info.frames, info.samplerate, max_seconds)


def split_samples(samples: np.ndarray, sample_rate: int,
                  max_seconds: float = MAX_CHUNK_SECONDS) -> list[tuple[int, int]]:
    """Chunks of an in-memory mono waveform as sample ranges."""
    if len(samples) == 0:
        raise AsrError("split: no samples")
    hop = frame_hop(sample_rate)
    return _chunks(frame_energies(np.asarray(samples, dtype=np.float32), hop), hop, len(samples),
                   sample_rate, max_seconds)


def frame_energies(samples: np.ndarray, hop: int) -> np.ndarray:
    """Log energy (dB relative to full scale) of consecutive `hop`-sample frames; a last partial
    frame counts as a frame of its own."""
    frames = -(-len(samples) // hop)
    padded = np.zeros(frames * hop, dtype=np.float32)
    padded[:len(samples)] = samples
    power = np.square(padded.reshape(frames, hop), dtype=np.float64).sum(axis=1)
    power[-1] *= hop / (len(samples) - (frames - 1) * hop)  # mean over the real samples only
    return (10 * np.log10(power / hop + POWER_FLOOR)).astype(np.float32)


def speech_threshold(energy_db: np.ndarray) -> float:
    """Energy (dB) above which a frame counts as speech."""
    recorded = energy_db[energy_db > DIGITAL_SILENCE_DB]
    if len(recorded):
        energy_db = recorded
    floor, loud = np.percentile(energy_db, [NOISE_PERCENTILE, LOUD_PERCENTILE])
    return max(SILENCE_DB, float(floor + min(SPEECH_MARGIN_DB, (loud - floor) / 2)))


def frame_hop(sample_rate: int) -> int:
    """Samples in one FRAME_SECONDS energy frame."""
    return max(1, int(round(sample_rate * FRAME_SECONDS)))


def _chunks(energy_db: np.ndarray, hop: int, num_samples: int, rate: int,
            max_seconds: float) -> list[tuple[int, int]]:
    max_frames = int(max_seconds * rate) // hop
    if max_frames < 2:
        raise AsrError(f"split: max_seconds={max_seconds} is shorter than two {FRAME_SECONDS * 1000:.0f} ms frames")
    speech = energy_db >= speech_threshold(energy_db)
    out = []
    for first, last in _partition(energy_db, speech, max_frames):
        trimmed = _trim_to_speech(speech, first, last)
        if trimmed:
            out.append((trimmed[0] * hop, min(trimmed[1] * hop, num_samples)))
    return out


def _partition(energy_db: np.ndarray, speech: np.ndarray, max_frames: int) -> list[tuple[int, int]]:
    """Consecutive frame ranges [start, end) of at most max_frames, cut in the middle of every
    pause of SPLIT_PAUSE_SECONDS or more, and at the longest pauses where still too long."""
    pauses = _runs(~speech)
    long_pauses = pauses[pauses[:, 1] - pauses[:, 0] >= round(SPLIT_PAUSE_SECONDS / FRAME_SECONDS)]
    cuts = [0] + [int((a + b) // 2) for a, b in long_pauses if 0 < a and b < len(speech)] + [len(speech)]
    ranges = []
    for start, end in zip(cuts, cuts[1:]):
        ranges += _limit_length(energy_db, pauses, start, end, max_frames)
    return ranges


def _limit_length(energy_db: np.ndarray, pauses: np.ndarray, start: int, total: int,
                  max_frames: int) -> list[tuple[int, int]]:
    """[start, total) as ranges of at most max_frames, cut in the longest pauses."""
    ranges = []
    while total - start > max_frames:
        end = start + max_frames
        cut = _cut_in_longest_pause(pauses, start + max_frames // 2, end)
        if cut is None:
            cut = _cut_in_longest_pause(pauses, start + 1, end)
        if cut is None:  # speech without a pause for max_seconds: cut where it is quietest
            lo = start + max_frames // 2
            cut = lo + int(np.argmin(energy_db[lo:end]))
            log.info("no pause between %.1f s and %.1f s: cutting at the quietest frame",
                     start * FRAME_SECONDS, end * FRAME_SECONDS)
        ranges.append((start, cut))
        start = cut
    ranges.append((start, total))
    return ranges


def _runs(mask: np.ndarray) -> np.ndarray:
    """(start, end) frame ranges of the True runs of `mask`, as an (n, 2) array."""
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])  # alternately where a run starts and ends
    return edges.reshape(-1, 2)


def _cut_in_longest_pause(pauses: np.ndarray, lo: int, hi: int) -> int | None:
    """The middle of the part inside [lo, hi) of the longest pause that reaches into it (ties:
    the later one); None when no pause does."""
    inside = pauses[(pauses[:, 1] > lo) & (pauses[:, 0] < hi)]
    if len(inside) == 0:
        return None
    lengths = inside[:, 1] - inside[:, 0]
    best = inside[len(lengths) - 1 - int(np.argmax(lengths[::-1]))]
    part_start, part_end = max(best[0], lo), min(best[1], hi)
    return max(lo, (part_start + part_end) // 2)


def _trim_to_speech(speech: np.ndarray, start: int, end: int) -> tuple[int, int] | None:
    """[start, end) shrunk to its speech frames plus PAD_SECONDS; None if it holds too little."""
    frames = np.flatnonzero(speech[start:end])
    if len(frames) < int(round(MIN_SPEECH_SECONDS / FRAME_SECONDS)):
        return None
    pad = int(round(PAD_SECONDS / FRAME_SECONDS))
    return max(start, start + frames[0] - pad), min(end, start + frames[-1] + 1 + pad)
