"""Shared code of the benchmarks that put our models beside a peer recogniser on the AN4 test set.

The peer is pocketsphinx 5 (`pip install '.[bench]'`): its bundled US English acoustic model
(semi-continuous, CMU phones), with AN4's own dictionary (etc/an4.dic) and unigram LM
(etc/an4.lm) from the AN4 tree, so that only the acoustic model and decoder differ from ours.
Pocketsphinx decodes on one thread. Its decoding settings are its defaults: nothing is tuned,
least of all on the test set.

Timing: the real-time factor (RTF; below 1 is faster than real time) is seconds spent from
reading the audio file to the hypothesis, divided by the seconds of audio. Two clocks: wall
clock (as `asr decode` times itself in decode.json) and this process's CPU time, which other
jobs on a shared machine disturb far less; on an idle machine with one thread they agree.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per system: RTFs are per core

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not
from asr.audio import duration_seconds, load_audio  # noqa: E402
from asr.datadir import DataDir  # noqa: E402
from asr.errors import AsrError  # noqa: E402
from asr.fileio import atomic_write, write_map  # noqa: E402
from asr.scoring import Scores, score, write_scores  # noqa: E402

DEFAULT_AN4 = Path(__file__).resolve().parents[2] / "shared" / "data" / "an4"  # ../shared/data/an4
POCKETSPHINX_RATE = 16000  # the bundled en-us model's features are for 16 kHz audio
POCKETSPHINX_MODEL = ("en-us", "en-us")  # acoustic model dir under pocketsphinx.get_model_path()
AN4_DICTIONARY = Path("etc") / "an4.dic"  # 130 pronunciations of AN4's 101 words (CMU phones)
AN4_LM = Path("etc") / "an4.lm"  # AN4's unigram ARPA LM
INT16_SCALE = 32768  # float samples in [-1, 1) <-> 16-bit PCM, which pocketsphinx takes


@dataclass
class Run:
    """One system over a test set: hypotheses and the seconds they took."""

    system: str
    hyps: dict[str, str]
    audio_seconds: float
    decode_seconds: float  # wall clock, audio reading included
    cpu_seconds: float  # CPU time of this process over the same span

    @property
    def rtf(self) -> float:
        return self.decode_seconds / self.audio_seconds

    @property
    def cpu_rtf(self) -> float:
        return self.cpu_seconds / self.audio_seconds


def an4_test_data(an4: Path) -> DataDir:
    """The official AN4 test set (130 utterances) as `asr prepare an4` makes it, kept in memory."""
    from asr.corpora.an4 import load_part

    return load_part(Path(an4), "test")


def to_pcm16(samples: np.ndarray) -> bytes:
    """Float samples (as asr.audio.load_audio gives them) back to little-endian 16-bit PCM."""
    pcm = np.clip(np.round(samples * INT16_SCALE), -INT16_SCALE, INT16_SCALE - 1)
    return pcm.astype("<i2").tobytes()


class PocketSphinx:
    """pocketsphinx's bundled US English acoustic model with AN4's dictionary and LM."""

    name = "pocketsphinx"

    def __init__(self, an4: Path = DEFAULT_AN4):
        try:
            import pocketsphinx
        except ImportError:
            raise AsrError("pocketsphinx is not installed (pip install '.[bench]')") from None
        an4 = Path(an4)
        dictionary, lm = an4 / AN4_DICTIONARY, an4 / AN4_LM
        for path in (dictionary, lm):
            if not path.is_file():
                raise AsrError(f"{path}: not found (the peer needs AN4's dictionary and LM; give the AN4 tree)")
        hmm = Path(pocketsphinx.get_model_path()).joinpath(*POCKETSPHINX_MODEL)
        try:
            self.decoder = pocketsphinx.Decoder(hmm=str(hmm), dict=str(dictionary), lm=str(lm),
                                                samprate=POCKETSPHINX_RATE, loglevel="ERROR")
        except (RuntimeError, ValueError) as e:
            raise AsrError(f"{an4}: pocketsphinx could not load {hmm}, {dictionary}, {lm} ({e})") from None
        self.sample_rate = POCKETSPHINX_RATE

    def recognize(self, samples: np.ndarray) -> str:
        """Words recognised in one utterance (mono float samples at 16 kHz); fillers left out."""
        self.decoder.start_utt()
        # full_utt: cepstral mean normalisation over the whole utterance ("-cmn batch")
        self.decoder.process_raw(to_pcm16(samples), full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return hyp.hypstr if hyp is not None else ""

    def transcribe_file(self, path: Path) -> str:
        samples, _ = load_audio(path, sample_rate=self.sample_rate)
        return self.recognize(samples)


def timed_run(system: str, transcribe_file, data: DataDir) -> Run:
    """Transcribe every utterance of `data` with `transcribe_file(path) -> text`, timed."""
    hyps, wall, cpu, audio_seconds = {}, 0.0, 0.0, 0.0
    for utt in tqdm(data.utts, desc=system, unit="utt"):
        path = data.audio_path(utt)
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        hyps[utt] = transcribe_file(path)
        wall += time.perf_counter() - start_wall
        cpu += time.process_time() - start_cpu
        audio_seconds += duration_seconds(path)
    return Run(system, hyps, audio_seconds, wall, cpu)


def run_pocketsphinx(data: DataDir, an4: Path = DEFAULT_AN4) -> Run:
    peer = PocketSphinx(an4)
    return timed_run(peer.name, peer.transcribe_file, data)


def score_run(run: Run, data: DataDir) -> Scores:
    return score(data.text, run.hyps, data.utt2spk)


def results_table(rows: list[dict], peer: str = PocketSphinx.name) -> str:
    """Rows of `row(...)` as a plain-text table, RTFs also relative to the peer's (ours / peer)."""
    by_system = {r["system"]: r for r in rows}
    header = ["system", "WER %", "words", "RTF", "CPU RTF", f"RTF/{peer}", f"CPU RTF/{peer}"]
    table = [header]
    for r in rows:
        p = by_system.get(peer)
        table.append([r["system"], _fmt(r["wer"], ".2f"), str(r["words"]), _fmt(r["rtf"], ".4f"),
                      _fmt(r["cpu_rtf"], ".4f"), _ratio(r["rtf"], p and p["rtf"]),
                      _ratio(r["cpu_rtf"], p and p["cpu_rtf"])])
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(line, widths))) for line in table)


def _fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _ratio(ours, peer) -> str:
    return f"{ours / peer:.2f}" if ours is not None and peer else "n/a"


def row(run: Run, scores: Scores) -> dict:
    """One system's results (JSON-ready)."""
    return {"system": run.system, "wer": scores.wer, "words": scores.words, "errors": scores.errors,
            "ins": scores.ins, "del": scores.dels, "sub": scores.subs, "ci95": list(scores.ci95),
            "rtf": run.rtf, "cpu_rtf": run.cpu_rtf,
            "audio_seconds": run.audio_seconds, "decode_seconds": run.decode_seconds,
            "cpu_seconds": run.cpu_seconds}


def write_decode_dir(run: Run, data: DataDir, out: Path) -> Path:
    """A decode dir like `asr decode` writes (hyp.txt, decode.json, scores), so that `asr compare`
    can put the peer in its report: name it `<anything>/pocketsphinx/decode_<data>`."""
    out = Path(out)
    write_map(out / "hyp.txt", run.hyps)
    with atomic_write(out / "decode.json") as f:
        json.dump({"utts": len(run.hyps), "audio_seconds": round(run.audio_seconds, 3),
                   "decode_seconds": round(run.decode_seconds, 3), "rtf": round(run.rtf, 5),
                   "cpu_seconds": round(run.cpu_seconds, 3), "cpu_rtf": round(run.cpu_rtf, 5),
                   "system": run.system}, f, indent=2)
    write_scores(score_run(run, data), out)
    return out
