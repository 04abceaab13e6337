"""Recording conditions no model was trained on, undone before features: digital silence, a DC
offset, a very low recording level (`condition` applies all three).

Digital silence: runs of exact zeros (or less than one int16 step of noise) in a recording.

Padded clips, VoIP, audio editors and muted microphones put stretches of exact zeros into real
recordings. No microphone records that: every model has only ever seen a room's background noise
between words, and the log energy of zeros is minus infinity. `fill_digital_silence` does what
telephony's comfort noise does (RFC 3389): it replaces each stretch of digital silence by the
recording's own background, the quietest tenth of a second of it that is not digital silence,
repeated. A recording with no background at all (clean synthetic speech padded with zeros: its
quietest part is speech, not 25 dB below it) is left as it is; the features' noise floor and CMVN
handle it (asr.features).

A DC offset (a constant added by a faulty sound card) is never speech: it is subtracted. A very
low level (speech far below full scale, e.g. a microphone gain 30 dB too low) would put the
room's noise below the features' noise floor and change what the model sees; a recording whose
loudest frames are below LOW_LEVEL_DB is raised to TARGET_LEVEL_DB (CMVN makes the gain itself
irrelevant to the features above the floor).
"""
from __future__ import annotations

import numpy as np

from asr.segment import DIGITAL_SILENCE_DB, FRAME_SECONDS, frame_energies, frame_hop

LOW_LEVEL_DB = -45.0  # loudest frames (99th percentile) below -45 dB full scale: a low level ...
TARGET_LEVEL_DB = -25.0  # ... raised so they sit at -25 dB, where speech in the corpora here does
MAX_GAIN_DB = 40.0  # never more than 40 dB: what is below that is no recording of speech
BACKGROUND_SECONDS = 0.1  # the background is the quietest tenth of a second of real recording ...
BACKGROUND_BELOW_DB = 25.0  # ... if it is 25 dB below the loudest frames (else it is quiet speech:
                            # clean synthetic speech has no background to take)


def condition(samples: np.ndarray, rate: int) -> np.ndarray:
    """Digital silence filled, DC offset removed, a very low level raised (see the module doc)."""
    samples = fill_digital_silence(samples, rate)
    samples = samples - np.float32(np.mean(samples, dtype=np.float64))
    return raise_low_level(samples, rate)


def raise_low_level(samples: np.ndarray, rate: int) -> np.ndarray:
    """`samples` scaled up when their loudest 10 ms frames are below LOW_LEVEL_DB (else as is)."""
    hop = frame_hop(rate)
    energy = frame_energies(np.asarray(samples, dtype=np.float32), hop)
    loud = float(np.percentile(energy, 99))
    if loud >= LOW_LEVEL_DB or loud <= DIGITAL_SILENCE_DB:
        return samples
    gain_db = min(TARGET_LEVEL_DB - loud, MAX_GAIN_DB)
    return (samples * np.float32(10 ** (gain_db / 20))).astype(np.float32)


def digital_silence_frames(samples: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    """(mask over 10 ms frames, frame length in samples): which frames are digital silence."""
    hop = frame_hop(rate)
    return frame_energies(np.asarray(samples, dtype=np.float32), hop) < DIGITAL_SILENCE_DB, hop


def fill_digital_silence(samples: np.ndarray, rate: int) -> np.ndarray:
    """`samples` with every frame of digital silence replaced by the recording's background noise.

    Returns the input itself when it has no digital silence, or no stretch of real recording long
    enough to take the background from.
    """
    silent, hop = digital_silence_frames(samples, rate)
    if not silent.any():
        return samples
    background = _background(samples, silent, hop, max(1, int(round(BACKGROUND_SECONDS / FRAME_SECONDS))))
    if background is None:
        return samples
    out = np.array(samples, dtype=np.float32, copy=True)
    frames = np.flatnonzero(silent)
    tiles = np.resize(background, len(frames) * hop).reshape(len(frames), hop)
    for frame, tile in zip(frames, tiles):
        start = frame * hop
        end = min(start + hop, len(out))
        out[start:end] = tile[:end - start]
    return out


def _background(samples: np.ndarray, silent: np.ndarray, hop: int, window: int) -> np.ndarray | None:
    """The quietest `window` consecutive frames that hold no digital silence (fewer if no run is
    that long, at least two frames), as samples; None when there is no such run."""
    power = np.square(np.asarray(samples[: len(silent) * hop], dtype=np.float64))
    power = np.pad(power, (0, len(silent) * hop - len(power))).reshape(len(silent), hop).mean(axis=1)
    runs = np.flatnonzero(np.diff(np.concatenate(([1], silent.astype(np.int8), [1]))))
    best, best_power = None, np.inf
    longest = max((end - start for start, end in zip(runs[::2], runs[1::2])), default=0)
    size = min(window, longest)
    if size < 2:
        return None
    loudest = np.percentile(power[~silent], 99)
    for start, end in zip(runs[::2], runs[1::2]):  # runs of real recording [start, end)
        if end - start < size:
            continue
        sums = np.convolve(power[start:end], np.ones(size), mode="valid")
        i = int(np.argmin(sums))
        if sums[i] < best_power:
            best, best_power = start + i, sums[i]
    if 10 * np.log10(best_power / size / loudest) > -BACKGROUND_BELOW_DB:
        return None
    return np.asarray(samples[best * hop:(best + size) * hop], dtype=np.float32)
