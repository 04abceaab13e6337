"""The one place `asr` imports torchaudio.

torchaudio 2.11's compiled extension is built against CUDA torch and fails to load with the CPU
torch 2.13 we install (DESIGN.md). Its pure-Python parts (compliance.kaldi, transforms, models)
work once the extension loader is told not to try. Import torchaudio as
`from asr.torchaudio_compat import torchaudio` and nowhere else.

Works: compliance.kaldi.fbank/mfcc, transforms (MelSpectrogram, FrequencyMasking, TimeMasking,
Resample), models.Conformer. Not available: torchaudio.load/save (use asr.audio), forced_align
(use our Viterbi), rnnt_loss (use torch.nn.functional.ctc_loss).
"""
from __future__ import annotations

import os
import sys
import types


def _fail_without_extension(message: str):
    def decorator(func):
        def wrapped(*args, **kwargs):
            raise RuntimeError(f"{func.__name__}: {message}")
        return wrapped
    return decorator


def _stand_in_extension() -> types.ModuleType:
    """What torchaudio._extension exposes, saying 'no compiled extension' instead of loading it."""
    ext = types.ModuleType("torchaudio._extension")
    ext._IS_TORCHAUDIO_EXT_AVAILABLE = False
    ext._IS_ALIGN_AVAILABLE = False
    ext._load_lib = lambda lib: False
    ext._check_cuda_version = lambda: None
    ext.fail_if_no_align = _fail_without_extension(
        "needs torchaudio's compiled extension, which cannot load with the CPU torch")
    return ext


if "torchaudio" not in sys.modules:
    # The real module would load libtorchaudio.so and fail with OSError.
    sys.modules.setdefault("torchaudio._extension", _stand_in_extension())
import torchaudio  # noqa: E402


def available_features() -> dict[str, bool]:
    """Which torchaudio features work in this install (checked by calling each one)."""
    import torch

    checks = {}
    wave = torch.zeros(1, 16000)

    def probe(name, fn):
        try:
            fn()
            checks[name] = True
        except Exception:  # noqa: BLE001 - a probe reports, it does not raise
            checks[name] = False

    probe("compliance.kaldi.fbank", lambda: torchaudio.compliance.kaldi.fbank(wave, num_mel_bins=80))
    probe("compliance.kaldi.mfcc", lambda: torchaudio.compliance.kaldi.mfcc(wave))
    probe("transforms.MelSpectrogram", lambda: torchaudio.transforms.MelSpectrogram(n_mels=64)(wave))
    probe("transforms.FrequencyMasking", lambda: torchaudio.transforms.FrequencyMasking(10)(torch.zeros(1, 80, 100)))
    probe("transforms.TimeMasking", lambda: torchaudio.transforms.TimeMasking(10)(torch.zeros(1, 80, 100)))
    probe("transforms.Resample", lambda: torchaudio.transforms.Resample(8000, 16000)(wave))
    probe("models.Conformer", lambda: torchaudio.models.Conformer(80, 4, 128, 2, 31))
    probe("load", lambda: torchaudio.load(os.devnull))
    probe("functional.forced_align", lambda: torchaudio.functional.forced_align(
        torch.zeros(1, 5, 3).log_softmax(-1), torch.tensor([[1, 2]], dtype=torch.int32)))
    return checks
