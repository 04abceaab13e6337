"""Training examples for CTC: normalised filterbanks (one copy per speed) and target token ids."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from asr.audio import load_audio
from asr.datadir import DataDir
from asr.errors import AsrError
from asr.features import FeatureConfig, compute, load_features, normalise
from asr.nn.augment import speed_perturb
from asr.nn.model import output_frames


@dataclass
class Example:
    utt: str
    feats: list[np.ndarray]  # (frames, bins) per speed: the unperturbed copy, then the other speeds
    targets: list[int]  # token ids, no blank
    alternatives: list[list[int]] = field(default_factory=list)  # other allowed targets (variants)


def load_examples(data: DataDir, config: FeatureConfig, targets: dict[str, list[int]],
                  speeds: tuple[float, ...] = (1.0,), cache_dir: Path | None = None,
                  nj: int = 1, alternatives: dict[str, list[list[int]]] | None = None,
                  check_fit: bool = True) -> list[Example]:
    """Examples of every utterance with targets, features at each speed (1.0 from the cache).

    `alternatives[utt]` lists every allowed target sequence (pronunciation variants), the first
    being the initial target; training picks among them (see asr.nn.train).

    With `check_fit` (CTC targets), utterances too short for their targets (fewer output frames
    than tokens plus the blanks needed between repeats) are left out.
    """
    speeds = (1.0,) + tuple(s for s in speeds if s != 1.0)  # feats[0] is always the unperturbed copy
    plain = load_features(data.select(targets), config, cache_dir=cache_dir, nj=nj)
    per_speed = {1.0: plain}
    for speed in speeds:
        if speed != 1.0:
            per_speed[speed] = _perturbed_features(data, list(plain), config, speed)
    examples = []
    for utt in plain:
        feats = [per_speed[s][utt] for s in speeds]
        choices = [t for t in (alternatives or {}).get(utt, [targets[utt]])
                   if not check_fit or all(ctc_fits(len(f), t) for f in feats)]
        if choices:
            examples.append(Example(utt, feats, choices[0], choices if len(choices) > 1 else []))
    if not examples:
        raise AsrError(f"{data.path}: no utterance long enough for its transcript")
    return examples


def ctc_fits(num_frames: int, targets: list[int]) -> bool:
    """Whether CTC can align `targets` to the model's output frames for `num_frames` inputs."""
    repeats = sum(1 for a, b in zip(targets, targets[1:]) if a == b)
    return output_frames(num_frames) >= len(targets) + repeats


def _perturbed_features(data: DataDir, utts: list[str], config: FeatureConfig,
                        speed: float) -> dict[str, np.ndarray]:
    raw = {}
    for utt in tqdm(utts, desc=f"fbank at speed {speed}", unit="utt", leave=False):
        samples = _utterance_samples(data, utt, config.sample_rate)
        raw[utt] = compute(speed_perturb(samples, config.sample_rate, speed), config)
    return normalise(raw, config, data.utt2spk)


def _utterance_samples(data: DataDir, utt: str, rate: int) -> np.ndarray:
    samples, _ = load_audio(data.audio_path(utt), sample_rate=rate)
    if data.segments:
        seg = data.segments[utt]
        samples = samples[int(seg.start * rate):int(seg.end * rate)]
    return samples


def make_batches(lengths: list[int], batch_frames: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, each with at most `batch_frames` padded frames.

    Sorting by length keeps padding small; a single utterance longer than the budget gets its
    own batch.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches, current = [], []
    for i in order:
        if current and lengths[i] * (len(current) + 1) > batch_frames:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def collate(feats: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-padded (B, T, F) tensor and (B,) lengths."""
    lengths = torch.tensor([len(f) for f in feats])
    batch = torch.zeros(len(feats), int(lengths.max()), feats[0].shape[1])
    for i, f in enumerate(feats):
        batch[i, :len(f)] = torch.from_numpy(f)
    return batch, lengths
