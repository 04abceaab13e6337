"""Our models on the inputs people have: formats, rates, channels, digital silence, odd levels,
and minutes-long recordings.

For each model dir: one AN4 test utterance as 16 kHz WAV, FLAC, 8 kHz WAV and stereo WAV (the
transcripts should agree); every test utterance of the long file transcribed one by one as it is
and altered as real recordings are (padded with 0.5 s or 2 s of exact zeros or of its own room
tone on both sides, a DC offset, 30 dB less gain, clipped, a tone or music before the speech);
then LONG files of the same consecutive AN4 test utterances joined by 0.5 s or 1 s pauses of the
recordings' own room tone, or of exact zeros (digital silence), about 5 minutes by default.
Prints the WER of each condition and of each long file, transcribed through
asr.load(...).transcribe (split at pauses, stitched), and the peak resident memory (each model
runs in a fresh process, so the peaks are its own).

    OMP_NUM_THREADS=1 python scripts/bench_long_audio.py --model EXP [EXP...] [--minutes 5]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

DEFAULT_AN4 = Path(__file__).resolve().parents[2] / "shared" / "data" / "an4"
PAUSE_SECONDS = 1.0  # one second of room tone between utterances
TONE_WINDOW = 0.1  # the quietest tenth of a second of each recording is its room tone


def room_tone(samples: np.ndarray, rate: int) -> np.ndarray:
    """PAUSE_SECONDS of the recording's own background: its quietest window, repeated."""
    window = int(TONE_WINDOW * rate)
    frames = samples[: len(samples) // window * window].reshape(-1, window)
    quiet = frames[np.argmin((frames ** 2).mean(axis=1))]
    return np.tile(quiet, int(PAUSE_SECONDS / TONE_WINDOW))


GAPS = {"room tone 0.5 s": -0.5, "room tone 1 s": -1.0, "zeros 0.5 s": 0.5, "zeros 1 s": 1.0}  # seconds of what joins the utterances (< 0: room tone)


def build_long_files(an4: Path, minutes: float, out_dir: Path) -> dict:
    """Write one 16 kHz WAV per kind of gap from the same consecutive AN4 test utterances; return
    their references and the files."""
    from peers import an4_test_data

    data = an4_test_data(an4)
    pieces = {gap: [] for gap in GAPS}
    refs, seconds = {}, 0.0
    for utt in data.utts:
        samples, rate = sf.read(data.audio_path(utt), dtype="float32")
        for gap, zeros in GAPS.items():
            pause = (np.resize(room_tone(samples, rate), int(-zeros * rate)) if zeros < 0
                     else np.zeros(int(zeros * rate), np.float32))
            pieces[gap] += [samples, pause]
        refs[utt] = data.text[utt]
        seconds += len(samples) / rate + PAUSE_SECONDS
        if seconds >= minutes * 60:
            break
    files = {}
    for i, gap in enumerate(GAPS):
        files[gap] = str(out_dir / f"long{i}.wav")
        sf.write(files[gap], np.concatenate(pieces[gap]), rate)
    return {"refs": refs, "paths": {u: data.audio_path(u) for u in refs}, "seconds": seconds, "long": files}


def _tone(seconds: float, rate: int, freqs=(440.0,), level=0.1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level / len(freqs) * sum(np.sin(2 * np.pi * f * t) for f in freqs)).astype(np.float32)


def _music(seconds: float, rate: int) -> np.ndarray:
    """Four chords with harmonics, a quarter of full scale: something tonal that is not speech."""
    chords = [(261.6, 329.6, 392.0), (220.0, 261.6, 329.6), (174.6, 220.0, 261.6), (196.0, 246.9, 293.7)]
    part = seconds / len(chords)
    notes = [_tone(part, rate, [f * h for f in chord for h in (1, 2, 3)], 0.25) for chord in chords]
    return np.concatenate(notes)


def conditions(samples: np.ndarray, rate: int) -> dict[str, np.ndarray]:
    """The utterance as it is, and altered the ways real recordings are."""
    tone = room_tone(samples, rate)

    def pad(seconds, noise=False):
        side = (np.resize(tone, int(seconds * rate)) if noise else np.zeros(int(seconds * rate), np.float32))
        return np.concatenate([side, samples, side])

    return {
        "as recorded": samples,
        "zeros 0.5 s both sides": pad(0.5), "zeros 2 s both sides": pad(2.0),
        "room tone 0.5 s both sides": pad(0.5, noise=True), "room tone 2 s both sides": pad(2.0, noise=True),
        "DC offset +0.05": samples + np.float32(0.05),
        "gain -30 dB": samples * np.float32(10 ** (-30 / 20)),
        "clipped (gain +20 dB)": np.clip(samples * np.float32(10.0), -1.0, 1.0),
        "440 Hz tone 1 s before": np.concatenate([_tone(1.0, rate), tone[: rate // 4], samples]),
        "music 2 s before": np.concatenate([_music(2.0, rate), tone[: rate // 4], samples]),
    }


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kB


def run_one(model: str, info_json: str) -> dict:
    """In this (fresh) process: every check for one model dir."""
    import asr
    from asr.scoring import wer

    info = json.loads(Path(info_json).read_text())
    transcriber = asr.load(model, device="cpu", threads=1)
    first = next(iter(info["refs"]))
    samples, rate = sf.read(info["paths"][first], dtype="float32")
    with tempfile.TemporaryDirectory() as tmp:
        from asr.audio import resample

        variants = {"wav16k": info["paths"][first]}
        sf.write(f"{tmp}/a.flac", samples, rate)
        sf.write(f"{tmp}/a8k.wav", resample(samples, rate, 8000), 8000)
        sf.write(f"{tmp}/stereo.wav", np.stack([samples, 0.8 * samples], axis=1), rate)
        variants.update(flac=f"{tmp}/a.flac", wav8k=f"{tmp}/a8k.wav", stereo=f"{tmp}/stereo.wav")
        formats = {name: transcriber.transcribe(path).text for name, path in variants.items()}
    refs = info["refs"]
    hyps: dict[str, dict[str, str]] = {}
    for utt, path in info["paths"].items():
        samples, rate = sf.read(path, dtype="float32")
        for name, audio in conditions(samples, rate).items():
            hyps.setdefault(name, {})[utt] = transcriber.transcribe(audio, sample_rate=rate).text
    clean = hyps["as recorded"]
    per_condition = {name: {"wer": round(wer(refs, h), 2), "changed": sum(h[u] != clean[u] for u in refs)}
                     for name, h in hyps.items()}
    before_long = peak_mb()
    long_rows = {}
    for gap, path in info["long"].items():
        start = time.perf_counter()
        long = transcriber.transcribe(path)
        elapsed = time.perf_counter() - start
        long_rows[gap] = {"wer": round(wer({"all": " ".join(refs.values())}, {"all": long.text}), 2),
                          "rtf": round(elapsed / long.duration, 4), "seconds": round(long.duration, 1)}
    return {
        "model": model, "pipeline": transcriber.info.pipeline,
        "formats": formats, "formats_agree": len(set(formats.values())) == 1, "reference": refs[first],
        "utterances": len(refs), "conditions": per_condition, "long": long_rows,
        "peak_mb_before_long": round(before_long, 1), "peak_mb_after_long": round(peak_mb(), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", required=True, help="model dirs (any pipeline)")
    parser.add_argument("--an4", type=Path, default=DEFAULT_AN4, help="the AN4 tree (default ../shared/data/an4)")
    parser.add_argument("--minutes", type=float, default=5.0, help="length of the long file (default 5)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # internal: MODEL INFO_JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        info_json = f"{tmp}/info.json"
        info = build_long_files(args.an4, args.minutes, Path(tmp))
        Path(info_json).write_text(json.dumps(info))
        print(f"long files: {len(info['refs'])} AN4 test utterances, {info['seconds'] / 60:.1f} min"
              f" with room-tone gaps, joined by: {', '.join(GAPS)}")
        rows = []
        for model in args.model:
            out = subprocess.run([sys.executable, __file__, "--model", model, "--one", model, info_json],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{model}: failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
                continue
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    if not rows:
        return 1
    names = list(rows[0]["conditions"])
    print("\nWER % of the utterances one by one (transcripts changed against 'as recorded'):\n")
    print("| condition | " + " | ".join(f"{r['pipeline']} ({r['model']})" for r in rows) + " |")
    print("|---|" + "---|" * len(rows))
    for name in names:
        cells = [f"{r['conditions'][name]['wer']:.2f} ({r['conditions'][name]['changed']})" for r in rows]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nThe long files (split at pauses, stitched), WER % and RTF:\n")
    print("| model | pipeline | formats agree | " + " | ".join(f"long, {g}" for g in GAPS) + " | peak MB before / after long |")
    print("|---|---|---|" + "---|" * len(GAPS) + "---|")
    for r in rows:
        cells = [f"{r['long'][g]['wer']:.2f} (RTF {r['long'][g]['rtf']:.3f})" for g in GAPS]
        print(f"| {r['model']} | {r['pipeline']} | {'yes' if r['formats_agree'] else r['formats']} | " + " | ".join(cells)
              + f" | {r['peak_mb_before_long']:.0f} / {r['peak_mb_after_long']:.0f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0 if len(rows) == len(args.model) else 1


if __name__ == "__main__":
    sys.exit(main())
