"""asr.audio on real recordings, and every bad-input case the issue names."""
import logging

import numpy as np
import pytest
import soundfile as sf

from asr.audio import duration_seconds, load_audio, resample
from asr.errors import AsrError


@pytest.fixture
def yesno_wav(data_root):
    return data_root / "yesno" / "waves_yesno" / "0_0_0_0_1_1_1_1.wav"


def test_reads_wav_at_native_rate(yesno_wav):
    samples, rate = load_audio(yesno_wav)
    reference, ref_rate = sf.read(str(yesno_wav), dtype="float32")
    assert rate == ref_rate == 8000
    assert samples.dtype == np.float32
    np.testing.assert_array_equal(samples, reference)


def test_reads_flac(data_root):
    flac = sorted((data_root / "kathleen" / "data").glob("*.flac"))[0]
    samples, rate = load_audio(flac)
    assert rate == 16000 and samples.ndim == 1 and len(samples) == sf.info(str(flac)).frames


def test_resamples_to_model_rate_keeping_duration_and_content(yesno_wav):
    samples8, _ = load_audio(yesno_wav)
    samples16, rate = load_audio(yesno_wav, sample_rate=16000)
    assert rate == 16000
    assert len(samples16) == 2 * len(samples8)
    # every second sample of the upsampled signal is close to the original (band-limited interpolation)
    assert np.corrcoef(samples16[::2], samples8)[0, 1] > 0.99
    assert duration_seconds(yesno_wav) == pytest.approx(len(samples8) / 8000)


def test_resample_preserves_a_tone_frequency():
    rate = 8000
    t = np.arange(rate) / rate
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    up = resample(tone, 8000, 16000)
    spectrum = np.abs(np.fft.rfft(up))
    assert np.argmax(spectrum) == pytest.approx(440, abs=1)  # 1 s of audio: bin k = k Hz


def test_stereo_is_averaged_to_mono(tmp_path, yesno_wav):
    mono, rate = load_audio(yesno_wav)
    stereo = np.stack([mono, 0.5 * mono], axis=1)
    path = tmp_path / "stereo.wav"
    sf.write(str(path), stereo, rate, subtype="FLOAT")
    out, _ = load_audio(path)
    np.testing.assert_allclose(out, 0.75 * mono, atol=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "no such file"),
    (lambda p: p.write_bytes(b""), "empty (0 bytes)"),
    (lambda p: p.write_text("this is a transcript, not audio\n"), "not a readable audio file"),
    (lambda p: p.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00" + b"\x00" * 7), "not a readable audio file"),
])
def test_bad_files_raise_one_line_error_naming_the_file(tmp_path, make, message):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AsrError) as err:
        load_audio(path)
    text = str(err.value)
    assert str(path) in text and message in text and "\n" not in text


def test_truncated_real_file_is_an_error_or_shorter(tmp_path, yesno_wav):
    data = yesno_wav.read_bytes()
    path = tmp_path / "truncated.wav"
    path.write_bytes(data[:30])  # header cut in the middle
    with pytest.raises(AsrError, match="truncated.wav"):
        load_audio(path)


def test_zero_length_audio(tmp_path):
    path = tmp_path / "zero.wav"
    sf.write(str(path), np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AsrError, match="audio is empty"):
        load_audio(path)


def test_directory_is_not_audio(tmp_path):
    with pytest.raises(AsrError, match="is a directory"):
        load_audio(tmp_path)


def test_clipped_audio_warns(tmp_path, caplog, yesno_wav):
    samples, rate = load_audio(yesno_wav)
    loud = np.clip(samples * 1000, -1, 1)
    path = tmp_path / "loud.wav"
    sf.write(str(path), loud, rate)
    with caplog.at_level(logging.WARNING, logger="asr.audio"):
        load_audio(path)
    assert any("clipped" in r.message for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="asr.audio"):
        load_audio(yesno_wav)
    assert not any("clipped" in r.message for r in caplog.records)
