"""GMM-HMM building blocks (asr.hmm) against independent references on real yesno audio.

References: scipy's multivariate normal density, numpy's mean/variance, brute-force enumeration of
every monotone state path, and direct likelihoods for the decision-tree gain.
"""
import itertools
from pathlib import Path

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from asr.errors import AsrError
from asr.hmm.align import UttGraph, equal_alignment, segments, utterance_graph, viterbi
from asr.hmm.gmm import DiagGmms
from asr.hmm.model import AcousticModel
from asr.hmm.train import TrainingSet, context_stats, train_monophone, train_triphone
from asr.hmm.tree import BOUNDARY, NUM_STATES, SILENCE_PDF, ContextTree, gaussian_loglik, grow_trees, phone_questions

YESNO_LEXICON = {"YES": [("Y", "EH", "S")], "NO": [("N", "OW")]}  # CMUdict's pronunciations
YESNO_PHONES = ["EH", "N", "OW", "S", "Y"]


@pytest.fixture(scope="module")
def yesno(data_root, tmp_path_factory):
    from asr.corpora import prepare
    from asr.datadir import read_datadir
    from asr.features import FeatureConfig, load_features

    dirs = prepare("yesno", data_root / "yesno", tmp_path_factory.mktemp("yesno"))
    train = read_datadir(dirs["train"])
    feats = load_features(train, FeatureConfig(sample_rate=8000))
    return TrainingSet.build(feats, train.text, YESNO_LEXICON)


@pytest.fixture(scope="module")
def mono(yesno):
    return train_monophone(yesno, YESNO_PHONES, num_iters=8, total_gaussians=60)


def test_gmm_loglik_matches_scipy(yesno):
    x = yesno.feats[yesno.utts[0]][:50].astype(np.float64)
    rng = np.random.default_rng(0)
    means = x[rng.choice(len(x), 5, replace=False)]
    variances = x.var(0) * rng.uniform(0.5, 2.0, size=(5, x.shape[1]))
    weights = np.array([0.3, 0.7, 0.2, 0.5, 0.3])
    gmm = DiagGmms(means, variances, weights, np.array([0, 2, 5]))  # pdf 0: two Gaussians, pdf 1: three
    ours = gmm.loglik(x)
    for pdf, (lo, hi) in enumerate([(0, 2), (2, 5)]):
        dens = np.stack([np.log(weights[g]) + multivariate_normal(means[g], np.diag(variances[g])).logpdf(x)
                         for g in range(lo, hi)], axis=1)
        np.testing.assert_allclose(ours[:, pdf], logsumexp(dens, axis=1), rtol=1e-4)
    np.testing.assert_allclose(gmm.loglik(x, np.array([1])), ours[:, 1:], rtol=1e-6)


def test_single_gaussian_update_is_sample_mean_and_variance(yesno):
    x = np.concatenate([yesno.feats[u] for u in yesno.utts[:3]]).astype(np.float64)
    labels = (np.arange(len(x)) % 2).astype(int)
    gmm = DiagGmms(np.zeros((2, x.shape[1])), np.ones((2, x.shape[1])), np.ones(2), np.array([0, 1, 2]))
    gmm.update(gmm.accumulate(x, labels), np.full(x.shape[1], 1e-6))
    for p in range(2):
        np.testing.assert_allclose(gmm.means[p], x[labels == p].mean(0), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(gmm.variances[p], x[labels == p].var(0), rtol=1e-6)


def test_mix_up_reaches_target_and_keeps_weights_normalised(yesno):
    gmm = DiagGmms(np.zeros((3, 2)), np.ones((3, 2)), np.ones(3), np.array([0, 1, 2, 3]))
    gmm.mix_up(12, np.array([1000.0, 1000.0, 1000.0]))
    assert gmm.num_gaussians == 12
    for p in range(3):
        assert gmm.weights[gmm.offsets[p]:gmm.offsets[p + 1]].sum() == pytest.approx(1.0)


def brute_force(emissions: np.ndarray, graph: UttGraph, loop: np.ndarray, leave: np.ndarray, sil: float):
    """Best score over every monotone path (stay, advance, or skip one optional silence)."""
    n = len(graph.pdfs)
    best = (-np.inf, None)
    for path in itertools.combinations_with_replacement(range(n), len(emissions)):  # non-decreasing
        if path[0] > 1 or (path[0] == 1 and not graph.optional[0]):
            continue
        if path[-1] < n - 2 or (path[-1] == n - 2 and not graph.optional[n - 1]):
            continue
        score = np.log(sil) if (path[0] == 0 and graph.optional[0]) else 0.0
        score += np.log(1 - sil) if path[0] == 1 else 0.0
        ok = True
        for a, b in zip(path, path[1:]):
            if b == a:
                score += loop[graph.pdfs[a]]
            elif b == a + 1:
                score += leave[graph.pdfs[a]] + (np.log(sil) if graph.optional[b] else 0.0)
            elif b == a + 2 and graph.optional[a + 1]:
                score += leave[graph.pdfs[a]] + np.log(1 - sil)
            else:
                ok = False
                break
        if ok:
            score += sum(emissions[t, s] for t, s in enumerate(path))
            if score > best[0]:
                best = (score, path)
    return best


def test_viterbi_equals_exhaustive_search():
    from asr.hmm.align import SILENCE_PROB

    tree = ContextTree.monophone(["AH", "B"])
    rng = np.random.default_rng(1)
    for prons, frames in [([("AH",)], 5), ([("B",), ("AH",)], 8), ([("AH", "B")], 7)]:
        graph = utterance_graph(prons, tree)
        emissions = rng.normal(0, 3, size=(frames, len(graph.pdfs)))
        loop = np.log(rng.uniform(0.3, 0.9, tree.num_pdfs))
        leave = np.log1p(-np.exp(loop))
        [(path, score)] = viterbi([emissions], [graph], loop, leave)
        best_score, best_path = brute_force(emissions, graph, loop, leave, SILENCE_PROB)
        assert score == pytest.approx(best_score, rel=1e-6)
        assert tuple(path) == best_path


def test_viterbi_batch_equals_one_at_a_time():
    tree = ContextTree.monophone(["AH", "B"])
    rng = np.random.default_rng(2)
    graphs = [utterance_graph(p, tree) for p in ([("AH",)], [("B", "AH"), ("B",)], [("AH", "B")])]
    emissions = [rng.normal(0, 3, size=(t, len(g.pdfs))) for t, g in zip((9, 30, 4), graphs)]
    loop = np.full(tree.num_pdfs, np.log(0.6))
    leave = np.full(tree.num_pdfs, np.log(0.4))
    together = viterbi(emissions, graphs, loop, leave)
    for e, g, (path, score) in zip(emissions, graphs, together):
        [(alone, alone_score)] = viterbi([e], [g], loop, leave)
        assert score == pytest.approx(alone_score)
        np.testing.assert_array_equal(path, alone)
    assert together[2] == (None, -np.inf)  # 4 frames cannot pass the 6 states of "AH B"


def test_alignment_is_monotone_and_covers_every_frame(yesno, mono):
    model, ali = mono
    assert set(ali.states) == set(yesno.utts)
    for utt in yesno.utts:
        states, graph = ali.states[utt], ali.graphs[utt]
        assert len(states) == len(yesno.feats[utt])
        steps = np.diff(states)
        assert np.all((steps >= 0) & (steps <= 2))
        assert np.all(graph.optional[states[1:][steps == 2] - 1])  # a skip only over an optional silence
        assert states[0] <= 1 and states[-1] >= len(graph.pdfs) - 2
        visited = set(states.tolist())
        assert all(i in visited for i in range(len(graph.pdfs)) if not graph.optional[i])
        words = [w for w, _, _ in segments(graph.word[states]) if w >= 0]
        assert words == list(range(len(yesno.prons(utt))))


def test_training_raises_likelihood_and_learns_silence(yesno, mono):
    model, ali = mono
    flat = TrainingSet(yesno.feats, yesno.variants)
    from asr.hmm.train import align, flat_start

    start = align(flat_start(flat, YESNO_PHONES, flat.variance_floor()), flat)
    assert ali.loglik_per_frame > start.loglik_per_frame + 2
    # yesno recordings start and end with silence: the first and last frames align to it
    first = [ali.graphs[u].pdfs[ali.states[u][0]] for u in yesno.utts]
    assert np.mean(np.array(first) == SILENCE_PDF) > 0.8


def test_equal_alignment_shares_frames():
    tree = ContextTree.monophone(["AH"])
    graph = utterance_graph([("AH",)], tree, optional_silence=False)  # SIL AH.0 AH.1 AH.2 SIL
    states = equal_alignment(graph, 26)
    assert np.bincount(states).tolist() == [10, 2, 2, 2, 10]  # silence weighs as five states
    assert equal_alignment(graph, 4) is None


def test_tree_gain_and_leaf_counts(yesno, mono):
    model, ali = mono
    stats, _ = context_stats(yesno, ali)
    floor = yesno.variance_floor()
    questions = phone_questions(YESNO_PHONES, np.random.default_rng(0).normal(size=(5, 6)))
    tree = grow_trees(stats, YESNO_PHONES, questions, max_leaves=20, min_count=30, variance_floor=floor)
    assert len(YESNO_PHONES) * NUM_STATES <= tree.num_pdfs - 1 <= 20
    # every leaf holds at least min_count frames of the contexts it was grown from
    counts = np.zeros(tree.num_pdfs)
    for (k, phone, left, right), s in stats.items():
        counts[tree.pdf(left, phone, right, k)] += s.count
    assert counts[1:].min() >= 30
    # the split likelihoods agree with a direct computation over the frames
    key = next(iter(stats))
    s = stats[key]
    mean, var = s.sum / s.count, np.maximum(s.sumsq / s.count - (s.sum / s.count) ** 2, floor)
    assert gaussian_loglik(s.count, s.sum, s.sumsq, floor) == pytest.approx(
        -0.5 * (s.count * np.log(2 * np.pi * var).sum()
                + ((s.sumsq - 2 * mean * s.sum + s.count * mean ** 2) / var).sum()),
        rel=1e-6)


def test_word_spellings_never_repeat_a_pdf(yesno, mono):
    model, ali = mono
    tri, _ = train_triphone(model, yesno, ali, num_leaves=25, total_gaussians=80, num_iters=3, min_leaf_frames=30)
    for prons in YESNO_LEXICON.values():
        for pron in prons:
            pdfs = tri.tree.word_pdfs(pron)
            assert len(pdfs) == NUM_STATES * len(pron)
            assert all(a != b for a, b in zip(pdfs, pdfs[1:]))
            assert SILENCE_PDF not in pdfs
    # word-internal context: a word's first phone sees the word boundary on its left
    assert tri.tree.pdf(BOUNDARY, "Y", "EH", 0) == tri.tree.word_pdfs(("Y", "EH", "S"))[0]


def test_model_round_trip_and_damaged_files(mono, tmp_path):
    model, _ = mono
    model.save(tmp_path)
    again = AcousticModel.load(tmp_path)
    np.testing.assert_array_equal(again.gmm.means, model.gmm.means)
    np.testing.assert_array_equal(again.self_loop, model.self_loop)
    assert again.tree.to_json() == model.tree.to_json()
    data = (tmp_path / "gmm.npz").read_bytes()
    (tmp_path / "gmm.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(AsrError, match="gmm.npz"):
        AcousticModel.load(tmp_path)
    (tmp_path / "tree.json").write_text('{"phones": [], "roots": 3}')
    with pytest.raises(AsrError, match="tree.json"):
        ContextTree.load(Path(tmp_path / "tree.json"))


def test_fmllr_one_dimension_matches_closed_form(yesno):
    """Under N(0, 1) the best y = a x + b for frames of mean m and deviation s is a = 1/s, b = -m/s."""
    from asr.hmm import fmllr

    x = yesno.feats[yesno.utts[0]][:, :1].astype(np.float64) * 3.0 + 2.0
    gmm = DiagGmms(np.zeros((1, 1)), np.ones((1, 1)), np.ones(1), np.array([0, 1]))
    stats = fmllr.FmllrStats.zeros(1)
    fmllr.accumulate(stats, gmm, x, np.zeros(len(x), dtype=int))
    w = fmllr.estimate(stats)
    assert w[0, 0] == pytest.approx(1 / x.std(), rel=1e-6)
    assert w[0, 1] == pytest.approx(-x.mean() / x.std(), rel=1e-6)


def test_fmllr_whitens_and_raises_the_objective(yesno):
    """Under a standard normal model the optimum maps the frames to zero mean and unit covariance
    (any rotation of that is optimal too, so the test checks the moments, not W)."""
    from asr.hmm import fmllr

    x = np.concatenate([yesno.feats[u][:, :4] for u in yesno.utts[:5]]).astype(np.float64)
    x = x @ np.array([[1.5, 0.3, 0, 0], [0, 0.7, 0.2, 0], [0.1, 0, 1.2, 0], [0, 0, 0.4, 2.0]]).T + 1.0
    gmm = DiagGmms(np.zeros((1, 4)), np.ones((1, 4)), np.ones(1), np.array([0, 1]))
    stats = fmllr.FmllrStats.zeros(4)
    fmllr.accumulate(stats, gmm, x, np.zeros(len(x), dtype=int))
    identity = np.hstack([np.eye(4), np.zeros((4, 1))])
    one_pass = fmllr.estimate(stats, iters=1)
    w = fmllr.estimate(stats)
    assert fmllr.objective(identity, stats) < fmllr.objective(one_pass, stats) <= fmllr.objective(w, stats) + 1e-6
    y = fmllr.apply(w, x).astype(np.float64)
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-3)
    np.testing.assert_allclose(np.cov(y.T, bias=True), np.eye(4), atol=1e-3)


def test_splice_repeats_edges():
    from asr.hmm.lda import splice

    x = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(splice(x, 1), [[0, 1, 0, 1, 2, 3], [0, 1, 2, 3, 4, 5], [2, 3, 4, 5, 4, 5]])


def test_lda_whitens_within_class_scatter(yesno, mono):
    """The LDA rows solve B v = l W v: projected, the within-class covariance is the identity and the
    between-class covariance is diagonal, in decreasing order (scipy's generalised eigensolver checked
    against these defining properties)."""
    from asr.hmm.lda import estimate_lda, splice

    _, ali = mono
    x = np.concatenate([splice(yesno.feats[u][:, :13].astype(np.float64), 1) for u in ali.states])
    labels = np.concatenate([ali.pdfs(u) for u in ali.states])
    a = estimate_lda(x, labels, dim=10)
    y = x @ a.T
    classes, index = np.unique(labels, return_inverse=True)
    means = np.stack([y[labels == c].mean(0) for c in classes])
    within = np.cov((y - means[index]).T, bias=True)
    between = np.cov(y.T, bias=True) - within
    np.testing.assert_allclose(within, np.eye(10), atol=1e-3)
    np.testing.assert_allclose(between, np.diag(np.diag(between)), atol=1e-3)
    assert np.all(np.diff(np.diag(between)) <= 1e-9)


def test_mllt_diagonalises_a_single_full_covariance(yesno):
    """With one Gaussian the semi-tied optimum makes its covariance diagonal: T cov T' has no
    off-diagonal mass left, and the diagonal-Gaussian likelihood rises accordingly."""
    from asr.hmm.lda import FullStats, estimate_mllt

    x = np.concatenate([yesno.feats[u][:, :6] for u in yesno.utts[:5]]).astype(np.float64)
    stats = FullStats(np.array([float(len(x))]), x.sum(0)[None], (x.T @ x)[None])
    t = estimate_mllt(stats, passes=30)
    cov = np.cov(x.T, bias=True)
    rotated = t @ cov @ t.T
    off = rotated - np.diag(np.diag(rotated))
    assert np.abs(off).max() < 1e-3 * np.abs(np.diag(rotated)).max()

    def diag_loglik(m):  # per frame, up to a constant: log|det T| - 1/2 sum_i log (T cov T')_ii
        return np.linalg.slogdet(m)[1] - 0.5 * np.log(np.diag(m @ cov @ m.T)).sum()

    assert diag_loglik(t) > diag_loglik(np.eye(6)) + 0.1
