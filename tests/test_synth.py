"""The espeak-ng synthetic corpus: data dir shape, determinism, and checks of what is in the audio."""
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from asr.audio import load_audio
from asr.corpora.synth import VOCABULARY, VOICES, SynthConfig, engine, make_corpus, white_noise
from asr.datadir import read_datadir, validate_datadir
from asr.errors import AsrError


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    return out, make_corpus(out, SynthConfig(num_utts=24, seed=3))


def test_data_dirs(corpus):
    out, dirs = corpus
    datas = {name: read_datadir(path) for name, path in dirs.items()}
    assert {name: len(d) for name, d in datas.items()} == {"train": 20, "dev": 2, "test": 2}
    assert len(datas["train"].spk2utt) == len(VOICES)  # 24 utterances cycle over the 8 voices
    for name, data in datas.items():
        assert validate_datadir(dirs[name]) == []
        assert [data.utt2spk[u] for u in data.utts] == sorted(data.utt2spk.values())
        for utt, text in data.text.items():
            assert utt.startswith(data.utt2spk[utt] + "-")
            assert 2 <= len(text.split()) <= 5 and set(text.split()) <= set(VOCABULARY)
            info = sf.info(data.wav[utt])
            assert info.samplerate == 16000 and info.subtype == "PCM_16"
            # 2-5 words at 130-200 words per minute plus 0.2-0.8 s of padding
            assert 0.6 < info.duration < 5.0
    assert (out / "synth.json").is_file()


def test_same_seed_same_corpus(corpus, tmp_path):
    out, dirs = corpus
    again = make_corpus(tmp_path / "again", SynthConfig(num_utts=24, seed=3))
    first, second = read_datadir(dirs["train"]), read_datadir(again["train"])
    assert first.text == second.text
    # Same settings; espeak's carried-over flutter phase moves the length by a few samples only.
    for utt in first.utts:
        assert abs(sf.info(first.wav[utt]).frames - sf.info(second.wav[utt]).frames) < 0.02 * 16000
    other = make_corpus(tmp_path / "other", SynthConfig(num_utts=24, seed=4))
    assert read_datadir(other["train"]).text != first.text


def test_fresh_process_is_bit_exact(tmp_path):
    """`asr synth` in a new process reproduces a corpus sample for sample."""
    code = ("import sys; from asr.corpora.synth import SynthConfig, make_corpus; "
            "make_corpus(sys.argv[1], SynthConfig(num_utts=6, seed=1))")
    for name in ("a", "b"):
        subprocess.run([sys.executable, "-c", code, str(tmp_path / name)], check=True, capture_output=True)
    wavs = sorted((tmp_path / "a/wav").glob("*.wav"))
    assert len(wavs) == 6
    assert all(w.read_bytes() == (tmp_path / "b/wav" / w.name).read_bytes() for w in wavs)


def test_white_noise_has_the_requested_snr():
    rng = np.random.default_rng(0)
    t = np.arange(160000) / 16000
    speech = 0.5 * np.sin(2 * np.pi * 440 * t)  # power = 0.5**2 / 2 = 0.125
    noise = white_noise(len(speech), speech, 20.0, rng)
    assert np.mean(noise ** 2) == pytest.approx(0.125 / 100, rel=0.02)  # 20 dB = a factor of 100
    assert abs(np.mean(noise)) < 1e-3


def test_rate_changes_duration():
    tts = engine()
    text = "one two three four five six seven eight nine"
    slow = tts.synthesize(text, "en-us", rate=100)
    fast = tts.synthesize(text, "en-us", rate=200)
    assert tts.sample_rate == 22050
    assert 1.5 < len(slow) / len(fast) < 2.5  # twice the words per minute: about half the time


def fundamental_hz(samples: np.ndarray, rate: int) -> float:
    """Median F0 over voiced 40 ms frames by autocorrelation (60-400 Hz search)."""
    frame = int(0.04 * rate)
    f0s = []
    for start in range(0, len(samples) - frame, frame):
        x = samples[start:start + frame] - samples[start:start + frame].mean()
        if np.sqrt(np.mean(x ** 2)) < 0.05:
            continue
        ac = np.correlate(x, x, "full")[frame - 1:]
        lo, hi = rate // 400, rate // 60
        f0s.append(rate / (lo + np.argmax(ac[lo:hi])))
    return float(np.median(f0s))


def test_pitch_changes_f0():
    tts = engine()
    low = tts.synthesize("nine nine nine", "en-us", pitch=20, pitch_range=0)
    high = tts.synthesize("nine nine nine", "en-us", pitch=80, pitch_range=0)
    low_f0, high_f0 = fundamental_hz(low, tts.sample_rate), fundamental_hz(high, tts.sample_rate)
    assert 60 < low_f0 < high_f0 < 400 and high_f0 > 1.2 * low_f0


def test_audio_says_its_transcript(corpus):
    """An independent recogniser (pocketsphinx's US English model, restricted to the 20 words)
    transcribes the noisy utterances far better against their own transcripts than against
    someone else's: each file says its text. espeak's robotic voices are hard for it, so the
    bar is relative, not an absolute WER."""
    pocketsphinx = pytest.importorskip("pocketsphinx")
    import jiwer

    out, dirs = corpus
    data = read_datadir(dirs["train"])
    grammar = ("#JSGF V1.0;\ngrammar words;\npublic <s> = ( "
               + " | ".join(w.lower() for w in VOCABULARY) + " )+ ;\n")
    decoder = pocketsphinx.Decoder(lm=None, samprate=16000, loglevel="FATAL")
    decoder.add_jsgf_string("words", grammar)
    decoder.activate_search("words")
    refs, hyps = [], []
    for utt in data.utts[:12]:
        samples, _ = load_audio(data.wav[utt])
        decoder.start_utt()
        decoder.process_raw((samples * 32767).astype(np.int16).tobytes(), full_utt=True)
        decoder.end_utt()
        hyps.append(decoder.hyp().hypstr.upper() if decoder.hyp() else "")
        refs.append(data.text[utt])
    own = jiwer.wer(refs, hyps)
    shuffled = jiwer.wer(refs[1:] + refs[:1], hyps)
    assert own < 0.75 and own < shuffled - 0.4, (own, shuffled)  # measured: 0.62 against 1.31


def test_bad_configs(tmp_path):
    with pytest.raises(AsrError, match="too few"):
        make_corpus(tmp_path, SynthConfig(num_utts=2))
    with pytest.raises(AsrError, match="no voices"):
        make_corpus(tmp_path, SynthConfig(num_utts=10, voices={}))
    with pytest.raises(AsrError, match="unknown voice"):
        engine().synthesize("one", "xx-nonexistent")


def test_cli_synth(tmp_path, capsys):
    from asr.cli import main

    assert main(["synth", str(tmp_path / "s"), "--utts", "10", "--voices", "us_m1", "gb_f2"]) == 0
    assert "train: 8 utterances" in capsys.readouterr().out
    assert set(read_datadir(tmp_path / "s/train").spk2utt) == {"us_m1", "gb_f2"}
    assert main(["synth", str(tmp_path / "t"), "--voices", "robot"]) == 1
    assert "unknown voice 'robot'" in capsys.readouterr().err
