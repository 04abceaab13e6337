"""Long-audio splitting on a long recording built from real AN4 test utterances and pauses."""
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from asr.audio import load_audio
from asr.errors import AsrError
from asr.segment import frame_energies, speech_threshold, split_file, split_samples

RATE = 16000
MAX_SECONDS = 15.0
NOISE_RMS = 3e-4  # room noise at about -70 dB full scale, like AN4's own background
FRAME = 160  # 10 ms at 16 kHz


@pytest.fixture(scope="module")
def long_recording(data_root, tmp_path_factory):
    """About 3 minutes: 40 AN4 test utterances with 1-2 s pauses of low noise between them.

    Returns (wav path, samples, utterance spans as (start, end) samples)."""
    files = sorted((data_root / "an4" / "wav" / "an4test_clstk").glob("*/*.wav"))[:40]
    rng = np.random.default_rng(0)
    pieces, spans, position = [], [], 0
    for path in files:
        gap = (rng.normal(0, NOISE_RMS, int(rng.uniform(1.0, 2.0) * RATE))).astype(np.float32)
        utt, rate = load_audio(path)
        assert rate == RATE
        pieces += [gap, utt]
        spans.append((position + len(gap), position + len(gap) + len(utt)))
        position += len(gap) + len(utt)
    pieces.append(rng.normal(0, NOISE_RMS, RATE).astype(np.float32))
    samples = np.concatenate(pieces)
    wav = tmp_path_factory.mktemp("long") / "long.wav"
    sf.write(wav, samples, RATE, subtype="PCM_16")
    samples, _ = load_audio(wav)  # exactly what split_file reads
    return wav, samples, spans


def speech_core(samples: np.ndarray, start: int, end: int) -> tuple[int, int]:
    """First and last sample of the 10 ms frames of an utterance within 25 dB of its loudest frame:
    the part no chunk boundary may cut (computed here, independently of asr.segment)."""
    n = (end - start) // FRAME
    power = np.mean(samples[start:start + n * FRAME].reshape(n, FRAME).astype(np.float64) ** 2, axis=1)
    level = 10 * np.log10(power + 1e-12)
    loud = np.flatnonzero(level > level.max() - 25)
    return start + loud[0] * FRAME, start + (loud[-1] + 1) * FRAME


def test_chunks_are_short_cut_at_pauses_and_cover_all_speech(long_recording):
    wav, samples, spans = long_recording
    chunks = split_file(wav, MAX_SECONDS)
    duration = len(samples) / RATE
    assert duration > 150
    assert len(chunks) >= duration / MAX_SECONDS
    for (start, end), following in zip(chunks, chunks[1:] + [(len(samples), len(samples))]):
        assert 0 <= start < end <= following[0]  # ordered, no overlap
        assert end - start <= MAX_SECONDS * RATE
    for utt_start, utt_end in spans:
        core_start, core_end = speech_core(samples, utt_start, utt_end)
        holding = [c for c in chunks if c[0] <= core_start and core_end <= c[1]]
        assert len(holding) == 1, f"speech at {core_start / RATE:.2f}-{core_end / RATE:.2f} s is cut or dropped"
    # and little else: no chunk of noise alone; the noise before the first and after the last
    # utterance is trimmed
    cores = [speech_core(samples, *span) for span in spans]
    for start, end in chunks:
        assert any(start <= a and b <= end for a, b in cores)
    assert chunks[0][0] > spans[0][0] - 0.5 * RATE
    assert chunks[-1][1] < spans[-1][1] + 0.5 * RATE


def test_every_pause_between_utterances_is_detected_as_pause(long_recording):
    _, samples, spans = long_recording
    energy = frame_energies(samples, FRAME)
    threshold = speech_threshold(energy)
    gaps = [(0, spans[0][0])] + [(a[1], b[0]) for a, b in zip(spans, spans[1:])]
    for gap_start, gap_end in gaps:
        middle = (gap_start + gap_end) // 2 // FRAME
        assert energy[middle - 20:middle + 20].max() < threshold  # 0.4 s around the middle


def test_in_memory_split_equals_file_split(long_recording):
    wav, samples, _ = long_recording
    assert split_samples(samples, RATE, MAX_SECONDS) == split_file(wav, MAX_SECONDS)


def test_memory_stays_flat_with_file_length(long_recording):
    wav, samples, _ = long_recording
    tracemalloc.start()
    split_file(wav, MAX_SECONDS)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    whole_file = samples.nbytes  # what reading it at once would take (float32)
    assert peak < whole_file / 10, f"peak {peak / 1e6:.1f} MB for a {whole_file / 1e6:.1f} MB file"


def test_stereo_and_8khz_files_give_ranges_at_the_file_rate(data_root, tmp_path):
    yes_no = sorted((data_root / "yesno" / "waves_yesno").glob("*.wav"))[:4]
    waves = [load_audio(p)[0] for p in yes_no]
    rate = 8000
    mono = np.concatenate(waves)  # about 24 s of 8 kHz speech, one word every second or so
    stereo = tmp_path / "stereo.flac"
    sf.write(stereo, np.stack([mono, mono * 0.5], axis=1), rate)
    chunks = split_file(stereo, 10.0)
    assert all(end - start <= 10 * rate for start, end in chunks)
    assert chunks[-1][1] <= len(mono) and len(chunks) >= 3


def test_speech_without_pauses_is_cut_at_the_quietest_frames():
    # hand-made: 40 s of a tone whose level dips once every 7 s; no frame is quiet enough for a pause
    t = np.arange(40 * RATE) / RATE
    level = 0.5 - 0.3 * (np.abs((t % 7.0) - 6.0) < 0.05)
    tone = (level * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    chunks = split_samples(tone, RATE, MAX_SECONDS)
    assert chunks[0][0] == 0 and chunks[-1][1] == len(tone)
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))  # contiguous: all of it is speech
    assert all(end - start <= MAX_SECONDS * RATE for start, end in chunks)
    for _, end in chunks[:-1]:  # every cut lands in a dip
        assert abs((end / RATE) % 7.0 - 6.0) < 0.06


def test_silence_gives_no_chunks_and_bad_input_is_named(tmp_path):
    assert split_samples(np.zeros(30 * RATE, dtype=np.float32), RATE, MAX_SECONDS) == []
    frames = frame_energies(np.concatenate([np.ones(160), np.full(80, 0.5)]).astype(np.float32), 160)
    np.testing.assert_allclose(frames, [0.0, 10 * np.log10(0.25)], atol=1e-4)  # partial frame: its own mean
    with pytest.raises(AsrError, match="nope.wav"):
        split_file(tmp_path / "nope.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all" * 10)
    with pytest.raises(AsrError, match="junk.wav"):
        split_file(junk)
    with pytest.raises(AsrError, match="max_seconds"):
        split_samples(np.ones(RATE, dtype=np.float32), RATE, 0.01)
