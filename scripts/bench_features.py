"""Feature extraction speed on AN4 train, as times real time (audio seconds / compute seconds).

Compares our MFCC (+delta +delta-delta) with python_speech_features called directly (mfcc, then
psf.delta twice), and our fbank with torchaudio.compliance.kaldi.fbank called directly, on the
same samples already in memory (audio reading is not timed). Single-threaded; compute seconds
are this process's CPU seconds (time.process_time), so other jobs on a shared machine disturb
the figures less than wall-clock time would.

    OMP_NUM_THREADS=1 python scripts/bench_features.py [--data ../shared/data/an4] [--utts 200]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import python_speech_features as psf  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from asr.audio import load_audio  # noqa: E402
from asr.features import FeatureConfig, compute  # noqa: E402
from asr.torchaudio_compat import torchaudio  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "an4"  # ../shared/data/an4
RATE = 16000  # AN4 is 16 kHz


def an4_train_files(an4: Path) -> list[Path]:
    fileids = an4 / "etc" / "an4_train.fileids"
    if not fileids.is_file():
        sys.exit(f"bench_features: {fileids}: not found (give --data pointing at the AN4 tree)")
    return [an4 / "wav" / f"{line.strip()}.wav" for line in fileids.read_text().splitlines() if line.strip()]


def psf_mfcc_deltas(samples: np.ndarray) -> np.ndarray:
    signal = samples.astype(np.float64) * 32768
    static = psf.mfcc(signal, samplerate=RATE, nfft=512)
    d1 = psf.delta(static, 2)
    return np.hstack([static, d1, psf.delta(d1, 2)]).astype(np.float32)


def torchaudio_fbank(samples: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        wave = torch.from_numpy(samples * 32768).unsqueeze(0)
        return torchaudio.compliance.kaldi.fbank(wave, sample_frequency=RATE, num_mel_bins=80, dither=0.0).numpy()


def timed(name: str, fn, waves: list[np.ndarray]) -> float:
    fn(waves[0])  # warm-up: imports, filterbank and window caches
    start = time.process_time()
    for w in tqdm(waves, desc=name, unit="utt", leave=False):
        fn(w)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="AN4 tree (default ../shared/data/an4)")
    parser.add_argument("--utts", type=int, help="first N training utterances only (default: all 948)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    files = an4_train_files(args.data)[:args.utts]
    waves = [load_audio(f)[0] for f in tqdm(files, desc="reading", unit="utt", leave=False)]
    audio_seconds = sum(len(w) for w in waves) / RATE
    mfcc, fbank = FeatureConfig(kind="mfcc", cmvn="none"), FeatureConfig(kind="fbank", cmvn="none")
    pairs = [
        ("MFCC+d+dd", lambda w: compute(w, mfcc), "python_speech_features", psf_mfcc_deltas),
        ("fbank 80", lambda w: compute(w, fbank), "torchaudio kaldi.fbank", torchaudio_fbank),
    ]
    print(f"AN4 train: {len(waves)} utterances, {audio_seconds / 60:.1f} min of audio, 1 thread")
    print(f"{'features':<10} {'ours xRT':>10} {'peer':<24} {'peer xRT':>10} {'ours/peer':>10}")
    for name, ours, peer_name, peer in pairs:
        ours_rt = audio_seconds / timed(f"ours {name}", ours, waves)
        peer_rt = audio_seconds / timed(peer_name, peer, waves)
        print(f"{name:<10} {ours_rt:>10.0f} {peer_name:<24} {peer_rt:>10.0f} {ours_rt / peer_rt:>10.2f}")


if __name__ == "__main__":
    main()
