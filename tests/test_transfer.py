"""Transfer learning (`init_from`): a network starts from another model dir's subsampling and encoder,
exactly, and from its output layer only when the units are the same (same tokens, same order);
frozen epochs hold the encoder while the output layer learns, and resume as an uninterrupted run;
the source's weights are part of the resume fingerprint; an incompatible source is one line
before any work; model.yaml and `asr info` say where the model came from."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from asr.cli import main
from asr.datadir import read_datadir
from asr.errors import AsrError
from asr.features import FeatureConfig
from asr.hmm.tree import ContextTree
from asr.lexicon import build_lexicon
from asr.modeldir import ModelInfo, read_model_info
from asr.nn.acoustic import _fingerprint, model_config
from asr.nn.checkpoint import load_weights
from asr.nn.data import load_examples
from asr.nn.model import ENCODER_PARTS, CtcModel, ModelConfig
from asr.nn.train import STATE_FILE, TrainConfig, _optimizer, epoch_file, train_model
from asr.nn.transfer import initialise, pdf_inventory, transfer_source
from asr.pipelines import ctc, hybrid
from asr.pipelines.config import load_config, pipeline_config
from asr.transcribe import describe_model
from asr.units import CharUnits, load_units
from nn_helpers import TINY, yesno_subset
from test_hybrid_pipeline import YESNO_ARPA
from test_nn_resume import Interrupted, assert_same

PHONES = ("<blank>", "EH", "N", "OW", "S", "Y")  # the hybrid yesno model's units (CMUdict YES, NO)
CTC = {**TINY, "decoder": "greedy"}  # no LM, no tuning: training only


@pytest.fixture(scope="module")
def few(data_root, tmp_path_factory):
    return yesno_subset(data_root, tmp_path_factory.mktemp("yesno"))


@pytest.fixture(scope="module")
def source(few, tmp_path_factory):
    """A finished ctc character model: two epochs (it need not be good, only trained)."""
    out = tmp_path_factory.mktemp("source")
    ctc.train({**CTC, "epochs": 2}, few, out, dev_dir=few)
    return out


@pytest.fixture(scope="module")
def lang(tmp_path_factory):
    out = tmp_path_factory.mktemp("lang")
    lexicon, _ = build_lexicon(["YES", "NO"])
    lexicon.write(out / "lexicon.txt")
    (out / "lm.arpa").write_text(YESNO_ARPA)
    return out


def source_units(model_dir: Path) -> tuple[str, ...]:
    return tuple(load_units(model_dir, read_model_info(model_dir).units).tokens)


def part(state: dict, name: str) -> dict:
    return {k: v for k, v in state.items() if k.startswith(name + ".")}


def assert_equal_tensors(a: dict, b: dict) -> None:
    assert a.keys() == b.keys() and a
    for key in a:
        assert torch.equal(a[key], b[key]), key


def started_from(source: Path, units: tuple[str, ...]) -> tuple[CtcModel, dict, dict]:
    """A new network of `units` initialised from `source`: (model, its random start, the record)."""
    config = pipeline_config("ctc", {**CTC, "init_from": str(source)})
    torch.manual_seed(123)
    model = CtcModel(model_config(config, len(units)))
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    return model, fresh, initialise(model, transfer_source(config), units)


# ------------------------------------------------------------------ what is copied

def test_same_units_copy_every_weight_exactly(source):
    model, _, record = started_from(source, source_units(source))
    assert_equal_tensors(model.state_dict(), load_weights(source / "model.safetensors"))
    assert record["copied"] == ["subsampling", "encoder", "output"] and record["new"] == []
    assert record["pipeline"] == "ctc" and record["path"] == str(source.resolve())
    assert len(record["weights_sha256"]) == 64


@pytest.mark.parametrize("units", [PHONES, "reordered"], ids=["phones", "same-tokens-reordered"])
def test_other_units_copy_the_encoder_and_keep_a_new_output_layer(source, units):
    if units == "reordered":  # same size, so the layer would fit: the order decides
        tokens = source_units(source)
        units = (tokens[0], *reversed(tokens[1:]))
    model, fresh, record = started_from(source, units)
    weights, state = load_weights(source / "model.safetensors"), model.state_dict()
    for name in ENCODER_PARTS:
        assert_equal_tensors(part(state, name), part(weights, name))
    assert_equal_tensors(part(state, "output"), part(fresh, "output"))
    assert record["copied"] == list(ENCODER_PARTS) and record["new"] == ["output"]


def test_dnnhmm_pdfs_are_the_same_units_only_under_the_same_tree(tmp_path):
    tree = ContextTree.monophone(["AH", "B", "SIL"])
    tree.save(tmp_path / "tree.json")
    assert pdf_inventory(ContextTree.load(tmp_path / "tree.json")) == pdf_inventory(tree)
    roots = [dict(level) for level in tree.roots]
    roots[0]["AH"], roots[0]["B"] = roots[0]["B"], roots[0]["AH"]  # same count, other states on the pdfs
    assert pdf_inventory(ContextTree(tree.phones, roots, tree.num_pdfs)) != pdf_inventory(tree)


# ------------------------------------------------------------------ frozen epochs, end to end

def test_hybrid_from_ctc_holds_the_encoder_while_frozen_and_records_its_source(source, few, lang, tmp_path, capsys):
    """Phones from a character model: encoder copied, output layer new. Epoch 1 (frozen) leaves the
    encoder as copied while the output layer learns; epoch 2 trains both; model.yaml and `asr info`
    name the source."""
    config = {**TINY, "epochs": 2, "patience": 5, "keep_checkpoints": True, "init_from": str(source),
              "freeze_encoder_epochs": 1, "encoder_lr_scale": 0.5, "lexicon": str(lang / "lexicon.txt"),
              "lm": str(lang / "lm.arpa"), "lm_weight_grid": [1.0], "word_score_grid": [0.0]}
    hybrid.train(config, few, tmp_path, dev_dir=few)
    assert source_units(tmp_path) == PHONES
    torch.manual_seed(0)  # the new network's random start, as training drew it (seed 0)
    fresh = CtcModel(model_config(pipeline_config("hybrid", config), len(PHONES))).state_dict()
    weights = load_weights(source / "model.safetensors")
    epoch1 = load_weights(tmp_path / "checkpoints" / epoch_file(1))
    epoch2 = load_weights(tmp_path / "checkpoints" / epoch_file(2))
    for name in ENCODER_PARTS:
        assert_equal_tensors(part(epoch1, name), part(weights, name))
        assert any(not torch.equal(epoch2[k], weights[k]) for k in part(weights, name)), name
    assert not torch.equal(epoch1["output.weight"], fresh["output.weight"])  # the head learned in epoch 1

    info = read_model_info(tmp_path)
    assert info.init_from == {"path": str(source.resolve()), "pipeline": "ctc",
                              "weights_sha256": info.init_from["weights_sha256"],
                              "copied": ["subsampling", "encoder"], "new": ["output"]}
    assert info.train["config"]["freeze_encoder_epochs"] == 1
    described = describe_model(tmp_path)
    assert f"init from:   {source.resolve()} (a ctc model" in described
    assert "transfer:    copied subsampling, encoder; new output (other units); encoder frozen for 1 epoch(s); " \
           "encoder at lr x 0.5" in described
    assert main(["info", str(tmp_path)]) == 0 and "init from:" in capsys.readouterr().out


# ------------------------------------------------------------------ the training loop

@pytest.fixture(scope="module")
def examples(few, tmp_path_factory):
    data = read_datadir(few)
    units = CharUnits.train(list(data.text.values()))
    targets = {u: units.encode(t) for u, t in data.text.items()}
    config = FeatureConfig(kind="fbank", sample_rate=8000, num_filters=40)
    return load_examples(data, config, targets, tmp_path_factory.mktemp("feats")), len(units)


def small_conformer(num_outputs: int) -> CtcModel:
    """A Conformer (its convolution module has BatchNorm statistics) small enough for seconds."""
    torch.manual_seed(0)
    return CtcModel(ModelConfig(input_dim=40, num_outputs=num_outputs, d_model=32, num_layers=1, num_heads=2,
                                ffn_dim=64, conv_kernel=3, subsampling_channels=8, dropout=0.1))


def run(examples, out, on_step=None) -> tuple[dict, dict]:
    """Two epochs, the first frozen: (the initial state, the checkpoint's state)."""
    train, num_outputs = examples
    model = small_conformer(num_outputs)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    config = TrainConfig(epochs=2, batch_frames=1300, warmup_steps=5, patience=100, freeze_encoder_epochs=1,
                         encoder_lr_scale=0.5)
    train_model(model, train, train[:2], config, out, device="cpu", fingerprint="same", on_step=on_step)
    return initial, torch.load(out / STATE_FILE, weights_only=True)


def test_a_frozen_epoch_holds_weights_and_batchnorm_statistics_and_resumes_exactly(examples, tmp_path):
    initial, uninterrupted = run(examples, tmp_path / "whole")
    epoch1 = load_weights(tmp_path / "whole" / epoch_file(1))
    for name in ENCODER_PARTS:
        assert_equal_tensors(part(epoch1, name), part(initial, name))
    assert any("running_mean" in k for k in part(initial, "encoder"))
    assert not torch.equal(epoch1["output.weight"], initial["output.weight"])
    assert any(not torch.equal(uninterrupted["model"][k], v) for k, v in part(initial, "encoder").items())

    def stop_in_epoch_2(epoch, step):
        if epoch == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        run(examples, tmp_path / "killed", on_step=stop_in_epoch_2)
    _, resumed = run(examples, tmp_path / "killed")
    for key in ("model", "optimizer", "scheduler", "rng", "epoch", "step"):
        assert_same(resumed[key], uninterrupted[key])
    timing = ("cpu_seconds", "wall_seconds")
    assert_same([{k: v for k, v in h.items() if k not in timing} for h in resumed["history"]],
                [{k: v for k, v in h.items() if k not in timing} for h in uninterrupted["history"]])


def test_encoder_lr_scale_puts_the_encoder_in_a_slower_group():
    model = small_conformer(5)
    groups = _optimizer(model, TrainConfig(lr=0.01, encoder_lr_scale=0.1)).param_groups
    encoder = {id(p) for name in ENCODER_PARTS for p in getattr(model, name).parameters()}
    assert [g["lr"] for g in groups] == pytest.approx([0.001, 0.01])
    assert {id(p) for p in groups[0]["params"]} == encoder
    assert not encoder & {id(p) for p in groups[1]["params"]}
    assert len(_optimizer(model, TrainConfig(lr=0.01)).param_groups) == 1  # as before transfer learning


def test_the_fingerprint_names_the_source_weights_not_its_path():
    config = pipeline_config("ctc", {**CTC, "init_from": "exp/a"})
    record = {"path": "/x/exp/a", "pipeline": "ctc", "weights_sha256": "1" * 64, "copied": ["subsampling"], "new": []}
    args = ({"u": [1]}, {"v": [2]}, None, "ctc")
    base = _fingerprint(config, *args, record)
    assert _fingerprint({**config, "init_from": "moved/a"}, *args, {**record, "path": "/moved/a"}) == base
    assert _fingerprint(config, *args, {**record, "weights_sha256": "2" * 64}) != base
    assert _fingerprint({**config, "freeze_encoder_epochs": 2}, *args, record) != base
    scratch = pipeline_config("ctc", CTC)
    assert _fingerprint(scratch, *args) != base
    assert _fingerprint(scratch, *args) == _fingerprint({**scratch, "init_from": None}, *args, None)


# ------------------------------------------------------------------ refusals: one line, before any work

def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def bad_source(kind: str, source: Path, tmp_path: Path) -> tuple[Path, str]:
    """A model dir `--init-from` must refuse, and what the refusal says."""
    if kind == "missing":
        return tmp_path / "no_such_model", "no such model directory"
    if kind == "unfinished":
        (tmp_path / "unfinished").mkdir()
        return tmp_path / "unfinished", "not a model directory"
    if kind == "classic":
        (tmp_path / "classic").mkdir()
        (tmp_path / "classic" / "model.yaml").write_text("pipeline: classic\nformat: 2\n")
        return tmp_path / "classic", "a classic model has no network encoder"
    return source, "its d_model is 64, this config's is 32"  # kind "wider": --set d_model=32


@pytest.mark.parametrize("kind", ["missing", "unfinished", "classic", "wider"])
def test_an_incompatible_source_is_one_line_and_no_exp_dir(kind, source, few, lang, tmp_path, capsys):
    bad, problem = bad_source(kind, source, tmp_path)
    conf = tmp_path / "hybrid.yaml"
    conf.write_text(yaml.safe_dump({**TINY, "lexicon": str(lang / "lexicon.txt"), "lm": str(lang / "lm.arpa")}))
    extra = ["--set", "d_model=32"] if kind == "wider" else []
    exp = tmp_path / "exp"
    assert main(["train", "hybrid", str(few), str(exp), "--config", str(conf), "--init-from", str(bad), *extra]) == 1
    line = one_line(capsys)
    assert line.startswith(f"asr: error: init_from: {bad}: ") and problem in line, line
    assert not exp.exists()


def test_the_command_exits_non_zero_with_one_line_on_stderr(source, few, tmp_path):
    conf = tmp_path / "ctc.yaml"
    conf.write_text(yaml.safe_dump({**CTC, "d_model": 32}))
    asr = Path(sys.executable).parent / "asr"
    result = subprocess.run([str(asr), "train", "ctc", str(few), str(tmp_path / "exp"), "--config", str(conf),
                             "--init-from", str(source)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"asr: error: init_from: {source}: its d_model is 64, this config's is 32 "
        "(the encoder is copied as it is: its features and shape must match)"]


@pytest.mark.parametrize("settings, problem", [
    ({"freeze_encoder_epochs": 2}, "freeze_encoder_epochs: fine-tunes a transferred encoder: needs init_from"),
    ({"encoder_lr_scale": 0.1}, "encoder_lr_scale: fine-tunes a transferred encoder: needs init_from"),
    ({"init_from": "x", "encoder_lr_scale": 0}, "encoder_lr_scale: must be a number > 0, got 0"),
    ({"init_from": "x", "freeze_encoder_epochs": -1}, "freeze_encoder_epochs: must be an integer >= 0, got -1"),
    ({"init_from": ""}, "init_from: must be a model dir or null, got an empty path"),
])
def test_fine_tuning_keys_are_checked_when_read(settings, problem, tmp_path):
    conf = tmp_path / "ctc.yaml"
    conf.write_text(yaml.safe_dump(settings))
    with pytest.raises(AsrError) as e:
        load_config(conf, pipeline="ctc")
    assert str(e.value).startswith(f"{conf}: {problem}")


def test_classic_has_no_init_from(few, tmp_path, capsys):
    assert main(["train", "classic", str(few), str(tmp_path / "exp"), "--init-from", str(tmp_path)]) == 1
    assert "--init-from: a classic model has no network" in one_line(capsys)


def test_model_yaml_init_from_must_be_a_mapping(tmp_path):
    with pytest.raises(AsrError, match=r"'init_from' must be a mapping, got str"):
        ModelInfo.from_dict({"pipeline": "ctc", "init_from": "exp/ctc"}, tmp_path / "model.yaml")
    assert ModelInfo.from_dict({"pipeline": "ctc"}).init_from is None  # models from before transfer read as ever
