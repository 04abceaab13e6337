"""Our models on the inputs people have: formats, rates, channels, and minutes-long recordings.

For each model dir: one AN4 test utterance as 16 kHz WAV, FLAC, 8 kHz WAV and stereo WAV (the
transcripts should agree), then a LONG file of consecutive AN4 test utterances joined by pauses
of the recordings' own room tone (about 5 minutes by default). Prints the WER of the long file,
transcribed through asr.load(...).transcribe (split at pauses, stitched), next to the WER of the
same utterances transcribed one by one, and the peak resident memory of each step (each model
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


def build_long_file(an4: Path, minutes: float, out: Path) -> dict[str, str]:
    """Write OUT (16 kHz WAV) from consecutive AN4 test utterances; return their references."""
    from peers import an4_test_data

    data = an4_test_data(an4)
    pieces, refs, seconds = [], {}, 0.0
    for utt in data.utts:
        samples, rate = sf.read(data.audio_path(utt), dtype="float32")
        pieces += [samples, room_tone(samples, rate)]
        refs[utt] = data.text[utt]
        seconds += len(samples) / rate + PAUSE_SECONDS
        if seconds >= minutes * 60:
            break
    sf.write(str(out), np.concatenate(pieces), rate)
    return {"refs": refs, "paths": {u: data.audio_path(u) for u in refs}, "seconds": seconds}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kB


def run_one(model: str, long_wav: str, info_json: str) -> dict:
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
    per_utt = {utt: transcriber.transcribe(path).text for utt, path in info["paths"].items()}
    before_long = peak_mb()
    start = time.perf_counter()
    long = transcriber.transcribe(long_wav)
    elapsed = time.perf_counter() - start
    refs = info["refs"]
    return {
        "model": model, "pipeline": transcriber.info["pipeline"],
        "formats": formats, "formats_agree": len(set(formats.values())) == 1, "reference": refs[first],
        "utterances": len(refs), "long_seconds": round(long.duration, 1),
        "per_utt_wer": round(wer(refs, per_utt), 2),
        "long_wer": round(wer({"all": " ".join(refs.values())}, {"all": long.text}), 2),
        "long_rtf": round(elapsed / long.duration, 4),
        "peak_mb_before_long": round(before_long, 1), "peak_mb_after_long": round(peak_mb(), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", required=True, help="model dirs (any pipeline)")
    parser.add_argument("--an4", type=Path, default=DEFAULT_AN4, help="the AN4 tree (default ../shared/data/an4)")
    parser.add_argument("--minutes", type=float, default=5.0, help="length of the long file (default 5)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)  # internal: MODEL LONG_WAV INFO_JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        long_wav, info_json = f"{tmp}/long.wav", f"{tmp}/info.json"
        info = build_long_file(args.an4, args.minutes, Path(long_wav))
        Path(info_json).write_text(json.dumps(info))
        print(f"long file: {len(info['refs'])} AN4 test utterances, {info['seconds'] / 60:.1f} min,"
              f" {Path(long_wav).stat().st_size / 1e6:.1f} MB")
        rows = []
        for model in args.model:
            out = subprocess.run([sys.executable, __file__, "--model", model, "--one", model, long_wav, info_json],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{model}: failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
                continue
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print("| model | pipeline | formats agree | per-utterance WER | long-file WER | long RTF | peak MB before / after long |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['pipeline']} | {'yes' if r['formats_agree'] else r['formats']} | {r['per_utt_wer']:.2f} |"
              f" {r['long_wer']:.2f} | {r['long_rtf']:.3f} | {r['peak_mb_before_long']:.0f} / {r['peak_mb_after_long']:.0f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0 if len(rows) == len(args.model) else 1


if __name__ == "__main__":
    sys.exit(main())
