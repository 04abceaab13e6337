"""Which torchaudio features work with the CPU torch (DESIGN.md: the compiled extension cannot load)."""
import torch

from asr.torchaudio_compat import available_features, torchaudio


def test_pure_python_parts_work_and_compiled_parts_are_reported_missing():
    features = available_features()
    print("torchaudio", torchaudio.__version__, features)
    for name in ("compliance.kaldi.fbank", "compliance.kaldi.mfcc", "transforms.MelSpectrogram",
                 "transforms.FrequencyMasking", "transforms.TimeMasking", "transforms.Resample",
                 "models.Conformer"):
        assert features[name], name
    # I/O and forced alignment need libtorchaudio: we use soundfile and our own Viterbi instead
    assert not features["functional.forced_align"]
    assert not features["load"]  # needs torchcodec: asr.audio reads with soundfile


def test_kaldi_fbank_shape_matches_kaldi_framing():
    # 1 s at 16 kHz, 25 ms windows every 10 ms with snip_edges: 1 + (16000 - 400) // 160 = 98 frames
    feats = torchaudio.compliance.kaldi.fbank(torch.randn(1, 16000), num_mel_bins=80)
    assert feats.shape == (98, 80)
