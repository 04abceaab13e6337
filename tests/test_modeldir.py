"""asr.modeldir: model.yaml paths confined to the model dir, checksums recorded and verified."""
import os

import pytest
import yaml

from asr.errors import AsrError
from asr.modeldir import (CHECKSUMS_KEY, MODEL_FILE, ModelInfo, model_files, read_model_info, resolve, sha256,
                          verify_checksums, write_model_info)

SECRET = "root:x:0:0:secret-first-line"


@pytest.fixture
def model_dir(tmp_path):
    """A small model dir with the files a ctc model.yaml names, checksums recorded."""
    d = tmp_path / "model"
    d.mkdir()
    (d / "model.safetensors").write_bytes(b"weights" * 100)
    (d / "units.txt").write_text("<b>\nA\n")
    (d / "sub").mkdir()
    (d / "sub" / "lexicon.txt").write_text("A AH\n")
    info = ModelInfo(pipeline="ctc", files={"weights": "model.safetensors"},
                     units={"kind": "chars", "tokens": "units.txt"}, decoding={"lexicon": "sub/lexicon.txt", "lm": None})
    write_model_info(d, info)
    return d


@pytest.fixture
def outside(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET + "\n")
    return secret


def test_resolve_keeps_relative_paths_inside(model_dir):
    assert resolve(model_dir, "sub/lexicon.txt") == model_dir / "sub" / "lexicon.txt"
    assert resolve(model_dir, "sub/../units.txt") == model_dir / "sub/../units.txt"  # stays inside
    assert resolve(model_dir, "not-yet-written.bin").name == "not-yet-written.bin"


@pytest.mark.parametrize("relpath, problem", [
    ("../secret.txt", "leads outside the model dir"),
    ("sub/../../secret.txt", "leads outside the model dir"),
    ("/etc/passwd", "is absolute"),
    ("", "non-empty string"),
    (None, "non-empty string"),
    (["a"], "non-empty string"),
    ("a\0b", "NUL byte"),
])
def test_resolve_refuses_paths_leaving_the_dir(model_dir, outside, relpath, problem):
    with pytest.raises(AsrError, match=problem) as e:
        resolve(model_dir, relpath, "lexicon")
    assert str(model_dir / MODEL_FILE) in str(e.value) and "\n" not in str(e.value)


def test_symlink_out_of_the_dir_is_refused(model_dir, outside):
    os.symlink(outside, model_dir / "lexicon.txt")
    with pytest.raises(AsrError, match="leads outside") as e:
        resolve(model_dir, "lexicon.txt")
    assert SECRET not in str(e.value)


@pytest.mark.parametrize("key, value", [("files", {"weights": "../secret.txt"}),
                                        ("units", {"kind": "chars", "tokens": "/etc/passwd"}),
                                        ("decoding", {"lexicon": "../secret.txt"}), ("files", {"lm": "../../secret.txt"})])
def test_read_model_info_confines_every_named_path(model_dir, outside, key, value):
    info = yaml.safe_load((model_dir / MODEL_FILE).read_text())
    info[key] = value
    (model_dir / MODEL_FILE).write_text(yaml.safe_dump(info))
    with pytest.raises(AsrError) as e:
        read_model_info(model_dir)
    assert ("outside the model dir" in str(e.value) or "absolute" in str(e.value)) and SECRET not in str(e.value)


def test_checksums_cover_every_named_file_but_model_yaml(model_dir):
    info = read_model_info(model_dir)
    assert set(info.checksums) == {"model.safetensors", "units.txt", "sub/lexicon.txt"} == set(model_files(info))
    assert info.checksums["units.txt"] == sha256(model_dir / "units.txt")
    assert verify_checksums(model_dir) == 3
    # rewriting model.yaml (e.g. after tuning) leaves the checksums valid
    (model_dir / MODEL_FILE).write_text((model_dir / MODEL_FILE).read_text() + "tuning: {dev_wer: 1.0}\n")
    assert verify_checksums(model_dir) == 3


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "model.safetensors").write_bytes(b"weights" * 50), "checksum differs"),
    (lambda d: (d / "sub" / "lexicon.txt").unlink(), "missing"),
    (lambda d: (d / "units.txt").write_text("<b>\nB\n"), "checksum differs"),
])
def test_a_damaged_file_is_named(model_dir, damage, message):
    damage(model_dir)
    with pytest.raises(AsrError, match=message) as e:
        verify_checksums(model_dir)
    assert str(e.value).startswith(str(model_dir))


def test_a_model_without_checksums_verifies_nothing(model_dir):
    info = yaml.safe_load((model_dir / MODEL_FILE).read_text())
    del info[CHECKSUMS_KEY]
    (model_dir / MODEL_FILE).write_text(yaml.safe_dump(info))
    assert verify_checksums(model_dir) == 0


def test_write_model_info_refuses_a_named_file_that_is_not_there(tmp_path):
    with pytest.raises(AsrError, match="not written"):
        write_model_info(tmp_path, ModelInfo(pipeline="ctc", files={"weights": "model.safetensors"}))
    assert not (tmp_path / MODEL_FILE).exists()


def test_trained_models_record_checksums_and_pass_the_check(yesno_exp, capsys):
    from asr.cli import main

    for pipeline in ("classic", "ctc", "hybrid", "dnnhmm"):
        info = read_model_info(yesno_exp / pipeline)
        assert set(info.checksums) == set(model_files(info)), pipeline
        assert main(["info", str(yesno_exp / pipeline), "--check"]) == 0
        assert f"{len(info.checksums)} files match their checksums" in capsys.readouterr().out


def test_a_model_yaml_of_the_first_layout_is_read_in_todays(tmp_path):
    """Model dirs trained before ModelInfo (no `format`): neural weights at the top level, classic's
    LM under files, the neural tuning table under decoding; their paths are still confined."""
    (tmp_path / "w.bin").write_bytes(b"w")
    (tmp_path / "lm.bin").write_bytes(b"lm")
    old = {"pipeline": "hybrid", "weights": "w.bin", "files": {"lm": "lm.bin"},
           "decoding": {"lm_weight": 1.0, "tuning": [{"lm_weight": 1.0, "word_score": 0.0, "wer": 5.0}]}}
    (tmp_path / MODEL_FILE).write_text(yaml.safe_dump(old))
    info = read_model_info(tmp_path)
    assert info.files == {"weights": "w.bin"} and info.decoding == {"lm_weight": 1.0, "lm": "lm.bin"}
    assert info.tuning["table"] == old["decoding"]["tuning"] and info.format == 2
    (tmp_path / MODEL_FILE).write_text(yaml.safe_dump({**old, "format": 1}))  # said outright: the same
    assert read_model_info(tmp_path).decoding == {"lm_weight": 1.0, "lm": "lm.bin"}
    (tmp_path / MODEL_FILE).write_text(yaml.safe_dump({**old, "weights": "../w.bin"}))
    with pytest.raises(AsrError, match="leads outside"):
        read_model_info(tmp_path)


@pytest.mark.parametrize("entry, problem", [
    ({"files": ["w.bin"]}, "'files' must be a mapping"),
    ({"params": "many"}, "'params' must be an integer"),
    ({"format": 99}, "format 99 is not one this asr reads"),
    ({"format": True}, "format True is not one this asr reads"),
    ({1: "x", "colour": "blue"}, "unknown entries 1, colour"),
    ({"colour": "blue"}, "unknown entry colour"),
])
def test_a_malformed_model_yaml_is_one_line_naming_the_entry(model_dir, entry, problem):
    info = yaml.safe_load((model_dir / MODEL_FILE).read_text())
    (model_dir / MODEL_FILE).write_text(yaml.safe_dump({**info, **entry}))
    with pytest.raises(AsrError, match=problem) as e:
        read_model_info(model_dir)
    assert str(e.value).startswith(str(model_dir / MODEL_FILE)) and "\n" not in str(e.value)
