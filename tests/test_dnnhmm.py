"""The DNN-HMM pipeline: frame targets from the classic model's alignment, scaled likelihoods, the
classic search. References: hand-computed priors and cross-entropy, the alignment's own words
decoded back through an identity network, and the yesno recipe's trained system."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
import yaml

from asr.errors import AsrError
from asr.nn.model import CtcModel, ModelConfig, subsampled_lengths
from asr.nn.train import FrameCriterion, stretch
from asr.pipelines.dnnhmm import count_priors, read_priors


def test_priors_are_add_one_frame_frequencies():
    log_priors = count_priors([[0, 0, 1], [2]], 4)
    assert np.allclose(np.exp(log_priors), np.array([3, 2, 2, 1]) / 8)
    assert np.exp(log_priors).sum() == pytest.approx(1.0)


def test_alignment_is_cut_to_a_near_length_and_stretched_to_a_perturbed_one():
    assert stretch([1, 2, 3], 4).tolist() == [1, 2, 3, 3]  # an extractor's extra frame: padded
    assert stretch([1, 2, 3, 4], 3).tolist() == [1, 2, 3]  # or cut
    assert stretch([1] * 20 + [2] * 2, 20)[-1] == 2  # a short speed-perturbed copy: stretched, not cut
    assert stretch([1, 2, 3, 4, 5], 10).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]  # speed 0.5
    assert stretch([1, 1, 2, 2, 3, 3, 4, 4, 5, 5], 5).tolist() == [1, 2, 3, 4, 5]


def test_frame_criterion_is_the_cross_entropy_of_every_frame():
    torch.manual_seed(0)
    log_probs = torch.randn(2, 6, 5).log_softmax(-1)
    examples = [type("Ex", (), {"targets": [0, 1, 2, 3, 4, 0]})(), type("Ex", (), {"targets": [4, 4, 3]})()]
    out_lengths, in_lengths = torch.tensor([6, 3]), torch.tensor([6, 3])
    nll = -sum(log_probs[0, t, k] for t, k in enumerate([0, 1, 2, 3, 4, 0])) - sum(
        log_probs[1, t, k] for t, k in enumerate([4, 4, 3]))
    assert FrameCriterion(0.0).loss(log_probs, out_lengths, in_lengths, examples).item() == pytest.approx(nll.item(), rel=1e-5)
    # label smoothing eps: (1 - eps) * nll + eps * mean over classes of -log p, per frame
    eps = 0.1
    uniform = -log_probs[0, :6].mean(-1).sum() - log_probs[1, :3].mean(-1).sum()
    expected = (1 - eps) * nll + eps * uniform
    assert FrameCriterion(eps).loss(log_probs, out_lengths, in_lengths, examples).item() == pytest.approx(
        expected.item(), rel=1e-5)
    best = log_probs.argmax(-1)
    wrong = sum(int(best[0, t] != k) for t, k in enumerate([0, 1, 2, 3, 4, 0])) + sum(
        int(best[1, t] != k) for t, k in enumerate([4, 4, 3]))
    assert FrameCriterion().errors(log_probs, out_lengths, in_lengths, examples) == (wrong, 9)


def test_network_outputs_one_frame_per_input_frame():
    config = ModelConfig(input_dim=40, num_outputs=7, frames_per_output=4, d_model=32, num_layers=1,
                         num_heads=2, ffn_dim=64, subsampling_channels=8)
    model = CtcModel(config).eval()
    out, lengths = model(torch.randn(2, 40, 40), torch.tensor([40, 30]))
    assert lengths.tolist() == (4 * subsampled_lengths(torch.tensor([40, 30]))).tolist() == [36, 24]
    assert out.shape == (2, 36, 7) and torch.allclose(out.exp().sum(-1), torch.ones(2, 36), atol=1e-5)
    assert all(n <= t for n, t in zip(lengths.tolist(), [40, 30]))  # never past the input


def test_identity_network_decodes_the_aligned_words(yesno_exp):
    """Posteriors that are the forced alignment itself (one-hot, flat priors), searched as the
    dnnhmm pipeline searches, give back the transcripts that were aligned."""
    from asr.datadir import read_datadir
    from asr.hmm.forced_align import frame_pdfs
    from asr.hmm.scorer import HmmScorer
    from asr.modeldir import read_model_info
    from asr.pipelines import classic

    test = read_datadir(yesno_exp / "data" / "test")
    scorer = HmmScorer(yesno_exp / "classic", read_model_info(yesno_exp / "classic"))
    pdfs = frame_pdfs(scorer, test)
    assert len(pdfs) == len(test.utts)
    search = classic.load(yesno_exp / "classic")
    for utt, path in pdfs.items():
        onehot = np.full((len(path), scorer.model.num_pdfs), -30.0, dtype=np.float32)
        onehot[np.arange(len(path)), path] = 0.0
        assert search.decode(onehot)[0].text == test.text[utt], utt


def test_recipe_system_is_self_contained_and_records_its_aligner(yesno_exp, tmp_path):
    from asr.audio import load_audio
    from asr.datadir import read_datadir
    from asr.pipelines import load

    info = yaml.safe_load((yesno_exp / "dnnhmm" / "model.yaml").read_text())
    assert info["pipeline"] == "dnnhmm" and info["units"]["aligned_with"] == "classic"
    assert info["frame_seconds"] == 0.01 and info["model"]["frames_per_output"] == 4
    priors = read_priors(yesno_exp / "dnnhmm" / info["files"]["priors"], info["units"]["size"])
    assert np.exp(priors).sum() == pytest.approx(1.0)
    copy = tmp_path / "alone"
    shutil.copytree(yesno_exp / "dnnhmm", copy)  # no classic model beside it
    test = read_datadir(yesno_exp / "data" / "test")
    hyp = dict(line.split(" ", 1) for line in (yesno_exp / "dnnhmm" / "decode_test" / "hyp.txt").read_text().splitlines())
    utt = test.utts[0]
    samples, _ = load_audio(test.audio_path(utt), sample_rate=info["sample_rate"])
    recognizer = load(copy)
    assert recognizer.recognize(samples)[0].text == hyp[utt].strip()


@pytest.mark.parametrize("aligner, problem", [("ctc", "dnnhmm targets come from a classic"),
                                              ("nowhere", "no such model directory")])
def test_alignments_must_come_from_a_classic_model(yesno_exp, tmp_path, aligner, problem):
    from asr.pipelines import dnnhmm

    config = {"alignments": str(yesno_exp / aligner), "lm": str(yesno_exp / "lang" / "lm.arpa")}
    with pytest.raises(AsrError, match=problem):
        dnnhmm.train(config, yesno_exp / "data" / "train", tmp_path / "exp", dev_dir=yesno_exp / "data" / "train")
    assert not (tmp_path / "exp").exists()  # refused before any work
