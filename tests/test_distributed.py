"""Training past one process (issue #16): `asr train --nproc 2` (torchrun, gloo, DDP) against one
process on the same global batches, kill -9 of a 2-rank run and its resume, and the batch shards.

The runs draw nothing per utterance on the fly (no dropout, SpecAugment or speed perturbation),
so two ranks and one process do the same arithmetic up to float summation order."""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from asr.nn.checkpoint import load_state, load_weights
from asr.distributed import shard, torchrun_command
from nn_helpers import TINY, yesno_subset

# one worker builds the module's trained models (`--dist loadgroup`), not each
pytestmark = pytest.mark.xdist_group("distributed")

EPOCHS = 6
# Deterministic on the fly: no dropout, no augmentation. Checkpoints kept to compare epochs.
CONFIG = {**TINY, "epochs": EPOCHS, "patience": 100, "keep_checkpoints": True, "average": 1}
# Largest weight difference allowed between one process and two ranks after EPOCHS epochs: each
# batch's gradient is summed in another order (two half-batch sums, then the all-reduce). Measured
# on this machine (Intel Xeon, torch 2.13 CPU): 3.4e-7 after 6 epochs (24 updates).
TOLERANCE = 1e-4


def _sets():
    return [arg for key, value in CONFIG.items() for arg in ("--set", f"{key}={_yaml(value)}")]


def _yaml(value):
    return str(value).lower() if isinstance(value, bool) else value


def _train_argv(few, exp, *extra):
    return ["train", "ctc", str(few), str(exp), "--dev", str(few), *_sets(), *extra]


def _run(argv, **kwargs):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "asr.cli", *argv], env=env, capture_output=True, text=True,
                          timeout=600, **kwargs)


@pytest.fixture(scope="module")
def few(data_root, tmp_path_factory):
    return yesno_subset(data_root, tmp_path_factory.mktemp("ddp"))


@pytest.fixture(scope="module")
def two_ranks(few, tmp_path_factory):
    exp = tmp_path_factory.mktemp("ranks") / "exp"
    result = _run(_train_argv(few, exp, "--nproc", "2"))
    assert result.returncode == 0, result.stderr[-3000:]
    return exp


def _last_epoch(exp):
    return load_weights(exp / "checkpoints" / f"epoch{EPOCHS:03d}.safetensors")


def test_two_ranks_train_the_same_weights_as_one_process(few, two_ranks, tmp_path):
    result = _run(_train_argv(few, tmp_path / "one"))
    assert result.returncode == 0, result.stderr[-3000:]
    one, two = _last_epoch(tmp_path / "one"), _last_epoch(two_ranks)
    assert one.keys() == two.keys()
    worst = max(float((one[k].float() - two[k].float()).abs().max()) for k in one)
    assert worst < TOLERANCE, worst
    assert any(float((one[k] - load_weights(tmp_path / "one" / "checkpoints" / "epoch001.safetensors")[k])
                     .abs().max()) > 1e-2 for k in one)  # the weights did move: the comparison means something
    history_one = load_state(tmp_path / "one" / "checkpoints" / "state.pt")["history"]
    history_two = load_state(two_ranks / "checkpoints" / "state.pt")["history"]
    assert [h["step"] for h in history_one] == [h["step"] for h in history_two]  # same global batches
    assert [h["dev_ter"] for h in history_one] == pytest.approx([h["dev_ter"] for h in history_two], abs=1e-6)


def test_only_rank_zero_writes_the_model_dir(two_ranks):
    assert (two_ranks / "model.yaml").is_file() and (two_ranks / "model.safetensors").is_file()
    assert not list(two_ranks.glob("*.tmp*"))


def test_kill_9_of_two_ranks_resumes_to_the_uninterrupted_weights(few, two_ranks, tmp_path):
    exp = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = torchrun_command(2, _train_argv(few, exp))
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = exp / "checkpoints" / "state.pt"
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if state.is_file() and load_state(state)["epoch"] >= 2:
            break
        time.sleep(0.2)
    assert process.poll() is None, "training ended before it could be killed"
    for pid in [process.pid, *_descendants(process.pid)]:  # the launcher and both ranks (torchrun
        os.kill(pid, signal.SIGKILL)  # starts the ranks in sessions of their own), as a power cut would
    process.wait()
    killed_at = load_state(state)["epoch"]
    assert 2 <= killed_at < EPOCHS

    result = _run(_train_argv(few, exp, "--nproc", "2"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming" in result.stdout + result.stderr
    resumed, uninterrupted = _last_epoch(exp), _last_epoch(two_ranks)
    for key in uninterrupted:
        assert torch.equal(resumed[key], uninterrupted[key]), key


def _descendants(pid: int) -> list[int]:
    """Every process under `pid` (from /proc: Linux)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


@pytest.mark.parametrize("items, world", [(list(range(7)), 2), (list(range(1)), 2), (list(range(10)), 3),
                                          (list(range(4)), 4), (list(range(5)), 1)])
def test_shards_are_disjoint_and_complete(items, world):
    shares = [shard(items, r, world) for r in range(world)]
    flat = [x for share in shares for x in share]
    assert sorted(flat) == items and len(flat) == len(set(flat))
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_nproc_is_checked_before_any_work(few, tmp_path):
    for bad in ("0", "two"):
        result = _run(_train_argv(few, tmp_path / "exp", "--nproc", bad))
        assert result.returncode != 0
        assert len(result.stderr.strip().splitlines()) == 1 and "--nproc" in result.stderr
    result = _run(["train", "classic", str(few), str(tmp_path / "c"), "--nproc", "2"])  # no lexicon
    assert result.returncode != 0 and result.stderr.strip().splitlines() == ["asr: error: --set: lexicon: required "
                                                                           "(a pronunciation lexicon file)"]
    assert not (tmp_path / "exp").exists() and not (tmp_path / "c").exists()


def test_conformer_batchnorm_is_synchronised_on_gpus_only(monkeypatch):
    from asr.distributed import sync_batchnorm
    from asr.nn.model import CtcModel, ModelConfig

    def batchnorms(model):
        return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]

    model = CtcModel(ModelConfig(num_outputs=5, encoder="conformer", d_model=32, num_layers=1, ffn_dim=32,
                                 subsampling_channels=4))
    params = dict(model.named_parameters())
    assert batchnorms(model) and sync_batchnorm(model, torch.device("cuda")) is model  # one process: as it is
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert not any(isinstance(m, torch.nn.SyncBatchNorm) for m in batchnorms(sync_batchnorm(model, torch.device("cpu"))))
    synced = sync_batchnorm(model, torch.device("cuda"))  # converting needs no GPU; running it does
    assert all(isinstance(m, torch.nn.SyncBatchNorm) for m in batchnorms(synced))
    assert all(p is params[name] for name, p in synced.named_parameters())  # the optimizer's parameters
    assert set(synced.state_dict()) == set(CtcModel(model.config).state_dict())  # weights load either way


def test_classic_model_of_two_ranks_equals_one_process(few, tmp_path):
    """Kaldi's split / accumulate / sum under torchrun: each rank aligns and accumulates half of
    yesno's 30 training recordings, the statistics are summed over the ranks (monophones,
    triphones, then SAT with fMLLR statistics split by speaker). Same tree and Gaussian counts;
    GMM parameters equal up to float rounding: a half-size batch of frames takes other BLAS
    kernels for the float32 log-likelihoods, and the iterations carry the difference on. Measured
    on this machine (Intel Xeon, numpy's OpenBLAS): largest difference 4.7e-6 (SAT variances),
    1.6e-7 before SAT; bound 1e-4 of the parameters' scale."""
    import numpy as np

    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("YES Y EH S\nNO N OW\n")
    sets = {"lexicon": lexicon, "lm": "null", "triphone": "true", "tri_leaves": 12, "tri_gaussians": 60,
            "tri_iters": 2, "tri_min_leaf_frames": 30, "mono_iters": 3, "mono_gaussians": 40, "sat": "true",
            "sat_iters": 2, "sat_transform_every": 1}
    argv = [arg for key, value in sets.items() for arg in ("--set", f"{key}={value}")]
    train = few.parent / "prepared" / "train"
    for nproc in (1, 2):
        result = _run(["train", "classic", str(train), str(tmp_path / f"nproc{nproc}"), "--nproc", str(nproc), *argv])
        assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "nproc1" / "tree.json").read_text() == (tmp_path / "nproc2" / "tree.json").read_text()
    for name in ("gmm.npz", "si_gmm.npz"):
        with np.load(tmp_path / "nproc1" / name) as one, np.load(tmp_path / "nproc2" / name) as two:
            assert sorted(one.files) == sorted(two.files)
            for key in one.files:
                scale = max(1.0, float(np.abs(one[key]).max()))
                assert np.abs(two[key] - one[key]).max() <= 1e-4 * scale, f"{name} {key}"


def test_a_rank_that_fails_is_one_line_and_no_traceback(few, tmp_path):
    """Unreadable audio under --nproc 2: rank 0 names the file; the rank that lost its connection
    and the launcher add nothing."""
    bad = tmp_path / "few"
    shutil.copytree(few, bad)
    (tmp_path / "noise.wav").write_bytes(bytes(range(256)) * 4)
    lines = (bad / "wav.scp").read_text().splitlines()
    utt = lines[0].split()[0]
    (bad / "wav.scp").write_text("\n".join([f"{utt} {tmp_path / 'noise.wav'}"] + lines[1:]) + "\n")
    result = _run(["train", "ctc", str(bad), str(tmp_path / "exp"), "--dev", str(bad), *_sets(), "--nproc", "2"])
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"asr: error: {tmp_path / 'noise.wav'}: not a readable audio file "
                                                  "(Format not recognised)"]
