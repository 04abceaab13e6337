"""Learning-curve laws (asr.learning_law) on synthetic curves whose truth is known: the fit recovers
the parameters and its bootstrap intervals cover them at about the stated rate, the crossover solver
finds a known crossing and says "none" where there is none, the hold-out check predicts a held-out
size, and bad input is a one-line AsrError."""
import numpy as np
import pytest

from asr import learning_law
from asr.errors import AsrError
from asr.learning_law import (Law, analyse, bootstrap, compare_pair, crossings, fit_curve, fit_law,
                              hold_out_largest, make_curve)

TRUE = Law(a=10.0, b=0.5, c=5.0)  # 36.6% at 0.1 h, 15% at 1 h, tending to 5%
HOURS = np.array([0.1, 0.2, 0.4, 0.8, 1.6, 3.2])  # six doublings, as a recipe's nested subsets
UTTERANCES = 200  # test utterances of 3-12 words: about 1,500 words, WER noise ~1 point


def test_words(rng, utterances: int = UTTERANCES) -> np.ndarray:
    return rng.integers(3, 13, utterances)


test_words.__test__ = False  # a helper, not a test


def synthetic_curve(name, law, hours, rng, words):
    """Per-utterance errors drawn word by word at the law's WER: what a scored decode dir holds."""
    p = np.clip(law.wer(np.asarray(hours)) / 100, 0, 1)
    errors = rng.binomial(words[None, :], p[:, None])
    return make_curve(name, hours, 100 * errors.sum(axis=1) / words.sum(), errors, words)


# ---------------------------------------------------------------- the fit and its intervals

def test_fit_recovers_an_exact_law():
    fit = fit_law(HOURS, TRUE.wer(HOURS))
    assert fit.converged and fit.rms < 1e-6 and fit.at_bound == ()
    np.testing.assert_allclose([fit.law.a, fit.law.b, fit.law.c], [TRUE.a, TRUE.b, TRUE.c], rtol=1e-4)


def test_fit_keeps_to_its_constraints():
    # WER that rises with data: the law can only fall, so it goes flat (b at its smallest) with the
    # floor at the lowest measured WER, and says those values came from the bounds
    fit = fit_law([0.1, 0.2, 0.4], [10.0, 12.0, 14.0])
    assert fit.converged and fit.law.c <= 10.0 + 1e-9 and fit.law.a >= 0
    assert f"b={learning_law.B_MIN:g}" in fit.at_bound and "c=min WER" in fit.at_bound
    # a cliff steeper than b = 3 allows
    fit = fit_law([1, 2, 4], [80.0, 5.0, 4.0])
    assert fit.law.b == pytest.approx(learning_law.B_MAX) and "b=3" in fit.at_bound


def test_utterance_bootstrap_intervals_cover_the_truth_at_about_95_percent():
    """40 synthetic test sets, each fitted with 150 replicates. Stated rate 95%; accepted: at least
    85% for each parameter (40 draws at a true 95% fall below 85% with probability 0.3%),
    with intervals narrow enough to mean something. The misfit check, wrong 1% of the time by
    design, may flag a draw or two (here: one). With this seed the rates are 90%, 90% and 92.5%."""
    rng = np.random.default_rng(123)
    draws, replicates = 40, 150
    covered = np.zeros(3)
    estimates, b_widths, misfits = [], [], 0
    for d in range(draws):
        curve = synthetic_curve("s", TRUE, HOURS, rng, test_words(rng))
        fitted = fit_curve(curve, replicates=replicates, seed=d)
        assert fitted.boot.method == "utterances" and fitted.boot.failed == 0
        misfits += bool(fitted.misfit)
        estimates.append([fitted.fit.law.a, fitted.fit.law.b, fitted.fit.law.c])
        for i, (name, truth) in enumerate(zip("abc", (TRUE.a, TRUE.b, TRUE.c))):
            low, high = fitted.interval(name)
            covered[i] += low <= truth <= high
        b_widths.append(np.subtract(*fitted.interval("b")[::-1]))
    np.testing.assert_allclose(np.median(estimates, axis=0), [TRUE.a, TRUE.b, TRUE.c], rtol=0.25)
    assert np.all(covered / draws >= 0.85), covered / draws
    assert misfits <= 2
    assert np.median(b_widths) < 0.4  # b is known to about +-0.2, not "anything in (0, 3]"


def test_residual_bootstrap_intervals_cover_the_truth():
    """Without per-utterance scores: Gaussian noise of 0.5 points on six sizes, 30 draws of 100
    replicates. Residuals from 3 degrees of freedom are a rough noise estimate, so accepted: at
    least 80% for each parameter, against the stated 95% (with this seed 93%, 97%, 93%)."""
    rng = np.random.default_rng(7)
    draws = 30
    covered = np.zeros(3)
    for d in range(draws):
        curve = make_curve("s", HOURS, TRUE.wer(HOURS) + rng.normal(0, 0.5, len(HOURS)))
        fitted = fit_curve(curve, replicates=100, seed=d)
        assert fitted.boot.method == "residuals" and not fitted.misfit  # no test-set noise to judge by
        for i, (name, truth) in enumerate(zip("abc", (TRUE.a, TRUE.b, TRUE.c))):
            low, high = fitted.interval(name)
            covered[i] += low <= truth <= high
    assert np.all(covered / draws >= 0.8), covered / draws


def test_counts_bootstrap_for_wers_from_a_table():
    """Only the test set's size known: error counts redrawn (Poisson) around the fitted curve's.
    20 draws of Poisson noise on 1,500 words, 100 replicates each; accepted: at least 80% coverage
    of each parameter (stated rate 95%; 20 draws at a true 95% fall below 80% with probability
    0.3%; with this seed 90%, 85%, 90%)."""
    rng = np.random.default_rng(11)
    words, draws = 1500, 20
    covered = np.zeros(3)
    for d in range(draws):
        wer = 100 * rng.poisson(TRUE.wer(HOURS) / 100 * words) / words
        fitted = fit_curve(make_curve("s", HOURS, wer, test_words=words), replicates=100, seed=d)
        assert fitted.boot.method == "counts"
        # the noise it assumed: a Poisson count's around the fitted curve, sqrt(errors) / words
        expected = fitted.fit.law.wer(HOURS) / 100 * words
        np.testing.assert_allclose(fitted.boot.wer_sd, 100 * np.sqrt(expected) / words, rtol=0.25)
        for i, (name, truth) in enumerate(zip("abc", (TRUE.a, TRUE.b, TRUE.c))):
            low, high = fitted.interval(name)
            covered[i] += low <= truth <= high
    assert np.all(covered / draws >= 0.8), covered / draws
    held = hold_out_largest(make_curve("s", HOURS, TRUE.wer(HOURS), test_words=words), replicates=50)
    assert held.method == "counts" and held.covered and abs(held.error) < 1e-3
    with pytest.raises(AsrError, match="test_words must be a whole number >= 1"):
        make_curve("s", HOURS, TRUE.wer(HOURS), test_words=0)
    with pytest.raises(AsrError, match="test_words is for curves without per-utterance scores"):
        make_curve("s", [0.1, 0.2, 0.4], [20.0, 10.0, 0.0], np.array([[1], [1], [0]]) * [1, 1] / 1,
                   np.array([5, 5]), test_words=10)


def test_three_sizes_without_per_utterance_scores_have_no_interval():
    curve = make_curve("s", HOURS[:3], TRUE.wer(HOURS[:3]))
    fitted = fit_curve(curve, replicates=50)
    assert fitted.boot.method == "none" and len(fitted.boot.params) == 0
    assert "no interval" in fitted.boot.note and fitted.interval("a") is None


def test_failed_replicates_are_counted_and_left_out():
    # two of three test utterances have no words: a resample of only those has no WER, about
    # (2/3)^3 = 30% of replicates
    words = np.array([5, 0, 0])
    errors = np.array([[4], [2], [1]]) * np.array([[1, 0, 0]])
    curve = make_curve("s", [0.1, 0.2, 0.4], 100 * errors.sum(axis=1) / 5, errors, words)
    boot = bootstrap(curve, fit_law(curve.hours, curve.wer), replicates=300, seed=0)
    assert 0.2 < boot.failed / 300 < 0.4
    assert len(boot.valid) == 300 - boot.failed and np.isfinite(boot.valid).all()


def test_a_fit_the_solver_gives_up_on_is_reported_not_used(monkeypatch):
    class GaveUp:
        x, fun, success = np.array([1.0, 0.5, 1.0]), np.zeros(3), False

    monkeypatch.setattr(learning_law, "least_squares", lambda *args, **kwargs: GaveUp())
    fit = fit_law(HOURS[:3], TRUE.wer(HOURS[:3]))
    assert not fit.converged
    fitted = fit_curve(make_curve("s", HOURS, TRUE.wer(HOURS)), replicates=10)
    assert fitted.boot is None and "did not converge" in fitted.note


def test_a_law_that_misses_the_points_is_flagged():
    # WER rising with data by far more than the test-set noise: the law (falling) cannot follow
    rising = Law(a=0.0, b=1.0, c=0.0)
    rng = np.random.default_rng(1)
    words = test_words(rng)
    errors = np.stack([rng.binomial(words, p) for p in (0.05, 0.10, 0.20)])
    curve = make_curve("up", HOURS[:3], 100 * errors.sum(axis=1) / words.sum(), errors, words)
    fitted = fit_curve(curve, replicates=50)
    assert fitted.misfit.startswith("misses the measured") and rising.a == 0
    other = fit_curve(synthetic_curve("down", TRUE, HOURS[:3], rng, words), replicates=50)
    x = compare_pair(fitted, other)
    assert x.verdict == "cannot tell" and "does not fit up" in x.sentence and x.reach is None


# ---------------------------------------------------------------- crossovers

# A = 10 h^-0.5 + 5 and B = 40 h^-1 meet where 10 h^-0.5 + 5 = 40 h^-1: at h = 4 both are 10%
# (B is worse below, better above)
LAW_A = TRUE
LAW_B = Law(a=40.0, b=1.0, c=0.0)


def test_crossing_of_two_known_laws():
    (h,) = crossings(LAW_A, LAW_B, 0.1, 10_000)
    assert h == pytest.approx(4.0, rel=1e-3)
    assert crossings(LAW_B, LAW_A, 0.1, 10_000) == pytest.approx([h])


def test_no_crossing_in_range():
    assert crossings(LAW_A, LAW_B, 0.1, 3.0) == []  # the crossing at 4 h is past the range
    assert crossings(LAW_A, Law(20.0, 0.5, 6.0), 0.1, 10_000) == []  # always 10 h^-0.5 + 1 apart
    assert crossings(LAW_A, LAW_A, 0.1, 10_000) == []  # the same curve: never apart, no crossing


def test_crossing_and_crossing_back():
    # a steep curve with a higher floor starts worse, passes A, and falls back behind it
    steep = Law(a=3.0, b=2.0, c=6.0)
    found = crossings(LAW_A, steep, 0.1, 10_000)
    assert len(found) == 2 and found[0] < found[1]
    for h in found:
        assert LAW_A.wer(h) == pytest.approx(steep.wer(h), abs=1e-3)


def test_bad_search_range():
    with pytest.raises(AsrError, match="0 < low < high"):
        crossings(LAW_A, LAW_B, 0.0, 10.0)


def paired_fits(law_a, law_b, hours, seed=0, replicates=200):
    """Two systems scored on one synthetic test set, fitted with the paired utterance bootstrap."""
    rng = np.random.default_rng(seed)
    words = test_words(rng, 400)
    return (fit_curve(synthetic_curve("a", law_a, hours, rng, words), replicates=replicates),
            fit_curve(synthetic_curve("b", law_b, hours, rng, words), replicates=replicates))


def test_predicted_crossover_with_its_interval():
    # measured from 0.5 to 2 h, the crossing at 4 h lies past the measured range
    fa, fb = paired_fits(LAW_A, LAW_B, [0.5, 1.0, 2.0, 3.0])
    x = compare_pair(fa, fb)
    assert x.verdict == "crosses", x.sentence
    assert x.interval[0] < 4.0 < x.interval[1] and x.interval[1] / x.interval[0] < 4
    assert x.share >= learning_law.AGREEMENT and x.better_first == "a"
    assert "predicted crossover at" in x.sentence and "a is better below, b above" in x.sentence
    # the difference is told apart from the measured 3 h until close to the crossing
    assert x.reach_better == "a" and 3.0 <= x.reach < 4.0


def test_no_predicted_crossover_and_the_reach_of_the_extrapolation():
    fa, fb = paired_fits(LAW_A, Law(20.0, 0.5, 15.0), HOURS[:4])  # 10 h^-0.5 + 10 apart
    x = compare_pair(fa, fb)
    assert x.verdict == "none in range" and x.fitted == [] and "a stays better" in x.sentence
    assert x.reach_better == "a" and x.reach > HOURS[3]
    assert "band of their difference excludes zero" in x.reach_sentence


def test_curves_the_data_cannot_tell_apart():
    # the same system twice: every difference is noise
    fa, fb = paired_fits(LAW_A, LAW_A, HOURS[:4], seed=3)
    x = compare_pair(fa, fb)
    assert x.verdict == "cannot tell" and "the data cannot tell" in x.sentence
    assert x.reach is None and "includes zero already at 0.8 h" in x.reach_sentence


# ---------------------------------------------------------------- hold-out validation

def test_hold_out_predicts_the_largest_size():
    rng = np.random.default_rng(5)
    curve = synthetic_curve("s", TRUE, HOURS, rng, test_words(rng, 400))
    held = hold_out_largest(curve, replicates=200)
    assert held.hours == HOURS[-1] and held.measured == curve.wer[-1] and held.method == "utterances"
    assert abs(held.error) < 1.5 and held.covered
    assert held.interval[0] < TRUE.wer(HOURS[-1]) < held.interval[1]


def test_hold_out_catches_a_curve_that_bends_away_from_the_law():
    # the largest size levels off far above where the smaller sizes point
    wer = TRUE.wer(HOURS[:4]).tolist() + [TRUE.wer(HOURS[4]) + 5.0]
    curve = make_curve("s", HOURS[:5], np.array(wer) + [0.1, -0.1, 0.1, -0.1, 0.0])
    held = hold_out_largest(curve, replicates=200)
    assert held.method == "residuals" and held.error < -4 and held.covered is False


def test_hold_out_needs_four_sizes():
    with pytest.raises(AsrError, match="at least 4 sizes, got 3"):
        hold_out_largest(make_curve("s", HOURS[:3], TRUE.wer(HOURS[:3])))


def test_analyse_fits_compares_and_validates():
    rng = np.random.default_rng(2)
    words = test_words(rng)
    curves = [synthetic_curve("a", LAW_A, HOURS[:4], rng, words),
              synthetic_curve("b", LAW_B, HOURS[:4], rng, words),
              make_curve("two sizes", HOURS[:2], [30.0, 20.0])]
    analysis = analyse(curves, replicates=50)
    assert [f.name for f in analysis.usable()] == ["a", "b"]
    assert "not fitted: 2 sizes" in analysis.fits[2].note
    assert [(x.a, x.b) for x in analysis.crossovers] == [("a", "b")]
    assert [v.name for v in analysis.validations] == ["a", "b"]
    data = analysis.to_json()
    assert data["law"] == learning_law.LAW and data["crossovers"][0]["verdict"] in (
        "crosses", "none in range", "cannot tell")
    assert data["fits"][0]["method"] == "utterances" and len(data["fits"][0]["a_ci95"]) == 2


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("hours, wer, message", [
    ([0.1, 0.2], [20.0, 15.0], "needs at least 3 sizes, got 2"),
    ([0.0, 0.2, 0.4], [20.0, 15.0, 10.0], "hours must be finite and > 0"),
    ([-1.0, 0.2, 0.4], [20.0, 15.0, 10.0], "hours must be finite and > 0"),
    ([0.1, 0.2, 0.4], [20.0, float("nan"), 10.0], "WERs must be finite and >= 0"),
    ([0.1, 0.2, 0.2], [20.0, 15.0, 10.0], "two sizes at the same hours"),
    ([0.1, 0.2, 0.4], [20.0, 15.0], "two lists of the same length"),
])
def test_bad_input_is_one_line(hours, wer, message):
    with pytest.raises(AsrError, match=message) as e:
        fit_law(hours, wer)
    assert "\n" not in str(e.value)


def test_per_utterance_scores_must_match_the_stated_wer():
    words = np.array([5, 5])
    errors = np.array([[1, 1], [1, 0], [0, 0]])
    with pytest.raises(AsrError, match="per-utterance scores give WERs"):
        make_curve("s", [0.1, 0.2, 0.4], [20.0, 10.0, 5.0], errors, words)
    with pytest.raises(AsrError, match="sizes x utterances"):
        make_curve("s", [0.1, 0.2, 0.4], [20.0, 10.0, 0.0], errors[:2], words)
    with pytest.raises(AsrError, match="come together"):
        make_curve("s", [0.1, 0.2, 0.4], [20.0, 10.0, 0.0], errors)
    with pytest.raises(AsrError, match="at least 1 replicate"):
        bootstrap(make_curve("s", HOURS, TRUE.wer(HOURS)), fit_law(HOURS, TRUE.wer(HOURS)), replicates=0)


# ---------------------------------------------------------------- the script for copied tables

def test_fit_learning_curves_script(capsys, tmp_path):
    import json
    import sys

    from conftest import REPO

    sys.path.insert(0, str(REPO / "scripts"))
    import fit_learning_curves

    points = [f"{h}:{w:.2f}" for h, w in zip(HOURS[:4], TRUE.wer(HOURS[:4]))]
    steeper = [f"{h}:{w:.2f}" for h, w in zip(HOURS[:4], LAW_B.wer(HOURS[:4]))]
    out = tmp_path / "laws.json"
    assert fit_learning_curves.main(["--curve", "a", *points, "--curve", "b-2", *steeper, "--test-words", "1500",
                                     "--replicates", "50", "--plot", str(tmp_path / "c.png"),
                                     "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "### Fitted learning curves" in printed and "| a vs b-2 |" in printed and "| a | 0.8 h |" in printed
    assert "error counts (Poisson)" in printed and (tmp_path / "c.png").stat().st_size > 10_000
    assert [f["method"] for f in json.loads(out.read_text())["fits"]] == ["counts", "counts"]
    assert fit_learning_curves.main(["--curve", "a", "0.1-20"]) == 1
    assert "'0.1-20' is not HOURS:WER" in capsys.readouterr().err
    assert fit_learning_curves.main(["--curve", "a", *points, "--replicates", "0"]) == 1
    assert "--replicates must be at least 1" in capsys.readouterr().err
