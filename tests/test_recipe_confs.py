"""Every recipe's system configs load: known keys only, valid units and features, one per pipeline.

The long recipes (AN4, FSDD, kathleen, LibriSpeech) and the custom recipe's presets are benchmarks,
not tests; this catches a typo in their configs without training anything.
"""
from pathlib import Path

import pytest

from asr.features import FeatureConfig
from asr.pipelines import classic, ctc, dnnhmm, hybrid
from asr.pipelines.config import load_config, merge_config

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
PIPELINES = {"classic": classic, "ctc": ctc, "hybrid": hybrid, "dnnhmm": dnnhmm}
EVERY_RECIPE = {"classic", "ctc", "hybrid"}  # dnnhmm where a recipe has measured it (it needs classic)
CORPORA = ("yesno", "an4", "fsdd", "kathleen", "librispeech", "demo")
PRESETS = ("tiny", "small", "medium", "large")  # recipes/custom/conf/<preset>/, by hours of training data
CONF_DIRS = [RECIPES / corpus / "conf" for corpus in CORPORA] + [RECIPES / "custom" / "conf" / p for p in PRESETS]
CONFS = sorted(p for conf in CONF_DIRS for p in conf.glob("*.yaml"))


@pytest.mark.parametrize("conf", CONF_DIRS, ids=lambda d: str(d.relative_to(RECIPES)))
def test_every_recipe_has_a_system_of_each_pipeline(conf):
    pipelines = {p.stem.split("-")[0] for p in conf.glob("*.yaml")}
    assert EVERY_RECIPE <= pipelines <= set(PIPELINES), conf
    assert "dnnhmm" not in pipelines or (conf / "classic.yaml").is_file(), "dnnhmm aligns with the classic system"


def test_custom_presets_are_the_documented_ones():
    assert sorted(p.name for p in (RECIPES / "custom" / "conf").iterdir() if p.is_dir()) == sorted(PRESETS)
    readme = (RECIPES / "custom" / "conf" / "README.md").read_text()
    assert all(f"`{p}`" in readme for p in PRESETS)


def _nn(preset: str, pipeline: str) -> dict:
    module = PIPELINES[pipeline]
    path = RECIPES / "custom" / "conf" / preset / f"{pipeline}.yaml"
    return merge_config(module.DEFAULTS, load_config(path), str(path))


@pytest.mark.parametrize("pipeline", ("ctc", "hybrid"))
def test_smaller_presets_regularise_more(pipeline):
    """Less data: a network no larger and dropout no lower; SpecAugment in every preset (the AN4
    config without it overfit 1 h of unseen non-native speech)."""
    configs = [_nn(p, pipeline) for p in PRESETS]
    sizes = [c["d_model"] * c["num_layers"] for c in configs]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    dropouts = [c["dropout"] for c in configs]
    assert dropouts == sorted(dropouts, reverse=True) and dropouts[0] > dropouts[-1]
    assert all(c["spec_augment"] for c in configs)


@pytest.mark.parametrize("path", CONFS, ids=lambda p: str(p.relative_to(RECIPES)))
def test_recipe_config_is_valid(path):
    pipeline = PIPELINES[path.stem.split("-")[0]]
    config = merge_config(pipeline.DEFAULTS, load_config(path), str(path))
    if pipeline is classic:
        FeatureConfig.from_dict({**classic.DEFAULTS["features"], **(config["features"] or {})})
    if pipeline is ctc:
        assert config["units"] in ctc.UNIT_KINDS and config["decoder"] in ctc.DECODERS
