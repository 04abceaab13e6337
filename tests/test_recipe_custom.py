"""recipes/custom/run.sh: the user's own Kaldi data dirs, laid out as no built-in recipe prepares them.

The data: a slice of AN4 (8 training speakers x 5 utterances, 2 test speakers x 4) re-exported as
TAB-separated data dirs with audio paths relative to the data's folder, the test set with a
`segments` file. Tiny configs (--conf) keep the three trainings to seconds.
"""
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from conftest import REPO

# one worker runs the copied recipe (`--dist loadgroup`), not each
pytestmark = pytest.mark.xdist_group("recipe_custom")

VENV_BIN = Path(sys.executable).parent
SYSTEMS = ("classic", "ctc", "hybrid")
TINY_CONF = {
    "classic.yaml": "triphone: false\nsat: false\nmono_iters: 4\nmono_gaussians: 100\n"
                    "sil_score_grid: [10.0]\nlm_weight_grid: [10.0]\nword_score_grid: [0.0]\n",
    "ctc.yaml": "encoder: blstm\nd_model: 32\nnum_layers: 1\nlstm_hidden: 32\nsubsampling_channels: 8\n"
                "epochs: 2\npatience: 2\naverage: 1\nspeed_perturb: false\nspec_augment: false\n"
                "units: chars\ndecoder: greedy\n",
    "hybrid.yaml": "encoder: blstm\nd_model: 32\nnum_layers: 1\nlstm_hidden: 32\nsubsampling_channels: 8\n"
                   "epochs: 2\npatience: 2\naverage: 1\nspeed_perturb: false\nspec_augment: false\n"
                   "lm_weight_grid: [1.0]\nword_score_grid: [0.0]\n",
}


def _table(path: Path) -> dict[str, str]:
    return dict(line.split(None, 1) for line in path.read_text().splitlines())


def _export(src: Path, out: Path, speakers: int, utts: int, segments: bool = False) -> None:
    """SRC's first SPEAKERS speakers x UTTS utterances as a TAB-separated data dir, audio linked
    under out/../audio and named relative to out/.. (the folder the recipe is run from)."""
    wav, text, utt2spk = _table(src / "wav.scp"), _table(src / "text"), _table(src / "utt2spk")
    by_speaker: dict[str, list[str]] = {}
    for utt in sorted(utt2spk):
        by_speaker.setdefault(utt2spk[utt].strip(), []).append(utt)
    audio = out.parent / "audio"
    audio.mkdir(exist_ok=True)
    files = {name: [] for name in ("wav.scp", "text", "utt2spk", "segments")}
    for spk in sorted(by_speaker)[:speakers]:
        for utt in by_speaker[spk][:utts]:
            (audio / f"{utt}.wav").symlink_to(wav[utt].strip())
            rel = f"audio/{utt}.wav"
            if segments:  # one segment per recording, its end a little inside the audio
                end = math.floor(sf.info(audio / f"{utt}.wav").duration * 100) / 100
                files["wav.scp"].append(f"rec-{utt}\t{rel}")
                files["segments"].append(f"{utt}\trec-{utt}\t0.0\t{end:.2f}")
            else:
                files["wav.scp"].append(f"{utt}\t{rel}")
            files["text"].append(f"{utt}\t{text[utt].strip()}")
            files["utt2spk"].append(f"{utt}\t{spk}")
    out.mkdir(parents=True)
    for name, lines in files.items():
        if lines:
            (out / name).write_text("\n".join(sorted(lines)) + "\n")


@pytest.fixture(scope="module")
def user_data(data_root, tmp_path_factory) -> Path:
    """A folder with train/ and test/ (TAB-separated, relative audio paths) and tiny configs in conf/."""
    root = tmp_path_factory.mktemp("user_data")
    prepared = root / "an4_prepared"
    subprocess.run([str(VENV_BIN / "asr"), "prepare", "an4", str(data_root / "an4"), str(prepared)],
                   check=True, capture_output=True)
    _export(prepared / "train", root / "train", speakers=8, utts=5)
    _export(prepared / "test", root / "test", speakers=2, utts=4, segments=True)
    shutil.rmtree(prepared)
    (root / "conf").mkdir()
    for name, text in TINY_CONF.items():
        (root / "conf" / name).write_text(text)
    return root


def _run(script: Path, *args: str, cwd: Path, path: str | None = None, env: dict | None = None,
         timeout: int = 600) -> subprocess.CompletedProcess:
    """Run a recipe as a user would: `asr` on PATH (the venv's bin), no ASR_ROOT unless given."""
    environ = {k: v for k, v in os.environ.items() if k != "ASR_ROOT"}
    environ["PATH"] = path if path is not None else f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    environ.update(env or {})
    return subprocess.run(["bash", str(script), *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def copied_run(user_data, tmp_path_factory):
    """The recipe copied out of the tree (run.sh and its conf/ only), run from the data's folder on
    the TAB-separated dirs, with no --dev (held out by speaker) and the learning curve (at 0.02 h:
    smaller subsets miss letters of the dev text, which the ctc system refuses)."""
    elsewhere = tmp_path_factory.mktemp("my_recipe")
    shutil.copy(REPO / "recipes" / "custom" / "run.sh", elsewhere / "run.sh")
    shutil.copytree(REPO / "recipes" / "custom" / "conf", elsewhere / "conf")
    exp = elsewhere / "exp"
    result = _run(elsewhere / "run.sh", "--train", "train", "--test", "test", "--conf", "conf",
                  "--exp", str(exp), "--nj", "2", "--learning-curve", "true", "--curve-hours", "0.02 all",
                  cwd=user_data)
    assert result.returncode == 0, f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return elsewhere, exp, result


def test_copied_recipe_trains_every_pipeline_on_tab_separated_dirs(copied_run):
    _, exp, _ = copied_run
    summary = json.loads((exp / "report" / "summary.json").read_text())
    assert {row["pipeline"] for row in summary} == set(SYSTEMS)
    test_words = sum(len(t.split()) for t in _table(exp / "data" / "test" / "text").values())
    for system in SYSTEMS:
        scores = json.loads((exp / system / "decode_test" / "scores.json").read_text())
        assert scores["words"] == test_words
    assert all(s in (exp / "RESULTS.md").read_text() for s in SYSTEMS)
    # stage 8: every system on 0.02 h and on all of the training data
    points = json.loads((exp / "curve" / "report" / "curves.json").read_text())
    for system in SYSTEMS:
        assert len({p["hours"] for p in points if p["system"] == system}) == 2
    assert (exp / "LEARNING_CURVE.md").is_file()


def test_data_dirs_are_copied_with_absolute_audio_paths_and_segments(copied_run, user_data):
    _, exp, _ = copied_run
    for part in ("train", "dev", "test"):
        for line in (exp / "data" / part / "wav.scp").read_text().splitlines():
            utt, path = line.split(" ", 1)
            assert "\t" not in line and Path(path).is_absolute() and Path(path).is_file(), line
    assert _table(exp / "data" / "test" / "segments") .keys() == _table(user_data / "test" / "text").keys()
    assert (exp / "data" / "sources").read_text().splitlines()[0] == f"train {user_data / 'train'}"


def test_dev_set_is_whole_speakers_held_out_of_train(copied_run, user_data):
    _, exp, result = copied_run
    train = _table(exp / "data" / "train" / "utt2spk")
    dev = _table(exp / "data" / "dev" / "utt2spk")
    assert dev and not set(train.values()) & set(dev.values())  # no dev speaker in train
    assert sorted({**train, **dev}) == sorted(_table(user_data / "train" / "utt2spk"))  # nothing lost
    assert "dev set: 1 of the 8 training speakers, held out of train" in result.stdout


def test_lm_keeps_the_first_word_and_drops_the_ids_of_tab_separated_text(copied_run, user_data):
    _, exp, _ = copied_run
    arpa = (exp / "lang" / "lm.arpa").read_text()
    unigrams = {line.split("\t")[1] for line in arpa.split("\\1-grams:")[1].split("\\2-grams:")[0].splitlines()
                if "\t" in line}
    train_text = _table(exp / "data" / "train" / "text")
    assert {t.split()[0] for t in train_text.values()} <= unigrams  # `cut -d' '` dropped these
    assert not set(train_text) & unigrams  # and kept the ids of one-word lines


def test_a_preset_is_chosen_by_hours_of_training_data(copied_run):
    """Without --conf: the tiny preset for this 0.03 h; --preset overrides (stage 2 is done: the
    rerun only chooses the configs)."""
    elsewhere, exp, _ = copied_run
    result = _run(elsewhere / "run.sh", "--exp", str(exp), "--stage", "2", "--stop-stage", "2", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert "configs: preset tiny for 0.0" in result.stdout and f"{elsewhere}/conf/tiny" in result.stdout
    for name in TINY_CONF:  # 16 kHz audio: the preset's configs as they are
        assert (exp / "conf" / name).read_text() == (elsewhere / "conf" / "tiny" / name).read_text()
    result = _run(elsewhere / "run.sh", "--exp", str(exp), "--stage", "2", "--stop-stage", "2",
                  "--preset", "medium", cwd=elsewhere)
    assert result.returncode == 0 and "configs: preset medium for" in result.stdout


def test_one_speaker_gets_an_utterance_dev_set_and_8khz_audio_the_preset_as_it_is(data_root, tmp_path):
    """yesno (8 kHz, one speaker): the dev set is a tenth of the utterances, with a warning; the
    tiny preset is copied to exp/conf unchanged (8 kHz audio is upsampled, see conf/README.md)."""
    subprocess.run([str(VENV_BIN / "asr"), "prepare", "yesno", str(data_root / "yesno"), str(tmp_path / "yesno")],
                   check=True, capture_output=True)
    exp = tmp_path / "exp"
    result = _run(REPO / "recipes" / "custom" / "run.sh", "--train", "yesno/train", "--test", "yesno/test",
                  "--exp", str(exp), "--stop-stage", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "train has 1 speaker(s): the dev set is 3 of its utterances" in result.stderr
    assert len(_table(exp / "data" / "dev" / "text")) == 3 and len(_table(exp / "data" / "train" / "text")) == 27
    assert "configs: preset tiny for 0.0" in result.stdout and "at 8000 Hz" in result.stdout
    for name in ("classic.yaml", "ctc.yaml", "hybrid.yaml"):
        assert (exp / "conf" / name).read_text() == (REPO / "recipes" / "custom" / "conf" / "tiny" / name).read_text()


def test_other_data_in_a_finished_exp_is_refused(copied_run, user_data):
    elsewhere, exp, _ = copied_run
    result = _run(elsewhere / "run.sh", "--train", "test", "--test", "test", "--exp", str(exp), cwd=user_data)
    assert result.returncode == 1
    error, = result.stderr.strip().splitlines()
    assert f"holds data copied from {user_data / 'train'}, not test" in error


def _one_error_line(result) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_missing_train_is_one_line_and_no_shared_data(tmp_path):
    exp = tmp_path / "exp"
    result = _run(REPO / "recipes" / "custom" / "run.sh", "--test", str(tmp_path), "--exp", str(exp), cwd=tmp_path)
    assert "--train DIR is required" in _one_error_line(result)
    assert "shared" not in result.stdout and not exp.exists()


def test_invalid_train_is_one_line_before_anything_is_written(user_data, tmp_path):
    bad = tmp_path / "bad_train"
    shutil.copytree(user_data / "train", bad)
    lines = (bad / "text").read_text().splitlines()
    (bad / "text").write_text("\n".join(lines[1:]) + "\n")  # an utterance without a transcript
    exp = tmp_path / "exp"
    result = _run(REPO / "recipes" / "custom" / "run.sh", "--train", str(bad), "--test", "test",
                  "--exp", str(exp), cwd=user_data)
    assert _one_error_line(result) == f"asr: error: {bad}: 1 problem(s)"
    assert "is missing from text" in result.stdout  # validate-data's list of problems
    assert not (exp / "data").exists()
    result = _run(REPO / "recipes" / "custom" / "run.sh", "--train", str(tmp_path / "nowhere"), "--test", "test",
                  "--exp", str(exp), cwd=user_data)
    assert "--train" in _one_error_line(result) and "no such directory" in result.stderr


@pytest.mark.parametrize("option,value,message", [
    ("--lm-order", "1", "--lm-order must be 2 to 6"),
    ("--nj", "two", "--nj must be a whole number"),
    ("--preset", "huge", "--preset huge: no such preset (one of: large medium small tiny"),
    ("--lm-text", "no_such.txt", "--lm-text no_such.txt: no such file"),
    ("--curve-hours", "0.1 lots", "--curve-hours: 'lots' is not a number"),
])
def test_bad_options_are_refused_before_any_work(option, value, message, user_data, tmp_path):
    result = _run(REPO / "recipes" / "custom" / "run.sh", "--train", "train", "--test", "test",
                  "--exp", str(tmp_path / "exp"), option, value, cwd=user_data)
    assert message in _one_error_line(result)
    assert not (tmp_path / "exp").exists()


def test_copied_recipe_without_asr_on_path_says_what_to_do(tmp_path):
    shutil.copy(REPO / "recipes" / "custom" / "run.sh", tmp_path / "run.sh")
    result = _run(tmp_path / "run.sh", "--exp", str(tmp_path / "exp"), cwd=tmp_path, path="/usr/bin:/bin")
    assert "cannot find the asr toolkit: set ASR_ROOT" in _one_error_line(result)
    # with ASR_ROOT the toolkit (and its venv) is found: the next complaint is the missing --train
    result = _run(tmp_path / "run.sh", "--exp", str(tmp_path / "exp"), cwd=tmp_path, path="/usr/bin:/bin",
                  env={"ASR_ROOT": str(REPO)})
    assert "--train DIR is required" in _one_error_line(result)


def test_a_copied_corpus_recipe_never_falls_back_to_the_shared_corpus(tmp_path, data_root):
    """recipes/fsdd copied (with recipes/common) to adapt it: without --data it stops with one line,
    where the recipe in place uses ../shared/data/fsdd and says so."""
    shutil.copytree(REPO / "recipes" / "common", tmp_path / "recipes" / "common")
    shutil.copytree(REPO / "recipes" / "fsdd", tmp_path / "recipes" / "mine", ignore=shutil.ignore_patterns("exp"))
    result = _run(tmp_path / "recipes" / "mine" / "run.sh", "--exp", str(tmp_path / "exp"), cwd=tmp_path)
    assert "no FSDD given: pass --data DIR" in _one_error_line(result)
    assert not (tmp_path / "exp").exists()
    result = _run(REPO / "recipes" / "fsdd" / "run.sh", "--exp", str(tmp_path / "exp_in_place"),
                  "--stop-stage", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"using the shared copy of fsdd: {data_root / 'fsdd'}" in result.stdout
    assert (tmp_path / "exp_in_place" / "data" / "train" / "text").is_file()
