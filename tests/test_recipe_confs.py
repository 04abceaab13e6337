"""Every recipe's system configs load: known keys only, valid units and features, one per pipeline.

The long recipes (AN4, FSDD, kathleen, LibriSpeech) are benchmarks, not tests; this catches a typo in
their configs without training anything.
"""
from pathlib import Path

import pytest

from asr.features import FeatureConfig
from asr.pipelines import classic, ctc, hybrid
from asr.pipelines.config import load_config, merge_config

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
PIPELINES = {"classic": classic, "ctc": ctc, "hybrid": hybrid}
CORPORA = ("yesno", "an4", "fsdd", "kathleen", "librispeech", "demo")
CONFS = sorted(p for corpus in CORPORA for p in (RECIPES / corpus / "conf").glob("*.yaml"))


@pytest.mark.parametrize("corpus", CORPORA)
def test_every_recipe_has_a_system_of_each_pipeline(corpus):
    pipelines = {p.stem.split("-")[0] for p in (RECIPES / corpus / "conf").glob("*.yaml")}
    assert pipelines == set(PIPELINES), corpus


@pytest.mark.parametrize("path", CONFS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_recipe_config_is_valid(path):
    pipeline = PIPELINES[path.stem.split("-")[0]]
    config = merge_config(pipeline.DEFAULTS, load_config(path), str(path))
    if pipeline is classic:
        FeatureConfig.from_dict({**classic.DEFAULTS["features"], **(config["features"] or {})})
    if pipeline is ctc:
        assert config["units"] in ctc.UNIT_KINDS and config["decoder"] in ctc.DECODERS
