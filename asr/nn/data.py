"""Training examples: normalised filterbanks (one copy per speed, read from the feature cache) and targets."""
from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from asr.datadir import DataDir
from asr.errors import AsrError
from asr.features import FeatureConfig, FeatureReader, cache_features
from asr.nn.augment import speed_perturb
from asr.nn.model import output_frames


@dataclass
class Example:
    utt: str
    feats: Sequence[np.ndarray]  # (frames, bins) per speed: the unperturbed copy, then the other speeds
    targets: list[int]  # token ids, no blank
    alternatives: list[list[int]] = field(default_factory=list)  # other allowed targets (variants)
    frames: int = 0  # frames of the unperturbed copy (0: taken from feats[0])
    aux_targets: list[int] = field(default_factory=list)  # a multi-task model's second head's token ids

    def __post_init__(self):
        self.frames = self.frames or len(self.feats[0])


class StoredFeatures(Sequence):
    """One utterance's features at each speed, read from the feature cache when indexed."""

    def __init__(self, utt: str, readers: list[FeatureReader]):
        self.utt, self.readers = utt, readers

    def __len__(self) -> int:
        return len(self.readers)

    def __getitem__(self, speed_index: int) -> np.ndarray:
        return self.readers[speed_index][self.utt]

    def frame_counts(self) -> list[int]:
        return [r.frames[self.utt] for r in self.readers]


def load_examples(data: DataDir, config: FeatureConfig, targets: dict[str, list[int]], cache_dir: Path,
                  speeds: tuple[float, ...] = (1.0,), nj: int = 1,
                  alternatives: dict[str, list[list[int]]] | None = None,
                  check_fit: bool = True, in_memory: bool = False,
                  aux_targets: dict[str, list[int]] | None = None) -> list[Example]:
    """Examples of every utterance with targets, with features at each speed.

    Features (speed-perturbed copies too) are extracted once into `cache_dir` and read from
    there batch by batch, so memory does not grow with the corpus; `in_memory` reads them all
    at the start instead (the loader before streaming: faster on a slow disk, memory-bound).

    `alternatives[utt]` lists every allowed target sequence (pronunciation variants), the first
    being the initial target; training picks among them (see asr.nn.train).

    With `check_fit` (CTC targets), utterances too short for their targets (fewer output frames
    than tokens plus the blanks needed between repeats) are left out; so are those too short for
    their `aux_targets` (a multi-task model's second CTC head), when given.
    """
    speeds = (1.0,) + tuple(s for s in speeds if s != 1.0)  # feats[0] is always the unperturbed copy
    data = data.select(targets)
    readers = []
    for speed in speeds:
        perturb = None if speed == 1.0 else functools.partial(speed_perturb, sample_rate=config.sample_rate,
                                                              speed=speed)
        paths = cache_features(data, config, cache_dir, nj, perturb, tag="" if speed == 1.0 else f"speed{speed}")
        readers.append(FeatureReader(paths, config, data.utt2spk))
    examples = []
    for utt in tqdm(data.utts, desc="reading features", unit="utt", leave=False, disable=not in_memory):
        feats = StoredFeatures(utt, readers)
        lengths = feats.frame_counts()
        def fits(tokens: list[int]) -> bool:
            return not check_fit or all(ctc_fits(n, tokens) for n in lengths)

        choices = [t for t in (alternatives or {}).get(utt, [targets[utt]]) if fits(t)]
        aux = (aux_targets or {}).get(utt, [])
        if choices and fits(aux):
            examples.append(Example(utt, list(feats) if in_memory else feats, choices[0],
                                    choices if len(choices) > 1 else [], frames=lengths[0], aux_targets=aux))
    if not examples:
        raise AsrError(f"{data.path}: no utterance long enough for its transcript")
    return examples


def ctc_fits(num_frames: int, targets: list[int]) -> bool:
    """Whether CTC can align `targets` to the model's output frames for `num_frames` inputs."""
    repeats = sum(1 for a, b in zip(targets, targets[1:]) if a == b)
    return output_frames(num_frames) >= len(targets) + repeats


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
