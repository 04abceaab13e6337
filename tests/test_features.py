"""Features against their references: python_speech_features and torchaudio's Kaldi fbank called
directly, on real AN4 (16 kHz) and yesno (8 kHz) recordings; CMVN, cache, parallel extraction."""
import math
import shutil

import numpy as np
import pytest
import python_speech_features as psf
import soundfile as sf
import torch

from asr import features
from asr.audio import load_audio, resample
from asr.datadir import DataDir, Segment
from asr.errors import AsrError
from asr.silence import condition
from asr.features import FeatureConfig, compute, featurize, load_features, num_frames
from asr.torchaudio_compat import torchaudio

AN4_UTTS = ("fash/an251-fash-b", "fash/an253-fash-b", "fbbh/an86-fbbh-b", "fbbh/an87-fbbh-b")
YESNO_FILES = ("0_0_0_0_1_1_1_1", "0_0_0_1_0_0_0_1", "0_0_0_1_0_1_1_0")


@pytest.fixture(scope="module")
def an4(data_root) -> DataDir:
    """Four AN4 training utterances from two speakers (16 kHz)."""
    data = DataDir()
    for fileid in AN4_UTTS:
        spk, name = fileid.split("/")
        utt = f"{spk}-{name}"
        data.wav[utt] = str(data_root / "an4" / "wav" / "an4_clstk" / f"{fileid}.wav")
        data.utt2spk[utt] = spk
    return data


@pytest.fixture(scope="module")
def yesno(data_root) -> DataDir:
    """Three yesno recordings (8 kHz, one speaker)."""
    data = DataDir()
    for name in YESNO_FILES:
        data.wav[f"spk-{name}"] = str(data_root / "yesno" / "waves_yesno" / f"{name}.wav")
        data.utt2spk[f"spk-{name}"] = "spk"
    return data


def psf_reference(samples: np.ndarray, rate: int, nfft: int) -> np.ndarray:
    """MFCC + delta + delta-delta exactly as a python_speech_features user computes them."""
    signal = samples.astype(np.float64) * 32768  # int16 scale, as read by scipy.io.wavfile
    static = psf.mfcc(signal, samplerate=rate, nfft=nfft)  # psf defaults: 13 ceps, 26 filters, ...
    d1 = psf.delta(static, 2)
    return np.hstack([static, d1, psf.delta(d1, 2)])


def test_config_defaults_depend_on_kind_and_round_trip():
    mfcc, fbank = FeatureConfig(), FeatureConfig(kind="fbank")
    assert (mfcc.num_filters, mfcc.deltas, mfcc.dim) == (26, 2, 39)
    assert (fbank.num_filters, fbank.deltas, fbank.dim) == (80, 0, 80)
    assert FeatureConfig.from_dict(fbank.to_dict()) == fbank
    with pytest.raises(AsrError, match="unknown key"):
        FeatureConfig.from_dict({"kind": "mfcc", "num_cepstra": 13})
    with pytest.raises(AsrError, match="kind"):
        FeatureConfig(kind="plp")


@pytest.mark.parametrize("corpus, rate, nfft", [("an4", 16000, 512), ("yesno", 8000, 256)])
def test_mfcc_equals_python_speech_features(corpus, rate, nfft, request):
    data = request.getfixturevalue(corpus)
    config = FeatureConfig(kind="mfcc", sample_rate=rate, dither=0.0)  # psf has no noise floor
    assert features.fft_size(config) == nfft
    for utt in data.utts[:2]:
        samples, file_rate = load_audio(data.wav[utt])
        assert file_rate == rate
        ours = compute(samples, config)
        assert ours.dtype == np.float32 and ours.shape[1] == 39
        # the feature maths on the conditioned samples (asr.silence: DC offset removed; tested there)
        np.testing.assert_allclose(ours, psf_reference(condition(samples, rate), rate, nfft), rtol=1e-5, atol=1e-5)


def test_vectorised_delta_equals_psf_delta(an4):
    samples, _ = load_audio(an4.wav[an4.utts[0]])
    static = psf.mfcc(samples.astype(np.float64) * 32768, 16000)
    np.testing.assert_allclose(features.delta(static), psf.delta(static, 2), rtol=1e-12, atol=1e-9)
    # too short for the window: edges repeat, as in psf
    np.testing.assert_allclose(features.delta(static[:3]), psf.delta(static[:3], 2), atol=1e-9)


@pytest.mark.parametrize("corpus, rate, bins", [("an4", 16000, 80), ("yesno", 8000, 40)])
def test_fbank_equals_torchaudio_kaldi_fbank(corpus, rate, bins, request):
    data = request.getfixturevalue(corpus)
    config = FeatureConfig(kind="fbank", sample_rate=rate, num_filters=bins, dither=0.0)
    samples, _ = load_audio(data.wav[data.utts[0]])
    wave = torch.from_numpy(condition(samples, rate) * 32768).unsqueeze(0)
    reference = torchaudio.compliance.kaldi.fbank(wave, sample_frequency=rate, num_mel_bins=bins, dither=0.0)
    np.testing.assert_allclose(compute(samples, config), reference.numpy(), rtol=1e-5, atol=1e-4)


def test_noise_floor_is_on_by_default_and_deterministic(an4):
    """Kaldi's dither (one int16 step) as a deterministic floor: same features every call, different
    from no floor; tests/test_silence.py checks it against torchaudio's random dither."""
    samples, _ = load_audio(an4.wav[an4.utts[0]])
    floored = FeatureConfig(kind="fbank")
    assert floored.dither == 1.0
    np.testing.assert_array_equal(compute(samples, floored), compute(samples, floored))
    plain = FeatureConfig(kind="fbank", dither=0.0)
    assert not np.array_equal(compute(samples, floored), compute(samples, plain))


def test_frame_counts_follow_the_framing_formulas(an4, yesno):
    # hand-computed: 1 s at 16 kHz, 400-sample frames every 160 samples
    assert num_frames(16000, FeatureConfig(kind="mfcc")) == 99  # psf pads: 1 + ceil(15600 / 160)
    assert num_frames(16000, FeatureConfig(kind="fbank")) == 98  # Kaldi snips: 1 + 15600 // 160
    assert num_frames(399, FeatureConfig(kind="fbank")) == 0
    for data, rate in ((an4, 16000), (yesno, 8000)):
        samples, _ = load_audio(data.wav[data.utts[0]])
        n, length, shift = len(samples), 25 * rate // 1000, 10 * rate // 1000
        mfcc = compute(samples, FeatureConfig(kind="mfcc", sample_rate=rate))
        fbank = compute(samples, FeatureConfig(kind="fbank", sample_rate=rate, num_filters=40))
        assert len(mfcc) == 1 + math.ceil((n - length) / shift)
        assert len(fbank) == 1 + (n - length) // shift


def test_too_short_audio_is_a_clear_error():
    with pytest.raises(AsrError, match="too short"):
        compute(np.zeros(100, dtype=np.float32), FeatureConfig())


def test_speaker_cmvn_gives_zero_mean_unit_variance_per_speaker(an4):
    raw = load_features(an4, FeatureConfig(cmvn="none"))
    feats = load_features(an4, FeatureConfig(cmvn="speaker"))
    for spk, utts in an4.spk2utt.items():
        assert len(utts) == 2
        frames = np.concatenate([feats[u] for u in utts])
        np.testing.assert_allclose(frames.mean(axis=0), 0, atol=1e-4)
        np.testing.assert_allclose(frames.std(axis=0), 1, atol=1e-4)
        # the same normalisation computed by hand from the raw features
        pooled = np.concatenate([raw[u] for u in utts]).astype(np.float64)
        expected = (raw[utts[0]] - pooled.mean(axis=0)) / pooled.std(axis=0)
        np.testing.assert_allclose(feats[utts[0]], expected, rtol=1e-4, atol=1e-4)
        # speaker CMVN is not per-utterance CMVN: one utterance alone is not centred
        assert np.abs(feats[utts[0]].mean(axis=0)).max() > 0.05


def test_utterance_cmvn_and_featurize(an4):
    config = FeatureConfig(kind="fbank", cmvn="utterance")
    feats = load_features(an4, config)
    for utt in an4.utts:
        np.testing.assert_allclose(feats[utt].mean(axis=0), 0, atol=1e-4)
        np.testing.assert_allclose(feats[utt].std(axis=0), 1, atol=1e-3)
    samples, rate = load_audio(an4.wav[an4.utts[0]])
    np.testing.assert_allclose(featurize(samples, rate, config), feats[an4.utts[0]], atol=1e-5)
    # a lone file has no speaker: speaker CMVN falls back to per-utterance
    speaker = FeatureConfig(kind="fbank", cmvn="speaker")
    np.testing.assert_allclose(featurize(samples, rate, speaker), feats[an4.utts[0]], atol=1e-5)
    mean_only = featurize(samples, rate, FeatureConfig(kind="fbank", norm_vars=False))
    np.testing.assert_allclose(mean_only.mean(axis=0), 0, atol=1e-3)
    assert mean_only.std(axis=0).max() > 1.5


def test_8khz_audio_resampled_for_a_16khz_config(yesno):
    config = FeatureConfig(kind="mfcc", sample_rate=16000)
    feats = load_features(yesno, config)
    for utt in yesno.utts:
        samples, rate = load_audio(yesno.wav[utt])
        assert rate == 8000
        upsampled = resample(samples, 8000, 16000)
        assert feats[utt].shape == (num_frames(len(upsampled), config), 39)
        np.testing.assert_allclose(featurize(samples, 8000, config), feats[utt], atol=1e-4)


def test_cache_hits_on_second_call_and_misses_when_config_changes(an4, tmp_path, monkeypatch):
    calls = []
    real_compute = features.compute

    def counting_compute(samples, config):
        calls.append(config.kind)
        return real_compute(samples, config)

    monkeypatch.setattr(features, "compute", counting_compute)
    config = FeatureConfig(kind="mfcc", cmvn="speaker")
    first = load_features(an4, config, cache_dir=tmp_path)
    assert len(calls) == len(an4)
    stored = list(tmp_path.glob("*/*.npy"))
    assert len(stored) == len(an4)
    assert all(not np.load(p, allow_pickle=False).dtype.hasobject for p in stored)

    second = load_features(an4, config, cache_dir=tmp_path)
    assert len(calls) == len(an4)  # nothing recomputed
    for utt in an4.utts:
        np.testing.assert_array_equal(first[utt], second[utt])

    # CMVN is applied after loading: changing it reuses the stored features
    load_features(an4, FeatureConfig(kind="mfcc", cmvn="none"), cache_dir=tmp_path)
    assert len(calls) == len(an4)
    # a nested subset shares the extraction too
    load_features(an4.select(an4.utts[:2]), config, cache_dir=tmp_path)
    assert len(calls) == len(an4)

    load_features(an4, FeatureConfig(kind="mfcc", num_filters=23), cache_dir=tmp_path)
    assert len(calls) == 2 * len(an4)  # a different extraction setting misses
    assert len({p.parent for p in tmp_path.glob("*/*.npy")}) == 2


def test_cache_misses_when_the_audio_file_changes(an4, tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    data = DataDir()
    for utt in an4.utts[:2]:
        data.wav[utt] = str(shutil.copy(an4.wav[utt], audio / f"{utt}.wav"))
        data.utt2spk[utt] = an4.utt2spk[utt]
    cache = tmp_path / "cache"
    config = FeatureConfig(kind="fbank", cmvn="none")
    before = load_features(data, config, cache_dir=cache)
    changed = data.utts[0]
    shutil.copy(an4.wav[an4.utts[3]], data.wav[changed])  # other audio behind the same path
    after = load_features(data, config, cache_dir=cache)
    assert after[changed].shape != before[changed].shape or not np.array_equal(after[changed], before[changed])
    np.testing.assert_array_equal(after[data.utts[1]], before[data.utts[1]])


def test_parallel_extraction_equals_serial(an4, yesno, tmp_path):
    both = DataDir(wav={**an4.wav, **yesno.wav}, utt2spk={**an4.utt2spk, **yesno.utt2spk})
    config = FeatureConfig(kind="fbank", cmvn="speaker")
    serial = load_features(both, config, nj=1)
    parallel = load_features(both, config, cache_dir=tmp_path, nj=2)
    assert list(parallel) == list(serial) == both.utts
    for utt in both.utts:
        np.testing.assert_array_equal(parallel[utt], serial[utt])


def test_segments_read_only_their_part_of_the_recording(an4):
    utt = an4.utts[0]
    samples, rate = load_audio(an4.wav[utt])
    data = DataDir(wav={"rec": an4.wav[utt]}, utt2spk={"spk-a": "spk", "spk-b": "spk"},
                   segments={"spk-a": Segment("rec", 0.0, 0.5), "spk-b": Segment("rec", 0.5, 1.0)})
    config = FeatureConfig(cmvn="none")
    feats = load_features(data, config)
    np.testing.assert_allclose(feats["spk-b"], compute(samples[rate // 2:rate], config), atol=1e-5)


@pytest.mark.parametrize("nj", [1, 2])
def test_empty_or_corrupt_audio_in_a_data_dir_is_named(an4, tmp_path, nj):
    empty, corrupt = tmp_path / "empty.wav", tmp_path / "corrupt.wav"
    empty.write_bytes(b"")
    corrupt.write_bytes(open(an4.wav[an4.utts[0]], "rb").read()[:30])  # header cut short
    for bad in (empty, corrupt):
        data = DataDir(wav={**an4.wav, "zz-bad": str(bad)}, utt2spk={**an4.utt2spk, "zz-bad": "zz"})
        with pytest.raises(AsrError, match=bad.name) as err:
            load_features(data, FeatureConfig(), cache_dir=tmp_path / "cache", nj=nj)
        assert "\n" not in str(err.value)


def test_audio_shorter_than_a_frame_is_named(tmp_path):
    short = tmp_path / "short.wav"
    sf.write(short, np.full(100, 0.1, dtype=np.float32), 16000)
    data = DataDir(wav={"s-1": str(short)}, utt2spk={"s-1": "s"})
    with pytest.raises(AsrError, match="short.wav.*too short"):
        load_features(data, FeatureConfig())
