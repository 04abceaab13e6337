"""The espeak-ng synthetic corpus: data dir shape, determinism, and checks of what is in the audio."""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.audio import load_audio
from asr.corpora import synth
from asr.corpora.synth import VOCABULARY, VOICES, SynthConfig, engine, make_corpus, white_noise
from asr.corpora.text_norm import normalize_text
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


def corpus_digest(out, with_audio=True) -> str:
    """sha256 of a corpus: every split's tables (wav.scp with OUT's path cut out) and every wav file."""
    out = Path(out)
    digest = hashlib.sha256()
    for split in ("train", "dev", "test"):
        for name in ("text", "utt2spk", "spk2utt"):
            digest.update((out / split / name).read_bytes())
        digest.update((out / split / "wav.scp").read_text().replace(str(out.resolve()) + "/", "").encode())
    if with_audio:
        for wav in sorted((out / "wav").glob("*.wav")):
            digest.update(wav.name.encode())
            digest.update(wav.read_bytes())
    return digest.hexdigest()


# Computed with the code as it was before --hours and --vocabulary existed: the default options
# must still make that corpus byte for byte.
SMALL_DIGEST = "d7db33f7e7352b718bd2ceeef3d6c9ace1cea1217b9f4cc734ed897222dc9d9b"  # --utts 6 --seed 1
SMALL_JSON = "0909205db858c14f59d0da4b643e842cab8fd8955df8f071fa624363eb19f2ee"  # its synth.json
DEFAULT_TABLES = "30d7c8e70a925586fb683fa6ab72db340c8e7c847e1f48d67f989ebdbf036675"  # `asr synth OUT`, no options
DEFAULT_JSON = "5777c8a94ed6cc10be5991fdc4428d5bd076ad8e950b05c184392ec53992e631"


def test_fresh_process_is_bit_exact(tmp_path):
    """`asr synth` in a new process reproduces a corpus sample for sample, and the one made
    before the long-corpus options were added."""
    code = ("import sys; from asr.corpora.synth import SynthConfig, make_corpus; "
            "make_corpus(sys.argv[1], SynthConfig(num_utts=6, seed=1))")
    subprocess.run([sys.executable, "-m", "asr.cli", "synth", str(tmp_path / "a"), "--utts", "6", "--seed", "1"],
                   check=True, capture_output=True)
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "b")], check=True, capture_output=True)
    wavs = sorted((tmp_path / "a/wav").glob("*.wav"))
    assert len(wavs) == 6
    assert all(w.read_bytes() == (tmp_path / "b/wav" / w.name).read_bytes() for w in wavs)
    assert corpus_digest(tmp_path / "a") == corpus_digest(tmp_path / "b") == SMALL_DIGEST
    assert hashlib.sha256((tmp_path / "a/synth.json").read_bytes()).hexdigest() == SMALL_JSON
    assert not list(tmp_path.glob(".*"))  # the unfinished folders were renamed into place


def test_default_transcripts_unchanged(tmp_path, monkeypatch):
    """The 600-utterance default corpus: same transcripts, speakers, splits and synth.json as
    before (its audio stands in as silence: the words are drawn apart from the audio)."""
    monkeypatch.setattr(synth, "render", lambda text, voice, config, rng: np.zeros(160, np.float32))
    make_corpus(tmp_path / "d")
    assert corpus_digest(tmp_path / "d", with_audio=False) == DEFAULT_TABLES
    assert hashlib.sha256((tmp_path / "d/synth.json").read_bytes()).hexdigest() == DEFAULT_JSON


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


# ---------------------------------------------------------------- long corpora (--hours, --vocabulary text)

HOURS_ARGS = ["--hours", "0.002", "--eval-utts", "1", "--voices", "us_m1", "gb_f2", "--seed", "2"]  # 7.2 s of train
SLOW_SYNTH = """import sys, time
import asr.corpora.synth as synth
real = synth.render
def slow(*args):  # the same audio, written 0.3 s later: time to kill the run in the middle
    samples = real(*args)
    time.sleep(0.3)
    return samples
synth.render = slow
from asr.cli import main
sys.exit(main(sys.argv[1:]))
"""


def asr_synth(*argv, **kwargs):
    return subprocess.run([sys.executable, "-m", "asr.cli", "synth", *map(str, argv)], capture_output=True,
                          text=True, **kwargs)


def train_seconds(out):
    data = read_datadir(Path(out) / "train")
    return {utt: sf.info(data.wav[utt]).duration for utt in data.utts}


@pytest.fixture(scope="module")
def hours_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("hours") / "corpus"
    done = asr_synth(out, *HOURS_ARGS, check=True)
    return out, done.stdout


@pytest.mark.xdist_group("synth_hours")  # one worker makes the corpus both tests read
def test_hours(hours_corpus):
    """Train grows one utterance at a time until it holds the hours asked for; dev and test are fixed."""
    out, stdout = hours_corpus
    goal = 0.002 * 3600
    seconds = train_seconds(out)
    last = max(seconds, key=lambda utt: utt.split("-")[1])  # the utterance made last
    assert goal <= sum(seconds.values()) < goal + seconds[last]
    assert sum(seconds.values()) - seconds[last] < goal  # it stopped at the first one over the line
    for split in ("train", "dev", "test"):
        assert validate_datadir(out / split) == []
    assert [len(read_datadir(out / split)) for split in ("dev", "test")] == [1, 1]
    assert all(len(utt.split("-")[1]) == 7 for utt in seconds)  # ids numbered for millions of files
    assert {p.parent.name for p in (out / "wav").rglob("*.wav")} == {"0000"}  # a thousand files a folder
    summary = json.loads((out / "synth.json").read_text())
    assert summary["config"]["hours"] == 0.002 and summary["config"]["eval_utts"] == 1
    assert summary["hours"]["train"] == pytest.approx(sum(seconds.values()) / 3600, abs=1e-6)
    assert f"train: {len(seconds)} utterances, {summary['hours']['train']:.4f} hours" in stdout
    assert not list(out.parent.glob(".*"))


@pytest.mark.xdist_group("synth_hours")  # one worker makes the corpus both tests read
def test_killed_run_continues(hours_corpus, tmp_path):
    """kill -9 in the middle leaves the corpus that was there before untouched and the new one in a
    hidden folder; the same command then keeps the files made, makes the rest and renames it into place."""
    full, _ = hours_corpus
    out = tmp_path / "corpus"
    shutil.copytree(full, out)  # a corpus made before, to be replaced
    (out / "wav/stale.wav").write_bytes(b"")
    partial = tmp_path / ".corpus.partial"
    run = subprocess.Popen([sys.executable, "-c", SLOW_SYNTH, "synth", str(out), *HOURS_ARGS],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(list(partial.glob("wav/*/*.wav"))) < 3 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.02)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    made = {p.name: p.read_bytes() for p in partial.glob("wav/*/*.wav")}
    assert len(made) >= 3 and (partial / "settings.json").is_file() and not (partial / "synth.json").exists()
    assert (out / "wav/stale.wav").exists() and validate_datadir(out / "train") == []  # the old corpus, whole

    asr_synth(out, *HOURS_ARGS, check=True)
    assert not partial.exists() and not (out / "wav/stale.wav").exists()
    for split in ("train", "dev", "test"):
        assert validate_datadir(out / split) == []
    # Kept, not made again; and the same bytes as the uninterrupted run's (both first in their process).
    for name, data in made.items():
        kept = next((out / "wav").rglob(name))
        assert kept.read_bytes() == data == next((full / "wav").rglob(name)).read_bytes()
    # Same transcripts; only espeak's carried-over flutter phase can move the last utterance.
    first, again = read_datadir(full / "train").text, read_datadir(out / "train").text
    assert all(first[u] == again[u] for u in first.keys() & again.keys())
    assert len(first.keys() ^ again.keys()) <= 1
    assert sum(train_seconds(out).values()) >= 0.002 * 3600


SENTENCES = """The 3 quick-brown foxes, don't jump!
Mr. O'Brien's café opened in 1984.
she sells sea shells by the sea shore
a stitch in time saves nine
"Quoth the raven: nevermore."
all that glitters is not gold
the early bird catches the worm
better late than never
actions speak louder than words
every cloud has a silver lining
Ask no questions and hear no lies
"""


def test_text_vocabulary(tmp_path, capsys):
    """Windows of the file's sentences, normalised with the one text rule; every tenth sentence is
    for dev and test only; the data dirs pass validate-data."""
    from asr.cli import main

    text = tmp_path / "sentences.txt"
    text.write_text(SENTENCES)
    out = tmp_path / "corpus"
    assert main(["synth", str(out), "--vocabulary", "text", "--text", str(text), "--words", "3", "5",
                 "--utts", "6", "--voices", "us_m1", "gb_f2"]) == 0
    sentences = [" " + normalize_text(line) + " " for line in SENTENCES.splitlines()]
    for split in ("train", "dev", "test"):
        assert main(["validate-data", str(out / split)]) == 0
        for utt, words in read_datadir(out / split).text.items():
            assert words == words.upper() and 3 <= len(words.split()) <= 5
            pool = [s for i, s in enumerate(sentences) if (i % 10 == 0) == (split != "train")]
            assert any(f" {words} " in s for s in pool), (split, words)  # consecutive words of one sentence
    summary = json.loads((out / "synth.json").read_text())
    assert summary["config"]["vocabulary"] == "text" and len(summary["text_sha256"]) == 64
    used = {w for split in ("train", "dev", "test") for t in read_datadir(out / split).text.values() for w in t.split()}
    assert summary["vocabulary"] == sorted(used) and used <= set(" ".join(sentences).split())


@pytest.mark.parametrize("argv, message", [
    (["--hours", "0"], "hours must be a number above 0"),
    (["--hours", "abc"], "argument --hours: invalid float value: 'abc'"),
    (["--hours", "nan"], "hours must be a number above 0"),
    (["--vocabulary", "text", "--text", "missing.txt"], "missing.txt: no such file"),
    (["--vocabulary", "text"], "needs a text file (--text FILE)"),
    (["--utts", "10", "--hours", "1"], "give --utts or --hours, not both"),
    (["--hours", "1", "--eval-utts", "0"], "at least 1 utterance each"),
    (["--words", "4", "2"], "need 1 <= MIN <= MAX"),
])
def test_cli_synth_bad_values(tmp_path, capsys, monkeypatch, argv, message):
    """One line, non-zero exit, nothing written (all checked before any work)."""
    from asr.cli import main

    monkeypatch.chdir(tmp_path)  # missing.txt is relative
    try:
        status = main(["synth", str(tmp_path / "out"), *argv])
    except SystemExit as e:  # argument syntax: argparse's exit, status 2
        status = e.code
    err = capsys.readouterr().err
    assert status != 0 and message in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []


def test_cli_synth_refuses_a_folder_it_did_not_make(tmp_path, capsys):
    from asr.cli import main

    (tmp_path / "out").mkdir()
    (tmp_path / "out/notes.txt").write_text("mine\n")
    assert main(["synth", str(tmp_path / "out"), "--utts", "10"]) == 1
    assert "holds 'notes.txt', which `asr synth` does not write" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and (tmp_path / "out/notes.txt").read_text() == "mine\n"
