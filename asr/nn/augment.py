"""Data augmentation: SpecAugment masking on filterbank batches, speed perturbation of waveforms.

Both draw from torch's global generator, whose state the training checkpoint saves, so a resumed
run draws the same masks and speeds as an uninterrupted one.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
import torch

from asr.audio import resample
from asr.errors import AsrError
from asr.torchaudio_compat import torchaudio

SPEEDS = (0.9, 1.0, 1.1)  # Ko et al. 2015: three copies at 90%, 100% and 110% speed


@dataclass
class SpecAugmentConfig:
    enabled: bool = True
    freq_masks: int = 2  # masks per utterance along frequency
    freq_width: int = 27  # widest frequency mask, in bins (Park et al. 2019, LibriSpeech basic)
    time_masks: int = 2
    time_width: int = 40  # widest time mask, in 10 ms frames (0.4 s)
    time_fraction: float = 0.2  # no time mask covers more than a fifth of the utterance

    @classmethod
    def from_dict(cls, d: dict) -> "SpecAugmentConfig":
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise AsrError(f"unknown spec_augment option(s): {', '.join(sorted(unknown))}")
        return cls(**d)

    def to_dict(self) -> dict:
        return asdict(self)


class SpecAugment(torch.nn.Module):
    """Frequency and time masking (torchaudio transforms), independent masks per utterance."""

    def __init__(self, config: SpecAugmentConfig):
        super().__init__()
        self.config = config
        self.freq = torchaudio.transforms.FrequencyMasking(config.freq_width, iid_masks=True)
        self.time = torchaudio.transforms.TimeMasking(config.time_width, iid_masks=True, p=config.time_fraction)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, T, F) normalised features -> masked copy (masked cells set to 0, the mean)."""
        if not self.config.enabled:
            return feats
        x = feats.transpose(1, 2).unsqueeze(1)  # (B, 1, F, T): the masks' layout
        for _ in range(self.config.freq_masks):
            x = self.freq(x)
        for _ in range(self.config.time_masks):
            x = self.time(x)
        return x.squeeze(1).transpose(1, 2)


def speed_perturb(samples: np.ndarray, sample_rate: int, speed: float) -> np.ndarray:
    """Play `samples` `speed` times faster (pitch moves too, as in Kaldi's speed perturbation).

    Reading the audio as if recorded at rate*speed and resampling back to rate changes both
    duration (1/speed) and pitch, which is what makes the copies useful as new speakers.
    """
    if speed == 1.0:
        return samples
    return resample(samples, int(round(sample_rate * speed)), sample_rate)
