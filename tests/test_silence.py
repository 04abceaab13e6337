"""Digital silence and other real-recording levels: exact zeros must not change what is recognised.

The root causes, each tested here: the log of zero energy (fixed by a noise floor: the expected
power of Kaldi's dither), CMVN statistics dominated by silent frames (digital silence is left out
of them), and the pause splitter's noise floor (estimated without the zero frames). Then every
pipeline (the yesno recipe's models) is checked end to end, for single files and data dirs.
"""
import numpy as np
import pytest
import soundfile as sf
import torch

import asr
from asr.audio import load_audio
from asr.features import FeatureConfig, compute, digital_silence, featurize
from asr.scoring import wer
from asr.segment import speech_threshold, split_samples
from asr.silence import condition, digital_silence_frames, fill_digital_silence
from asr.torchaudio_compat import torchaudio

PIPELINES = ("classic", "ctc", "hybrid", "dnnhmm")
WORDS = {"0": "NO", "1": "YES"}


@pytest.fixture(scope="module")
def utterance(data_root):
    return load_audio(data_root / "an4" / "wav" / "an4test_clstk" / "fvap" / "cen1-fvap-b.wav")


@pytest.fixture(scope="module")
def test_wavs(data_root):
    return sorted((data_root / "yesno" / "waves_yesno").glob("*.wav"))[30:]  # the recipe's test half


def pad(samples: np.ndarray, rate: int, seconds: float, noise: np.ndarray | None = None) -> np.ndarray:
    side = np.zeros(int(seconds * rate), np.float32) if noise is None else np.resize(noise, int(seconds * rate))
    return np.concatenate([side, samples, side]).astype(np.float32)


def room_tone(samples: np.ndarray, rate: int) -> np.ndarray:
    """The recording's quietest tenth of a second: its own background noise."""
    window = rate // 10
    frames = samples[: len(samples) // window * window].reshape(-1, window)
    return frames[np.argmin((frames ** 2).mean(axis=1))]


# ---------------------------------------------------------------- features

def test_noise_floor_is_the_mean_power_of_kaldis_random_dither():
    """Independent reference: torchaudio's Kaldi fbank with its own random dither (1.0) on zeros,
    averaged over many frames, has the mel power our deterministic floor adds."""
    config = FeatureConfig(kind="fbank")
    zeros = np.zeros(16000 * 20, np.float32)
    torch.manual_seed(1)
    dithered = torchaudio.compliance.kaldi.fbank(torch.from_numpy(zeros).unsqueeze(0), dither=1.0,
                                                 num_mel_bins=80, use_log_fbank=False).numpy()
    ours = np.exp(compute(zeros[:16000], config))
    # both are means over 2,000 frames of noise power (the narrow low bins are chi-square with few
    # degrees of freedom): within 10% bin by bin, within 2% over all bins
    np.testing.assert_allclose(ours.mean(axis=0), dithered.mean(axis=0), rtol=0.10)
    assert abs(ours.mean() / dithered.mean() - 1) < 0.02


def clean_bursts(rate: int = 16000) -> np.ndarray:
    """Speech-like sound with no background at all (as clean synthetic speech): three harmonic
    bursts at different pitches, exact zeros between them."""
    t = np.arange(int(0.4 * rate)) / rate
    bursts = [0.3 * np.sin(2 * np.pi * f * t) * np.hanning(len(t)) + 0.1 * np.sin(2 * np.pi * 3 * f * t)
              for f in (180.0, 240.0, 300.0)]
    gap = np.zeros(int(0.15 * rate))
    return np.concatenate([bursts[0], gap, bursts[1], gap, bursts[2]]).astype(np.float32)


def test_comfort_noise_fills_zeros_with_the_recordings_own_background(utterance):
    samples, rate = utterance
    assert fill_digital_silence(samples, rate) is samples  # nothing to fill: untouched
    padded = pad(samples, rate, 0.5)
    filled = fill_digital_silence(padded, rate)
    side = int(0.5 * rate)
    np.testing.assert_array_equal(filled[side:-side], samples)  # the recording itself is kept
    silent, _ = digital_silence_frames(filled, rate)
    assert not silent.any()
    tone = room_tone(samples, rate)  # quietest aligned 100 ms: within 2 dB of what was filled in
    level = lambda x: 10 * np.log10(np.mean(np.square(x, dtype=np.float64)))  # noqa: E731
    assert abs(level(filled[:side]) - level(tone)) < 2.0
    clean = pad(clean_bursts(), 16000, 0.5)  # no background to take: left for the noise floor
    assert fill_digital_silence(clean, 16000) is clean


@pytest.mark.parametrize("kind", ["fbank", "mfcc"])
@pytest.mark.parametrize("seconds", [0.5, 2.0])
def test_zero_padding_gives_the_features_of_room_tone_padding(utterance, kind, seconds):
    samples, rate = utterance
    config = FeatureConfig(kind=kind)
    tone = room_tone(samples, rate)
    zeros = featurize(pad(samples, rate, seconds), rate, config)
    noise = featurize(pad(samples, rate, seconds, tone), rate, config)
    first = int(round(seconds / config.frame_shift))
    speech = slice(first + 5, first + len(samples) // config.shift_samples - 5)  # deltas reach 2 frames out
    diff = np.abs(zeros[speech] - noise[speech])
    # the same but for the room tone's exact samples (the quietest aligned 100 ms vs the quietest
    # sliding 100 ms) and what that does to the CMVN statistics
    # (measured: fbank 0.03 / 0.12, mfcc 0.10 / 0.73 with 2 s; before the fix fbank 0.80 / 2.08)
    assert diff.mean() < 0.15 and np.percentile(diff, 99) < 1.0, (diff.mean(), np.percentile(diff, 99))


@pytest.mark.parametrize("kind", ["fbank", "mfcc"])
def test_without_background_zero_frames_get_the_noise_floor_and_leave_cmvn_alone(kind):
    samples, rate = clean_bursts(), 16000
    config = FeatureConfig(kind=kind)
    energy = (lambda f: f[:, 0]) if kind == "mfcc" else (lambda f: f.mean(axis=1))  # noqa: E731
    speech = compute(samples, config)
    padded = compute(pad(samples, rate, 0.5), config)
    quiet = energy(padded[:40])  # the zero frames
    assert np.all(np.isfinite(quiet)) and np.ptp(quiet) < 1e-3  # the floor, the same every frame
    assert digital_silence(padded, config)[:40].all() and not digital_silence(padded, config)[60:80].any()
    old = compute(pad(samples, rate, 0.5), FeatureConfig(kind=kind, dither=0.0))
    assert energy(old[:40]).max() < quiet.min() - 15  # without the floor: the log of an epsilon
    plain = featurize(samples, rate, config)
    for seconds in (0.5, 2.0):
        padded = featurize(pad(samples, rate, seconds), rate, config)
        first = int(round(seconds / config.frame_shift))
        inner = slice(5, len(plain) - 5)  # frames whose deltas reach into the padding differ, as they must
        diff = np.abs(padded[first:first + len(plain)][inner] - plain[inner])
        assert diff.mean() < 0.1, diff.mean()  # measured 0.07-0.08; before the fix 0.20-1.33
    # all-silent input still normalises (the statistics fall back to every frame)
    assert np.all(np.isfinite(featurize(np.zeros(rate, np.float32), rate, config)))
    del speech


@pytest.mark.parametrize("kind", ["fbank", "mfcc"])
def test_dc_offset_and_a_low_recording_level_do_not_change_the_features(utterance, kind):
    samples, rate = utterance
    config = FeatureConfig(kind=kind)
    plain = featurize(samples, rate, config)
    offset = featurize(samples + np.float32(0.05), rate, config)
    assert np.abs(offset - plain).mean() < 0.02  # mfcc without removing it: 0.32 (fbank removes it per frame)
    quiet = featurize(samples * np.float32(10 ** (-30 / 20)), rate, config)  # 30 dB too low
    assert np.abs(quiet - plain).mean() < 0.05  # measured 1e-4; without raising the level 0.43 / 0.38
    assert condition(samples, rate).std() == pytest.approx(samples.std(), rel=1e-6)  # normal level: untouched


def test_splitter_noise_floor_ignores_zero_gaps(utterance):
    samples, rate = utterance
    tone = room_tone(samples, rate)
    with_tone = np.concatenate([samples, np.resize(tone, rate), samples, np.resize(tone, 3 * rate)])
    with_zeros = np.concatenate([samples, np.zeros(rate, np.float32), samples, np.zeros(3 * rate, np.float32)])
    from asr.segment import frame_energies, frame_hop

    hop = frame_hop(rate)
    assert abs(speech_threshold(frame_energies(with_zeros, hop))
               - speech_threshold(frame_energies(with_tone, hop))) < 6.0  # dB (before the fix: 24 dB apart)
    spans_zero, spans_tone = split_samples(with_zeros, rate), split_samples(with_tone, rate)
    assert len(spans_zero) == len(spans_tone) == 2
    for (a0, a1), (b0, b1) in zip(spans_zero, spans_tone):
        assert abs((a1 - a0) - (b1 - b0)) < 0.05 * rate  # same speech, same margins


# ---------------------------------------------------------------- every pipeline, end to end

@pytest.fixture(scope="module", params=PIPELINES)
def transcriber(request, yesno_exp):
    return asr.load(yesno_exp / request.param)


@pytest.mark.slow
def test_transcripts_do_not_change_with_zero_or_noise_padding(transcriber, test_wavs):
    changed = []
    for wav in test_wavs[:4]:
        samples, rate = sf.read(str(wav), dtype="float32")
        tone = room_tone(samples, rate)
        expected = transcriber.transcribe(samples, sample_rate=rate).text
        assert expected
        for name, audio in {"zeros 0.5 s": pad(samples, rate, 0.5), "zeros 2 s": pad(samples, rate, 2.0),
                            "room tone 2 s": pad(samples, rate, 2.0, tone)}.items():
            got = transcriber.transcribe(audio, sample_rate=rate).text
            if got != expected:
                changed.append(f"{wav.name} {name}: {got!r} != {expected!r}")
    assert not changed, "\n".join(changed)


@pytest.mark.slow
def test_long_file_with_zero_gaps_scores_as_with_noise_gaps(transcriber, test_wavs, tmp_path, request):
    if transcriber.info.pipeline == "dnnhmm":
        # measured: 1.04% with 1 s zero gaps (one NO inserted near 12.5 s), 0.00% with room tone;
        # known and open. The test still runs and reports XPASS once it holds (not strict: one word
        # may go either way on another CPU's float kernels).
        request.applymarker(pytest.mark.xfail(strict=False, reason="dnnhmm: one insertion with zero gaps"))
    refs, zero_parts, tone_parts = [], [], []
    for wav in test_wavs[:12]:
        samples, rate = sf.read(str(wav), dtype="float32")
        refs.append(" ".join(WORDS[b] for b in wav.stem.split("_")))
        zero_parts += [samples, np.zeros(rate, np.float32)]
        tone_parts += [samples, np.resize(room_tone(samples, rate), rate)]
    results = {}
    for name, parts in {"zeros": zero_parts, "tone": tone_parts}.items():
        path = tmp_path / f"{name}.wav"
        sf.write(str(path), np.concatenate(parts), rate)  # over a minute: split at pauses
        results[name] = wer({"all": " ".join(refs)}, {"all": transcriber.transcribe(path).text})
    assert abs(results["zeros"] - results["tone"]) <= 1.0, results


@pytest.mark.slow
def test_data_dir_decoding_is_unchanged_by_zero_padding(yesno_exp, test_wavs, tmp_path):
    """`asr decode` on a data dir of zero-padded copies gives every pipeline the same hypotheses."""
    from asr.cli import main

    for name, seconds in (("plain", 0.0), ("padded", 1.0)):
        data = tmp_path / name
        data.mkdir()
        wav_scp, text, utt2spk = [], [], []
        for wav in test_wavs[:5]:
            samples, rate = sf.read(str(wav), dtype="float32")
            out = tmp_path / f"{name}_{wav.name}"
            sf.write(str(out), pad(samples, rate, seconds), rate)
            utt = wav.stem
            wav_scp.append(f"{utt} {out}")
            text.append(f"{utt} {' '.join(WORDS[b] for b in utt.split('_'))}")
            utt2spk.append(f"{utt} global")
        for fname, lines in (("wav.scp", wav_scp), ("text", text), ("utt2spk", utt2spk)):
            (data / fname).write_text("\n".join(lines) + "\n")
        (data / "spk2utt").write_text("global " + " ".join(sorted(w.stem for w in test_wavs[:5])) + "\n")
    for pipeline in PIPELINES:
        hyps = {}
        for name in ("plain", "padded"):
            out = tmp_path / f"decode_{pipeline}_{name}"
            assert main(["decode", str(yesno_exp / pipeline), str(tmp_path / name), "--out", str(out)]) == 0
            hyps[name] = (out / "hyp.txt").read_text()
        assert hyps["plain"] == hyps["padded"], pipeline
