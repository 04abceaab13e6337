"""Pipeline configs are checked once, when read and before any work: every key's type and range,
`asr config` lists them, one `threads` option for every pipeline, and a failed `asr train` leaves
no half-made model dir (an unfinished one is resumed and says so)."""
import math

import pytest
import yaml

from asr.cli import main
from asr.errors import AsrError
from asr.pipelines import PIPELINES
from asr.pipelines.config import load_config, pipeline_config
from asr.pipelines.config_schema import check_config, config_yaml, defaults, describe_keys, rules
from asr.search.options import SearchOptions
from asr.value_rules import Rule
from conftest import REPO

LEXICON = REPO / "lexicons" / "yesno.txt"


def required_files(pipeline: str) -> dict:
    """The keys a pipeline requires, pointing at files that exist."""
    return {"classic": {"lexicon": str(LEXICON)}, "ctc": {},
            "hybrid": {"lexicon": str(LEXICON), "lm": str(LEXICON)},
            "dnnhmm": {"alignments": "exp/classic", "lm": str(LEXICON)}}[pipeline]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("asr: error: ")
    return lines[0]


# ------------------------------------------------------------------ the schema

@pytest.mark.parametrize("pipeline", PIPELINES)
def test_every_key_has_a_rule_and_a_meaning_and_its_default_passes(pipeline):
    rows = describe_keys(pipeline)
    assert {k.split(".")[0] for k, _, _ in rows} == set(defaults(pipeline))
    for key, default, rule in rows:
        assert rule.meaning, f"{pipeline} {key}: no meaning"
        assert rule.problem(default) is None or (default is None and key in ("lexicon", "lm", "alignments")), (key, default)
    check_config(pipeline, {**defaults(pipeline), **required_files(pipeline)}, "defaults", complete=True)


@pytest.mark.parametrize("pipeline, key, value, expected", [
    ("ctc", "epochs", "three", "epochs: must be an integer >= 1, got 'three'"),
    ("ctc", "epochs", 0, "epochs: must be an integer >= 1, got 0"),
    ("ctc", "epochs", 2.5, "epochs: must be an integer >= 1, got 2.5"),
    ("ctc", "epochs", True, "epochs: must be an integer >= 1, got True"),
    ("hybrid", "lr", -0.5, "lr: must be a number > 0, got -0.5"),
    ("ctc", "lr", float("nan"), "lr: must be a number > 0, got nan"),
    ("ctc", "weight_decay", float("inf"), "weight_decay: must be a number >= 0, got inf"),
    ("ctc", "beam_size", -1, "beam_size: must be an integer >= 1, got -1"),
    ("hybrid", "batch_frames", 0, "batch_frames: must be an integer >= 1, got 0"),
    ("ctc", "dropout", 1.0, "dropout: must be a number in [0, 1), got 1.0"),
    ("ctc", "encoder", "transformer", "encoder: must be one of blstm, conformer, got 'transformer'"),
    ("ctc", "units", "words", "units: must be one of chars, sentencepiece, got 'words'"),
    ("ctc", "decoder", "viterbi", "decoder: must be one of greedy, beam, lexicon"),
    ("hybrid", "cmvn", "global", "cmvn: must be one of utterance, speaker, none"),
    ("ctc", "speed_perturb", "yes", "speed_perturb: must be true or false, got 'yes'"),
    ("ctc", "threads", 0, "threads: must be an integer >= 1, got 0"),
    ("classic", "threads", -3, "threads: must be null or an integer >= 1, got -3"),
    ("classic", "mixup_fraction", 1.5, "mixup_fraction: must be a number in [0, 1], got 1.5"),
    ("classic", "sil_score", -1, "sil_score: must be a number >= 0, got -1"),
    ("classic", "lm_weight_grid", [], "lm_weight_grid: must be a list (at least 1) of number >= 0, got []"),
    ("classic", "word_score_grid", [0.0, ".nan"], "word_score_grid: item 2: must be a finite number, got '.nan'"),
    ("hybrid", "beam_size_token", 0, "beam_size_token: must be null or an integer >= 1, got 0"),
    ("classic", "features", "mfcc", "features: must be a mapping of feature settings"),
    ("classic", "features", {"cmvn": "global"}, "features.cmvn: must be one of utterance, speaker, none"),
    ("classic", "features", {"frame_shift": 0}, "features.frame_shift: must be a number > 0, got 0"),
    ("classic", "features", {"num_ceps": 40}, "features: num_ceps must be in 1..num_filters (26)"),
    ("classic", "features", {"kinds": "mfcc"}, "features: unknown key 'kinds' (did you mean 'kind'?)"),
    ("ctc", "epoch", 3, "unknown key 'epoch' (did you mean 'epochs'?); `asr config ctc` lists every key"),
    ("ctc", "num_heads", 5, "num_heads: must divide d_model (144), got 5"),
    ("ctc", "lm", "no/such.arpa", "lm: no such file 'no/such.arpa'"),
    ("ctc", "decoder", "lexicon", "decoder lexicon needs `lexicon`"),
    ("hybrid", "lm", None, "lm: required (a file path)"),
    ("classic", "lda_mllt", True, "lda_mllt: needs triphone: true"),
])
def test_a_bad_value_in_a_config_file_is_one_line_naming_the_file_and_key(tmp_path, pipeline, key, value,
                                                                        expected):
    extra = {"triphone": False} if key == "lda_mllt" else {}
    config = {**required_files(pipeline), **extra, key: value}
    path = tmp_path / f"{pipeline}.yaml"
    path.write_text(yaml.safe_dump(config).replace("'.nan'", ".nan"))
    with pytest.raises(AsrError) as e:
        load_config(path, pipeline=pipeline)
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert expected.replace("'.nan'", "nan") in message


def test_set_values_are_checked_and_named_as_set():
    with pytest.raises(AsrError, match=r"^--set 'epochs=\[1,': not valid YAML$"):
        load_config(None, ["epochs=[1,"], pipeline="ctc")
    with pytest.raises(AsrError, match=r"^--set: lr: must be a number > 0, got -0.5$"):
        load_config(None, ["lr=-0.5"], pipeline="ctc")
    with pytest.raises(AsrError, match=r"^--set 'epochs': expected KEY=VALUE$"):
        load_config(None, ["epochs"], pipeline="ctc")


def test_yaml_ints_are_fine_for_float_keys_and_the_values_are_kept_as_given(tmp_path):
    path = tmp_path / "ctc.yaml"
    path.write_text("lr: 1\nclip_norm: 2\nlm_weight_grid: [0, 1]\n")
    config = load_config(path, ["dropout=0"], pipeline="ctc")
    assert config == {"lr": 1, "clip_norm": 2, "lm_weight_grid": [0, 1], "dropout": 0}


def test_pipeline_config_merges_over_the_defaults_and_checks_python_callers_too():
    merged = pipeline_config("ctc", {"epochs": 3})
    assert merged == {**defaults("ctc"), "epochs": 3}
    with pytest.raises(AsrError, match=r"^ctc config: epochs: must be an integer >= 1, got 'three'$"):
        pipeline_config("ctc", {"epochs": "three"})


def test_search_options_refuse_non_finite_and_out_of_range_values():
    for bad in ({"lm_weight": math.nan}, {"word_score": math.inf}, {"beam_size": 0}, {"nbest": 0},
                {"beam_threshold": 0.0}, {"sil_score": -1.0}, {"last_token_loop": "yes"}, {"lm_weight": -1.0}):
        key = next(iter(bad))
        with pytest.raises(AsrError, match=rf"^search options: {key}: must be"):
            SearchOptions(**bad)
    assert SearchOptions(lm_weight=2, beam_size_token=None).lm_weight == 2


def test_rule_messages_read_as_the_allowed_values():
    assert Rule("int", low=1).problem(3) is None
    assert Rule("float", low=0, low_open=True).describe() == "number > 0"
    assert Rule("float").problem(float("-inf")) == "must be a finite number, got -inf"
    assert Rule("str", choices=("a", "b"), nullable=True).describe() == "null or one of a, b"
    assert Rule("list", item=Rule("int", low=0)).problem([1, -1]) == "item 2: must be an integer >= 0, got -1"


# ------------------------------------------------------------------ `asr config`

@pytest.mark.parametrize("pipeline", PIPELINES)
def test_asr_config_lists_every_key_with_default_range_and_meaning(pipeline, capsys):
    assert main(["config", pipeline]) == 0
    out = capsys.readouterr().out
    table = {line.split()[0]: line for line in out.splitlines()[4:]}
    for key, _, rule in describe_keys(pipeline):
        assert key in table, key
        assert rule.describe() in table[key] and rule.meaning in table[key]
    assert "epochs" in table if pipeline != "classic" else "features.cmvn" in table
    assert "threads" in table


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_asr_config_yaml_is_a_commented_config_that_reads_back_as_the_defaults(pipeline, tmp_path, capsys):
    assert main(["config", pipeline, "--yaml"]) == 0
    text = capsys.readouterr().out
    assert text == config_yaml(pipeline) + "\n"
    assert sum(line.lstrip().startswith("# ") for line in text.splitlines()) >= len(rules(pipeline))
    path = tmp_path / "start.yaml"
    path.write_text(text)
    config = load_config(path, [f"{k}={v}" for k, v in required_files(pipeline).items()], pipeline=pipeline)
    merged = pipeline_config(pipeline, config)
    if pipeline == "classic":
        from asr.features import FeatureConfig

        assert FeatureConfig(**merged.pop("features")) == FeatureConfig(**defaults("classic")["features"])
        assert merged == {**{k: v for k, v in defaults("classic").items() if k != "features"},
                          **required_files(pipeline)}
    else:
        assert merged == {**defaults(pipeline), **required_files(pipeline)}


# ------------------------------------------------------------------ threads

def test_threads_is_one_option_for_every_pipeline():
    for pipeline in PIPELINES:
        assert "threads" in defaults(pipeline)
        assert pipeline_config(pipeline, {**required_files(pipeline), "threads": 1})["threads"] == 1
        with pytest.raises(AsrError, match="threads: must be"):
            pipeline_config(pipeline, {**required_files(pipeline), "threads": "two"})


def test_set_threads_limits_torch_and_blas():
    import torch
    from threadpoolctl import threadpool_info

    from asr.pipelines.training import set_threads

    set_threads(1)  # the suite runs on one thread (OMP_NUM_THREADS=1): no change for other tests
    assert torch.get_num_threads() == 1
    assert all(pool["num_threads"] == 1 for pool in threadpool_info())


@pytest.mark.parametrize("command", ["transcribe", "decode"])
@pytest.mark.parametrize("threads", ["-3", "0"])
def test_cli_threads_below_one_is_one_line_before_loading_anything(command, threads, tmp_path, capsys):
    wav = tmp_path / "a.wav"
    args = [command, str(tmp_path / "no_model"), str(wav) if command == "transcribe" else str(tmp_path)]
    assert main([*args, "--threads", threads]) == 1
    assert one_error_line(capsys) == f"asr: error: --threads: must be an integer >= 1, got {threads}"


# ------------------------------------------------------------------ a failed `asr train`

@pytest.fixture(scope="module")
def few(data_root, tmp_path_factory):
    from nn_helpers import yesno_subset

    return yesno_subset(data_root, tmp_path_factory.mktemp("config_yesno"))


@pytest.mark.parametrize("pipeline", PIPELINES)
@pytest.mark.parametrize("problem", ["config", "data"])
def test_rejected_training_creates_no_exp_dir(pipeline, problem, few, tmp_path, capsys):
    exp = tmp_path / "exp"
    sets = [f"{k}={v}" for k, v in required_files(pipeline).items()]
    train_dir = few
    if problem == "config":
        sets.append("beam_size=-1")
    else:
        train_dir = tmp_path / "no_such_data"
    assert main(["train", pipeline, str(train_dir), str(exp), *[a for s in sets for a in ("--set", s)]]) == 1
    line = one_error_line(capsys)
    assert ("beam_size" in line) if problem == "config" else ("no_such_data" in line)
    assert not exp.exists()


def classic_config(tmp_path) -> str:
    path = tmp_path / "classic.yaml"
    path.write_text(yaml.safe_dump({
        "lexicon": str(LEXICON), "features": {"sample_rate": 8000}, "mono_iters": 2, "mono_gaussians": 20,
        "triphone": True, "tri_leaves": 4, "tri_gaussians": 30, "tri_iters": 2, "tri_min_leaf_frames": 10,
        "sat": False, "threads": 1}))
    return str(path)


def test_interrupted_training_leaves_an_unfinished_dir_that_a_rerun_resumes(few, tmp_path, capsys, monkeypatch,
                                                                            caplog):
    """Ctrl-C in the triphone stage: exit 130 with one line, no model.yaml; the rerun says it resumes,
    reuses the monophone checkpoint and finishes the model dir."""
    import logging

    import asr.hmm.train
    from asr.pipelines.training import exp_dir_state

    exp, config = tmp_path / "exp", classic_config(tmp_path)
    real = asr.hmm.train.train_triphone

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(asr.hmm.train, "train_triphone", interrupted)
    assert main(["train", "classic", str(few), str(exp), "--config", config]) == 130
    err = capsys.readouterr().err  # progress bars, then the one line
    assert err.strip().splitlines()[-1] == "asr: interrupted" and "Traceback" not in err
    assert (exp / "mono" / "done").is_file() and not (exp / "model.yaml").exists()
    assert exp_dir_state(exp) == "unfinished"

    monkeypatch.setattr(asr.hmm.train, "train_triphone", real)
    with caplog.at_level(logging.INFO, logger="asr.pipelines.classic"):
        assert main(["train", "classic", str(few), str(exp), "--config", config]) == 0
    out = capsys.readouterr().out
    assert f"{exp}: unfinished training (no model.yaml): resuming" in out
    assert "resuming: mono stage" in caplog.text
    assert (exp / "model.yaml").is_file() and exp_dir_state(exp) == "finished"


def test_retraining_a_finished_dir_that_fails_leaves_no_stale_model_yaml(few, tmp_path, capsys, monkeypatch):
    """An old model.yaml beside half-rewritten files would read as a complete model: it goes first."""
    import asr.hmm.train

    exp, config = tmp_path / "exp", classic_config(tmp_path)
    (exp / "mono").mkdir(parents=True)
    (exp / "model.yaml").write_text("pipeline: classic\n")  # a finished model dir (content irrelevant here)

    def failing(*args, **kwargs):
        raise AsrError("triphone training failed")

    monkeypatch.setattr(asr.hmm.train, "train_triphone", failing)
    assert main(["train", "classic", str(few), str(exp), "--config", config]) == 1
    captured = capsys.readouterr()
    assert "holds a trained model: retraining" in captured.out
    assert captured.err.strip().splitlines()[-1] == "asr: error: triphone training failed"
    assert not (exp / "model.yaml").exists()


def test_train_rejects_nj_below_one_before_any_work(few, tmp_path, capsys):
    assert main(["train", "ctc", str(few), str(tmp_path / "exp"), "--nj", "0"]) == 1
    assert one_error_line(capsys) == "asr: error: --nj: must be an integer >= 1, got 0"
    assert not (tmp_path / "exp").exists()


def test_interrupted_neural_training_resumes_from_its_last_epoch(few, tmp_path, capsys, monkeypatch):
    """Ctrl-C after the first epoch's checkpoint: no model.yaml; the rerun says it resumes, goes on
    from epoch 2 (its history keeps epoch 1) and writes model.yaml."""
    import asr.nn.train
    from nn_helpers import TINY

    exp = tmp_path / "exp"
    config = tmp_path / "ctc.yaml"
    config.write_text(yaml.safe_dump({**TINY, "epochs": 2, "patience": 5, "decoder": "greedy",
                                      "keep_checkpoints": True}))
    real, calls = asr.nn.train._should_stop, []

    def stop_after_first_epoch(history, patience):
        calls.append(len(history))
        if len(history) == 1:
            raise KeyboardInterrupt
        return real(history, patience)

    monkeypatch.setattr(asr.nn.train, "_should_stop", stop_after_first_epoch)
    argv = ["train", "ctc", str(few), str(exp), "--config", str(config), "--dev", str(few)]
    assert main(argv) == 130
    assert (exp / "checkpoints" / "state.pt").is_file() and not (exp / "model.yaml").exists()
    capsys.readouterr()

    monkeypatch.setattr(asr.nn.train, "_should_stop", real)
    assert main(argv) == 0
    assert "unfinished training (no model.yaml): resuming" in capsys.readouterr().out
    info = yaml.safe_load((exp / "model.yaml").read_text())
    assert [h["epoch"] for h in info["train"]["history"]] == [1, 2]


def test_set_reaches_nested_feature_keys_as_asr_config_names_them(tmp_path):
    path = tmp_path / "classic.yaml"
    path.write_text(f"lexicon: {LEXICON}\nfeatures: {{sample_rate: 8000}}\n")
    config = load_config(path, ["features.cmvn=none"], pipeline="classic")
    assert config["features"] == {"sample_rate": 8000, "cmvn": "none"}
    with pytest.raises(AsrError, match=r"^--set: features\.cmvn: must be one of utterance, speaker, none, got 'x'$"):
        load_config(path, ["features.cmvn=x"], pipeline="classic")
    with pytest.raises(AsrError, match=r"^--set: unknown key 'epochs\.x'"):
        load_config(None, ["epochs.x=1"], pipeline="ctc")


def test_cuda_without_a_cuda_device_is_refused_when_read(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(AsrError, match=r"^--set: device: cuda, but torch sees no CUDA device$"):
        load_config(None, ["device=cuda"], pipeline="ctc")
