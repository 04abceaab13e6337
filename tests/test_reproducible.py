"""Training is bit-identical on one machine for one seed: two trainings write the same weight bytes.

(Across CPUs float kernels differ, so the test bounds on WER come from a measured seed spread
instead: see scripts/bench_seeds.py and tests/test_recipe_yesno.py.)
"""
import hashlib

import pytest

from asr.pipelines import classic, ctc
from nn_helpers import TINY, yesno_subset


@pytest.fixture(scope="module")
def few(data_root, tmp_path_factory):
    return yesno_subset(data_root, tmp_path_factory.mktemp("yesno"))


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_neural_training_twice_gives_identical_weight_bytes(few, tmp_path):
    # every random draw in play: dropout, SpecAugment masks, speed perturbation, batch order
    config = {**TINY, "epochs": 2, "units": "chars", "decoder": "greedy", "dropout": 0.2,
              "spec_augment": True, "speed_perturb": True, "seed": 7}
    for name in ("a", "b"):
        ctc.train(config, few, tmp_path / name, dev_dir=few)
    assert digest(tmp_path / "a" / "model.safetensors") == digest(tmp_path / "b" / "model.safetensors")


def test_classic_training_twice_gives_identical_model_bytes(few, tmp_path):
    from asr.lm import build_lm

    (tmp_path / "lexicon.txt").write_text("NO N OW\nYES Y EH S\n")
    (tmp_path / "text.txt").write_text("YES NO YES\nNO NO YES\n")
    lm = build_lm([tmp_path / "text.txt"], 2, tmp_path / "lm.arpa", tool="builtin")
    config = {"lexicon": str(tmp_path / "lexicon.txt"), "lm": str(lm), "features": {"sample_rate": 8000},
              "mono_iters": 3, "mono_gaussians": 20, "triphone": False, "sat": False}
    for name in ("a", "b"):
        classic.train(config, few, tmp_path / name, dev_dir=None)
    files = sorted(p.name for p in (tmp_path / "a").glob("*.npz"))
    assert files
    for name in files:
        assert digest(tmp_path / "a" / name) == digest(tmp_path / "b" / name), name
