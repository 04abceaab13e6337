"""Killing training mid-epoch and rerunning continues from the last checkpoint and reaches exactly
the state of an uninterrupted run (model, optimiser, scheduler, RNG, epoch)."""
import pytest
import torch

from asr.datadir import read_datadir
from asr.errors import AsrError
from asr.features import FeatureConfig
from asr.nn.augment import SpecAugmentConfig
from asr.nn.checkpoint import load_state
from asr.nn.data import load_examples
from asr.nn.model import CtcModel, ModelConfig
from asr.nn.train import STATE_FILE, TrainConfig, train_model
from asr.units import CharUnits
from nn_helpers import yesno_subset

EPOCHS = 3


class Interrupted(Exception):
    pass


@pytest.fixture(scope="module")
def examples(data_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("yesno")
    few = read_datadir(yesno_subset(data_root, out))
    units = CharUnits.train(list(few.text.values()))
    targets = {u: units.encode(t) for u, t in few.text.items()}
    features = FeatureConfig(kind="fbank", sample_rate=8000, num_filters=40)
    # every random draw is exercised: speeds, SpecAugment masks, dropout, batch order
    return load_examples(few, features, targets, out / "feats", speeds=(0.9, 1.0, 1.1)), len(units)


def run(examples, out, fingerprint="same", on_step=None):
    train, num_outputs = examples
    config = TrainConfig(epochs=EPOCHS, batch_frames=1300, warmup_steps=5, speeds=(0.9, 1.0, 1.1), patience=100,
                         spec_augment=SpecAugmentConfig(freq_width=8, time_width=20))
    torch.manual_seed(0)
    model = CtcModel(ModelConfig(input_dim=40, num_outputs=num_outputs, d_model=32, lstm_hidden=32, num_layers=2,
                                 subsampling_channels=8, dropout=0.3))
    train_model(model, train, train[:2], config, out, device="cpu", fingerprint=fingerprint, on_step=on_step)
    return load_state(out / STATE_FILE)


def assert_same(a, b):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    else:
        assert a == b


def test_resume_after_interruption_matches_uninterrupted_run(examples, tmp_path):
    straight = run(examples, tmp_path / "straight")

    def kill_in_last_epoch(epoch, step):
        if epoch == EPOCHS and step % 4 == 2:  # mid-epoch: two of its four batches done
            raise Interrupted

    with pytest.raises(Interrupted):
        run(examples, tmp_path / "resumed", on_step=kill_in_last_epoch)
    assert load_state(tmp_path / "resumed" / STATE_FILE)["epoch"] == EPOCHS - 1
    resumed = run(examples, tmp_path / "resumed")
    assert resumed["epoch"] == EPOCHS
    for key in ("model", "optimizer", "scheduler", "rng", "step", "targets"):
        assert_same(straight[key], resumed[key])
    timing = ("cpu_seconds", "wall_seconds")
    assert_same([{k: v for k, v in h.items() if k not in timing} for h in straight["history"]],
                [{k: v for k, v in h.items() if k not in timing} for h in resumed["history"]])


def test_checkpoint_of_another_run_is_refused(examples, tmp_path):
    run(examples, tmp_path, fingerprint="first")
    with pytest.raises(AsrError, match=STATE_FILE):
        run(examples, tmp_path, fingerprint="second")
