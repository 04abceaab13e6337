"""recipes/pretrain/run.sh, stage 1: the pooled pretraining corpus is the corpora's training sets
(their dev sets for dev, their test sets for its own test), and no test recording is trained on.
Stages 2-7 are the shared pipeline stages every recipe runs (tests/test_recipe_*.py)."""
from asr.datadir import read_datadir
from conftest import REPO, run_recipe


def _audio(data_dir):
    data = read_datadir(data_dir)
    return {data.audio_path(u) for u in data.utts}


def test_pooled_training_set_is_the_corpora_training_sets_without_their_tests(data_root, tmp_path):
    exp = tmp_path / "exp"
    result = run_recipe("pretrain", "--exp", str(exp), "--corpora", "an4 yesno", "--shared", str(data_root),
                        "--stop-stage", "1", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    train = read_datadir(exp / "data" / "train")
    parts = {c: read_datadir(exp / "corpora" / c / "train") for c in ("an4", "yesno")}
    assert set(train.utts) == set(parts["an4"].utts) | set(parts["yesno"].utts)
    assert set(read_datadir(exp / "data" / "dev").utts) == set(read_datadir(exp / "corpora" / "an4" / "dev").utts)
    tests = _audio(exp / "data" / "test")
    assert tests and not tests & (_audio(exp / "data" / "train") | _audio(exp / "data" / "dev"))


def test_unknown_corpus_is_refused_before_any_work(tmp_path):
    result = run_recipe("pretrain", "--exp", str(tmp_path / "exp"), "--corpora", "an4 timit", timeout=60)
    assert result.returncode == 2 and "unknown corpus 'timit'" in result.stderr
    assert not (tmp_path / "exp").exists()
    assert (REPO / "recipes" / "pretrain" / "conf" / "ctc.yaml").is_file()
