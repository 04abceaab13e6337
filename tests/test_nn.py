"""Pieces of the neural CTC stack checked against hand-computed values."""
import math

import numpy as np
import pytest
import torch

from asr.errors import AsrError
from asr.nn.augment import SpecAugment, SpecAugmentConfig, speed_perturb
from asr.nn.checkpoint import average_weights, load_weights, save_weights
from asr.nn.data import Example, ctc_fits, make_batches
from asr.nn.model import CtcModel, ModelConfig, output_frames, subsampled_lengths
from asr.nn.train import BLANK_ID, choose_targets, warmup_then_decay
from asr.scoring import edit_distance
from asr.units import ctc_collapse


def test_subsampling_lengths_by_hand():
    # two 3-wide stride-2 convolutions: 100 -> 49 -> 24 ; 7 -> 3 -> 1
    assert subsampled_lengths(torch.tensor([100, 7, 8])).tolist() == [24, 1, 1]
    assert [output_frames(n) for n in (100, 7, 8, 3)] == [24, 1, 1, 1]


@pytest.mark.parametrize("encoder", ["blstm", "conformer"])
def test_model_output_shape(encoder):
    torch.manual_seed(0)
    model = CtcModel(ModelConfig(num_outputs=5, encoder=encoder, d_model=32, lstm_hidden=16, num_layers=1,
                                 ffn_dim=32, subsampling_channels=4)).eval()
    feats = torch.randn(2, 100, 80)
    log_probs, lengths = model(feats, torch.tensor([100, 60]))
    assert log_probs.shape == (2, 24, 5) and lengths.tolist() == [24, 14]
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(2, 24), atol=1e-5)


def test_blstm_ignores_padding():
    """An utterance scores the same alone and padded inside a batch (packed sequences)."""
    torch.manual_seed(0)
    model = CtcModel(ModelConfig(num_outputs=5, encoder="blstm", d_model=16, lstm_hidden=8, num_layers=2,
                                 subsampling_channels=4)).eval()
    short = torch.randn(1, 60, 80)
    batch = torch.cat([short, torch.zeros(1, 40, 80)], dim=1).repeat(2, 1, 1)
    batch[1] = torch.randn(100, 80)
    alone, n = model(short, torch.tensor([60]))
    together, _ = model(batch, torch.tensor([60, 100]))
    assert torch.allclose(alone[0], together[0, :int(n)], atol=1e-5)


def test_speed_perturbation_changes_duration():
    samples = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    assert len(speed_perturb(samples, 16000, 1.1)) == math.ceil(16000 * 10 / 11)
    assert len(speed_perturb(samples, 16000, 0.9)) == math.ceil(16000 * 10 / 9)
    assert speed_perturb(samples, 16000, 1.0) is samples


def test_spec_augment_masks_bands_and_spans():
    torch.manual_seed(0)
    feats = torch.randn(3, 200, 80) + 5.0  # no natural zeros
    config = SpecAugmentConfig(freq_masks=1, freq_width=10, time_masks=1, time_width=20, time_fraction=0.2)
    masked = SpecAugment(config)(feats)
    zero = masked == 0
    assert torch.equal(masked[~zero], feats[~zero])  # unmasked cells untouched
    for i in range(3):
        freq_cols = zero[i].all(dim=0).sum().item()  # bins masked over all frames
        time_rows = zero[i].all(dim=1).sum().item()  # frames masked over all bins
        assert freq_cols <= 10 and time_rows <= 20
    assert torch.equal(SpecAugment(SpecAugmentConfig(enabled=False))(feats), feats)


def test_ctc_helpers_by_hand():
    assert list(ctc_collapse([0, 3, 3, 0, 3, 5, 5, 0], BLANK_ID)) == [3, 3, 5]
    assert edit_distance([1, 2, 3], [1, 3]) == 1
    assert edit_distance([1, 2, 3], [4, 5, 6, 7]) == 4
    # 10 input frames -> 4 -> 1 output frame: one token fits, two do not
    assert ctc_fits(10, [1]) and not ctc_fits(10, [1, 2])
    assert ctc_fits(16, [1, 1]) and not ctc_fits(12, [1, 1])  # 3 vs 2 frames: a repeat needs a blank between


def test_batches_respect_the_frame_budget():
    lengths = [50, 300, 120, 80, 300, 20, 500]
    batches = make_batches(lengths, batch_frames=400)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) == 1 or max(lengths[i] for i in b) * len(b) <= 400
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(flat)


def test_warmup_schedule_by_hand():
    f = warmup_then_decay(100)
    assert f(0) == pytest.approx(0.01) and f(49) == pytest.approx(0.5)
    assert f(99) == pytest.approx(1.0) and f(399) == pytest.approx(0.5)  # sqrt(100/400)


def test_choose_targets_picks_the_variant_the_model_hears():
    # frames say: token 2, blank, token 3  -> the variant [2, 3] beats [1, 3]
    probs = np.full((1, 3, 4), 0.02)
    for t, tok in enumerate([2, 0, 3]):
        probs[0, t, tok] = 0.94
    log_probs = torch.tensor(np.log(probs), dtype=torch.float32)
    ex = Example("u", [np.zeros((20, 80), np.float32)], [1, 3], [[1, 3], [2, 3]])
    choose_targets(log_probs, torch.tensor([3]), [ex])
    assert ex.targets == [2, 3]


def test_weights_average_and_truncation(tmp_path):
    a, b = {"w": torch.tensor([1.0, 3.0])}, {"w": torch.tensor([3.0, 5.0])}
    save_weights(a, tmp_path / "a.safetensors")
    save_weights(b, tmp_path / "b.safetensors")
    assert average_weights([tmp_path / "a.safetensors", tmp_path / "b.safetensors"])["w"].tolist() == [2.0, 4.0]
    path = tmp_path / "b.safetensors"
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(AsrError, match="b.safetensors"):
        load_weights(path)
