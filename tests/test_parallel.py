"""Work over several processes gives what one process gives: decoding split by speaker, tuning
split by grid point (the reference is the same call with one job)."""
from __future__ import annotations

import os

import pytest

from asr.datadir import DataDir, read_datadir, split_data, write_datadir
from asr.parallel import map_forked


def test_split_keeps_speakers_whole_and_balances():
    utt2spk = {f"{spk}-{i}": spk for spk, n in (("a", 5), ("b", 3), ("c", 2), ("d", 2)) for i in range(n)}
    data = DataDir(wav={u: f"{u}.wav" for u in utt2spk}, text={u: "X" for u in utt2spk}, utt2spk=utt2spk)
    parts = split_data(data, 2)
    assert sorted(u for p in parts for u in p.utts) == data.utts  # every utterance once
    assert [sorted(set(p.utt2spk.values())) for p in parts] == [["a", "d"], ["b", "c"]]  # 5+2, 3+2
    assert [len(p) for p in parts] == [7, 5]
    assert len(split_data(data, 10)) == 4  # never more parts than speakers
    by_utt = split_data(data, 5, by_speaker=False)  # one speaker's utterances may part
    assert [len(p) for p in by_utt] == [3, 3, 2, 2, 2] and sorted(u for p in by_utt for u in p.utts) == data.utts


def test_forked_map_returns_what_a_loop_returns_in_order():
    items = list(range(7))
    assert map_forked(lambda x: (x * x, os.getpid()), items, 3)[3][0] == 9
    assert [r[0] for r in map_forked(lambda x: (x * x, os.getpid()), items, 3)] == [x * x for x in items]
    assert os.getpid() not in {pid for _, pid in map_forked(lambda x: (x, os.getpid()), items, 3)}  # forked
    assert map_forked(str, items, 1) == [str(x) for x in items]
    assert {pid for _, pid in map_forked(lambda x: (x, os.getpid()), items, 1)} == {os.getpid()}  # one job: here


def test_a_worker_that_dies_is_an_error_not_a_hang():
    from asr.errors import AsrError

    with pytest.raises(AsrError, match="a worker process died"):
        map_forked(lambda x: os._exit(9) if x == 2 else x, list(range(4)), 2)


@pytest.fixture(scope="module")
def speakers(yesno_exp, tmp_path_factory):
    """yesno test with one speaker per recording: a data dir that splits."""
    data = read_datadir(yesno_exp / "data" / "test")
    data.utt2spk = {u: u for u in data.utts}
    out = tmp_path_factory.mktemp("per_utt_speakers") / "test"
    write_datadir(data, out)
    return out


@pytest.mark.parametrize("system", ["classic", "ctc", "dnnhmm"])
def test_decoding_with_two_jobs_equals_one(yesno_exp, speakers, tmp_path, system):
    from asr.pipelines.decode import decode_datadir

    one = decode_datadir(yesno_exp / system, speakers, tmp_path / "one", device="cpu")
    two = decode_datadir(yesno_exp / system, speakers, tmp_path / "two", device="cpu", jobs=2)
    for name in ("hyp.txt", "ctm"):
        assert (one / name).read_text() == (two / name).read_text(), name


def test_one_speaker_splits_by_utterance_where_the_model_allows(yesno_exp, tmp_path):
    """yesno is one speaker: the ctc model (per-utterance CMVN) still decodes it in 2 processes,
    the classic model (per-speaker CMVN) in one; both as one job does."""
    from asr.pipelines import load
    from asr.pipelines.decode import decode_datadir

    test = read_datadir(yesno_exp / "data" / "test")
    for system, parts in (("ctc", 2), ("classic", 1)):
        scorer = load(yesno_exp / system).scorer
        assert len(split_data(test, 2, by_speaker=scorer.speaker_level)) == parts, system
    one = decode_datadir(yesno_exp / "ctc", yesno_exp / "data" / "test", tmp_path / "one", device="cpu")
    two = decode_datadir(yesno_exp / "ctc", yesno_exp / "data" / "test", tmp_path / "two", device="cpu", jobs=2)
    assert (one / "hyp.txt").read_text() == (two / "hyp.txt").read_text()


def test_tuning_with_two_jobs_equals_one(yesno_exp):
    from asr.pipelines import load

    dev = read_datadir(yesno_exp / "data" / "train")
    grids = {"sil_score": [0.0, 10.0], "lm_weight": [5.0, 10.0], "word_score": [-5.0, 0.0]}
    assert load(yesno_exp / "classic").tune(dev, grids, jobs=2) == load(yesno_exp / "classic").tune(dev, grids)


def test_classic_training_with_two_jobs_equals_one(yesno_exp, tmp_path):
    """Alignments split over two processes, statistics summed in utterance order: the same model."""
    import numpy as np

    from asr.pipelines import classic

    config = {"lexicon": str(yesno_exp / "lang" / "lexicon.txt"), "lm": None, "triphone": True,
              "tri_leaves": 12, "tri_gaussians": 60, "tri_iters": 2, "tri_min_leaf_frames": 30,
              "mono_iters": 3, "mono_gaussians": 40, "sat": True, "sat_iters": 2, "sat_transform_every": 1}
    for jobs in (1, 2):
        classic.train(config, yesno_exp / "data" / "train", tmp_path / f"nj{jobs}", nj=jobs)
    for name in ("gmm.npz", "si_gmm.npz"):
        with np.load(tmp_path / "nj1" / name) as one, np.load(tmp_path / "nj2" / name) as two:
            assert sorted(one.files) == sorted(two.files)
            assert all(np.array_equal(one[k], two[k]) for k in one.files), name
    assert (tmp_path / "nj1" / "tree.json").read_text() == (tmp_path / "nj2" / "tree.json").read_text()
