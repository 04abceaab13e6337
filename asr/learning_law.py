"""Learning-curve laws: WER(h) = a * h^-b + c fitted to measured sizes, with bootstrap intervals,
predicted crossovers between systems, and a hold-out check of the extrapolation.

The law: WER (percent) falls as a power of the training hours h towards a floor c. Three
parameters fitted to the 3-5 sizes a recipe measures are barely determined, so the fit is
constrained: a >= 0 (a = 0 is a flat curve), B_MIN <= b <= B_MAX, 0 <= c <= the lowest
measured WER (the floor cannot lie above a measured point of a falling curve). `fit_law` does a
grid search over b (for each b, a and c by least squares) and polishes the best point with
scipy.optimize.least_squares inside the bounds; a fit whose solver reports failure, or whose
parameters are not finite, is marked `converged=False`.

Uncertainty (`bootstrap`): REPLICATES replicates with a fixed seed, each refitted:
- "utterances" when the curve has per-utterance scores at every size, on one test set: resample
  the test utterances with replacement, recompute each size's WER as resampled errors over
  resampled words (Bisani & Ney), refit. The resample is drawn from the same seed for every curve,
  so curves scored on the same test set are resampled alike (a paired bootstrap). It measures
  test-set sampling only, not the spread between training runs.
- "counts" for WERs copied from a table with only the test set's size in words known: each
  size's error count is redrawn from a Poisson distribution around the fitted curve's, refit.
  Words are not independent (errors cluster in utterances) and the sizes share one test set, so
  this understates test-set noise (Bisani & Ney intervals run about 1.3-1.6x binomial ones) and
  ignores that sharing; like the utterance bootstrap it knows nothing of training-run spread.
- "residuals" otherwise: add the fit's residuals, centred, scaled by sqrt(n / (n - 3)) for the
  three fitted parameters and resampled with replacement, to the fitted curve (WER clipped at 0),
  refit. With 4 sizes this rests on one degree of freedom: a rough interval.
- "none" when neither is possible: 3 sizes fit 3 parameters exactly, leaving no residuals.
A replicate whose fit does not converge is left out and counted (`Bootstrap.failed`); intervals
are percentiles over the others. Because the utterance and counts bootstraps know only test-set
noise, a law whose misses, in units of that noise (the replicates' standard deviation of each size's WER), sum
in squares beyond the chi-square limit at MISFIT_P (n - 3 degrees of freedom, at least 1) is
flagged (`misfit`): it does not describe these points (say WER rose with more data), and no
crossover or reach is predicted from it.

Crossovers (`crossover`): two curves are compared from the larger of their smallest measured sizes
to `max_hours` (MAX_HOURS, ten thousand hours), on GRID_POINTS log-spaced hours, a crossing placed
by linear interpolation of their difference in log hours. The rule (AGREEMENT, WIDE):
- "crosses" when the fitted curves cross in range, at least 80% of the replicates cross in range,
  the 95% interval of the replicates' crossing hours covers less than 90% of the range (in log
  hours), and the 95% band of the difference between the curves shows each system better on its
  side of the crossing (excludes zero, with the one sign somewhere before it and the other
  somewhere after it: two curves the data cannot tell apart cross anywhere, and often);
- "none in range" when the fitted curves do not cross and at least 80% of replicates agree;
- "cannot tell" otherwise, and always when either curve has no bootstrap or misfits.
`reach` says how far past the measured sizes the 95% band of the difference still excludes zero
(searched on GRID_POINTS log-spaced hours from the largest size both curves were measured at).

Validation (`hold_out_largest`): fit on all sizes but the largest, predict the largest, and report
the error and whether the 95% band of the prediction covered the measured WER.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares
from scipy.stats import chi2

from asr.errors import AsrError
from asr.scoring import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CONFIDENCE

LAW = "WER(h) = a * h^-b + c"
PARAMETERS = ("a", "b", "c")
MIN_SIZES = 3  # three parameters need at least three sizes
B_MIN = 0.01  # flattest decay fitted: WER above the floor falls 0.7% per doubling of data
B_MAX = 3.0  # steepest decay fitted: WER above the floor falls 8x per doubling of data
B_GRID = np.linspace(0.02, B_MAX, 150)  # starting values of b for the polish
C_TINY = 1e-9  # upper bound of c when the lowest WER is 0 (the solver needs lower < upper)
AT_BOUND = 1e-6  # a parameter this close to a bound is reported as at it
REPLICATES = BOOTSTRAP_RESAMPLES  # one thousand, as the WER intervals of asr.scoring
SEED = BOOTSTRAP_SEED
MAX_HOURS = 10_000.0  # ten thousand hours: where the folklore puts end-to-end's win
GRID_POINTS = 1000  # log-spaced hours searched for crossings: steps of about 1% over 5 decades
AGREEMENT = 0.8  # share of replicates that must agree with the fitted curves before we say so
MISFIT_P = 0.01  # misses this unlikely under test-set noise alone mean the law does not fit
MISFIT_FLOOR = 0.01  # points: the least noise assumed at a size (a 0% WER never varies over resamples)
WIDE = 0.9  # an interval covering 90% of the searched range (log hours) tells nothing


# ---------------------------------------------------------------- the law and its fit

@dataclass(frozen=True)
class Law:
    """WER(h) = a * h^-b + c, WER in percent, h in hours."""
    a: float
    b: float
    c: float

    def wer(self, hours):
        return self.a * np.power(hours, -self.b) + self.c

    def text(self) -> str:
        return f"{self.a:.3g} * h^-{self.b:.2f} + {self.c:.2f}"


@dataclass(frozen=True)
class Fit:
    law: Law
    rms: float  # root mean square residual, WER points
    converged: bool  # False when the solver reported failure or gave non-finite parameters
    at_bound: tuple[str, ...] = ()  # e.g. ("b=3",): the constraint, not the data, set that value


def check_sizes(hours, wer, what: str = "learning curve",
                min_sizes: int = MIN_SIZES) -> tuple[np.ndarray, np.ndarray]:
    """Hours and WERs as float arrays sorted by hours; AsrError (one line) on anything unusable."""
    hours = np.asarray(hours, dtype=float)
    wer = np.asarray(wer, dtype=float)
    if hours.ndim != 1 or hours.shape != wer.shape:
        raise AsrError(f"{what}: hours and WERs must be two lists of the same length")
    if len(hours) < min_sizes:
        raise AsrError(f"{what}: {LAW} needs at least {min_sizes} sizes, got {len(hours)}")
    if not (np.all(np.isfinite(hours)) and np.all(hours > 0)):
        raise AsrError(f"{what}: hours must be finite and > 0 (log scale), got {hours.tolist()}")
    if not (np.all(np.isfinite(wer)) and np.all(wer >= 0)):
        raise AsrError(f"{what}: WERs must be finite and >= 0, got {wer.tolist()}")
    if len(np.unique(hours)) < len(hours):
        raise AsrError(f"{what}: two sizes at the same hours: {hours.tolist()}")
    order = np.argsort(hours)
    return hours[order], wer[order]


def _grid_start(x: np.ndarray, wer: np.ndarray, c_max: float) -> tuple[float, float, float]:
    """Best (a, b, c) over B_GRID: for each b the model is linear in a and c, solved in closed form
    (a clipped at 0, c clipped into [0, c_max], a re-solved for the clipped c)."""
    z = np.exp(-np.outer(B_GRID, x))  # b x sizes: h^-b
    z_mean, wer_mean = z.mean(axis=1), wer.mean()
    zc = z - z_mean[:, None]
    szz = (zc ** 2).sum(axis=1)
    a = np.maximum(np.divide((zc * (wer - wer_mean)).sum(axis=1), szz, out=np.zeros_like(szz),
                             where=szz > 0), 0.0)
    c = np.clip(wer_mean - a * z_mean, 0.0, c_max)
    a = np.maximum(((wer - c[:, None]) * z).sum(axis=1) / (z * z).sum(axis=1), 0.0)
    sse = ((a[:, None] * z + c[:, None] - wer) ** 2).sum(axis=1)
    best = int(np.argmin(sse))
    return float(a[best]), float(B_GRID[best]), float(c[best])


def _bounds_hit(a: float, b: float, c: float, c_max: float) -> tuple[str, ...]:
    hit = []
    if a <= AT_BOUND:
        hit.append("a=0")
    if b >= B_MAX - AT_BOUND:
        hit.append(f"b={B_MAX:g}")
    elif b <= B_MIN + AT_BOUND:
        hit.append(f"b={B_MIN:g}")
    if c <= AT_BOUND:
        hit.append("c=0")
    elif c >= c_max - AT_BOUND:
        hit.append("c=min WER")
    return tuple(hit)


def fit_law(hours, wer) -> Fit:
    """Least-squares fit of the law to measured (hours, WER %) points, within the constraints above.

    Raises AsrError for fewer than 3 sizes, hours <= 0, or non-finite values. A solver failure is
    not raised: the Fit says `converged=False` (the bootstrap counts such replicates, the report
    shows a curve whose own fit failed without predictions).
    """
    hours, wer = check_sizes(hours, wer)
    x = np.log(hours)
    c_max = max(float(wer.min()), C_TINY)
    a0, b0, c0 = _grid_start(x, wer, c_max)
    lower, upper = [0.0, B_MIN, 0.0], [np.inf, B_MAX, c_max]
    start = np.clip([a0, b0, c0], lower, upper)
    result = least_squares(lambda p: p[0] * np.exp(-p[1] * x) + p[2] - wer, start,
                           bounds=(lower, upper), method="trf")
    a, b, c = (float(v) for v in result.x)
    converged = bool(result.success) and all(map(math.isfinite, (a, b, c)))
    rms = float(np.sqrt(np.mean(result.fun ** 2))) if converged else math.nan
    return Fit(Law(a, b, c), rms, converged, _bounds_hit(a, b, c, c_max) if converged else ())


# ---------------------------------------------------------------- curves and the bootstrap

@dataclass
class Curve:
    """One system's measured sizes; `errors` (sizes x utterances) and `words` (utterances) when
    per-utterance scores exist for every size on one test set, else None; `test_words`, the size of
    the test set in words, when only that is known (WERs copied from a table)."""
    name: str
    hours: np.ndarray
    wer: np.ndarray
    errors: np.ndarray | None = None
    words: np.ndarray | None = None
    test_words: int | None = None


def make_curve(name: str, hours, wer, errors=None, words=None, test_words: int | None = None) -> Curve:
    """A checked Curve, sorted by hours (one size or more: `analyse` notes a curve too short to
    fit). Per-utterance scores must give the stated WERs."""
    hours_in = np.asarray(hours, dtype=float)
    hours_sorted, wer_sorted = check_sizes(hours, wer, f"learning curve {name!r}", min_sizes=1)
    if (errors is None) != (words is None):
        raise AsrError(f"learning curve {name!r}: per-utterance errors and words come together")
    if test_words is not None:
        if errors is not None:
            raise AsrError(f"learning curve {name!r}: test_words is for curves without per-utterance scores")
        if isinstance(test_words, bool) or not isinstance(test_words, (int, np.integer)) or test_words < 1:
            raise AsrError(f"learning curve {name!r}: test_words must be a whole number >= 1, got {test_words!r}")
        return Curve(name, hours_sorted, wer_sorted, test_words=int(test_words))
    if errors is None:
        return Curve(name, hours_sorted, wer_sorted)
    errors = np.asarray(errors, dtype=float)
    words = np.asarray(words, dtype=float)
    if errors.ndim != 2 or errors.shape != (len(hours_in), len(words)) or len(words) == 0:
        raise AsrError(f"learning curve {name!r}: per-utterance errors must be sizes x utterances "
                       f"({len(hours_in)} x {len(words)}), got shape {errors.shape}")
    if words.sum() <= 0:
        raise AsrError(f"learning curve {name!r}: the test set has no reference words")
    errors = errors[np.argsort(hours_in)]
    recomputed = 100.0 * errors.sum(axis=1) / words.sum()
    if not np.allclose(recomputed, wer_sorted, atol=1e-6):
        raise AsrError(f"learning curve {name!r}: per-utterance scores give WERs "
                       f"{np.round(recomputed, 2).tolist()}, not the stated {np.round(wer_sorted, 2).tolist()}")
    return Curve(name, hours_sorted, wer_sorted, errors, words)


@dataclass
class Bootstrap:
    """The refitted laws of one curve's replicates, and how they were made."""
    method: str  # "utterances", "residuals" or "none"
    params: np.ndarray  # replicates x (a, b, c); rows of NaN for replicates whose fit failed
    failed: int = 0
    note: str = ""  # why there is no bootstrap, when method is "none"
    wer_sd: np.ndarray | None = None  # "utterances", "counts": each size's WER's standard deviation

    @property
    def valid(self) -> np.ndarray:
        return self.params[np.all(np.isfinite(self.params), axis=1)]

    def interval(self, column: int) -> tuple[float, float] | None:
        values = self.valid[:, column]
        return _percentiles(values) if len(values) else None


def _percentiles(values: np.ndarray, axis: int = 0):
    tail = 100.0 * (1.0 - CONFIDENCE) / 2
    low, high = np.percentile(values, [tail, 100.0 - tail], axis=axis)
    return (float(low), float(high)) if np.ndim(low) == 0 else (low, high)


def _refit(hours: np.ndarray, wer: np.ndarray) -> np.ndarray:
    """One replicate's (a, b, c), NaN when its fit does not converge."""
    fit = fit_law(hours, wer)
    return np.array([fit.law.a, fit.law.b, fit.law.c]) if fit.converged else np.full(3, np.nan)


def bootstrap(curve: Curve, fit: Fit, replicates: int = REPLICATES, seed: int = SEED,
              stream: int = 0) -> Bootstrap:
    """Refit the law on `replicates` resampled versions of the curve (see the module docstring).

    `stream` separates the residual resamples of different curves (they must not share draws);
    the utterance resamples ignore it, so that curves on one test set are resampled alike.
    """
    if replicates < 1:
        raise AsrError(f"bootstrap needs at least 1 replicate, got {replicates}")
    if curve.errors is not None:
        return _utterance_bootstrap(curve, replicates, seed)
    if curve.test_words is not None:
        return _counts_bootstrap(curve, fit, replicates, seed, stream)
    dof = len(curve.hours) - len(PARAMETERS)
    if dof < 1:
        return Bootstrap("none", np.empty((0, 3)), note=f"{len(curve.hours)} sizes fit the 3 parameters "
                         "exactly and there are no per-utterance scores: no interval")
    fitted = fit.law.wer(curve.hours)
    residuals = curve.wer - fitted
    residuals = (residuals - residuals.mean()) * math.sqrt(len(residuals) / dof)
    rng = np.random.default_rng([seed, stream])
    params = np.empty((replicates, 3))
    for r in range(replicates):
        resampled = np.maximum(fitted + rng.choice(residuals, size=len(residuals)), 0.0)
        params[r] = _refit(curve.hours, resampled)
    return Bootstrap("residuals", params, int(np.sum(~np.isfinite(params[:, 0]))))


def _counts_bootstrap(curve: Curve, fit: Fit, replicates: int, seed: int, stream: int) -> Bootstrap:
    """Each size's error count redrawn as Poisson(the fitted curve's count) over the test words,
    refit: a parametric bootstrap (centred on the measured counts instead, noise lands on noise and
    the intervals cover the truth less often: 85% instead of 95% on synthetic curves)."""
    rng = np.random.default_rng([seed, stream])
    expected = fit.law.wer(curve.hours) / 100.0 * curve.test_words
    wers = 100.0 * rng.poisson(expected, size=(replicates, len(curve.hours))) / curve.test_words
    params = np.array([_refit(curve.hours, w) for w in wers])
    return Bootstrap("counts", params, int(np.sum(~np.isfinite(params[:, 0]))), wer_sd=wers.std(axis=0))


def _utterance_bootstrap(curve: Curve, replicates: int, seed: int) -> Bootstrap:
    rng = np.random.default_rng(seed)
    utterances = len(curve.words)
    params = np.full((replicates, 3), np.nan)
    wers = np.full((replicates, len(curve.hours)), np.nan)
    for r in range(replicates):
        idx = rng.integers(0, utterances, size=utterances)
        words = curve.words[idx].sum()
        if words <= 0:  # a resample of only empty references has no WER: a failed replicate
            continue
        wers[r] = 100.0 * curve.errors[:, idx].sum(axis=1) / words
        params[r] = _refit(curve.hours, wers[r])
    return Bootstrap("utterances", params, int(np.sum(~np.isfinite(params[:, 0]))),
                     wer_sd=np.nanstd(wers, axis=0))


def curves_of(params: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """WER of each (a, b, c) row at each of `hours`: rows x hours."""
    return params[:, :1] * np.power(hours[None, :], -params[:, 1:2]) + params[:, 2:3]


def band(boot: Bootstrap, hours) -> tuple[np.ndarray, np.ndarray] | None:
    """95% band (low, high) of the curve at `hours` over the valid replicates; None without any."""
    valid = boot.valid
    if len(valid) == 0:
        return None
    return _percentiles(curves_of(valid, np.asarray(hours, dtype=float)))


# ---------------------------------------------------------------- crossovers

def format_hours(h: float) -> str:
    return f"{h:.2g} h" if h < 10 else f"{h:,.0f} h"


def first_crossings(diff: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """For each row of `diff` (WER of A minus WER of B at `hours`, ascending), the first hours where
    the difference reaches zero or changes sign, interpolated linearly in log hours; NaN where it
    keeps one sign (or is zero throughout: the same curve)."""
    diff = np.atleast_2d(diff)
    sign = np.sign(diff)
    change = (sign[:, :-1] != 0) & (sign[:, 1:] != sign[:, :-1])
    found = change.any(axis=1)
    j = np.argmax(change, axis=1)
    rows = np.arange(len(diff))
    d0, d1 = diff[rows, j], diff[rows, j + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(found, d0 / (d0 - d1), 0.0)  # rows without a change: any finite t
    log_h = np.log(hours)
    crossing = np.exp(log_h[j] + t * (log_h[j + 1] - log_h[j]))
    return np.where(found, crossing, np.nan)


def crossings(law_a: Law, law_b: Law, low: float, high: float, points: int = GRID_POINTS) -> list[float]:
    """Every hours in [low, high] where the two laws have the same WER ([] when they do not cross).
    The difference of two such laws has at most one turning point in log hours, so at most two."""
    if not (0 < low < high):
        raise AsrError(f"crossover search needs 0 < low < high hours, got {low} and {high}")
    hours = np.geomspace(low, high, points)
    diff = law_a.wer(hours) - law_b.wer(hours)
    found = []
    while True:
        h = first_crossings(diff, hours)[0]
        if np.isnan(h):
            return found
        found.append(float(h))
        after = hours > h * (1 + 1e-9)  # look past this crossing for the next
        if after.sum() < 2:
            return found
        hours, diff = hours[after], diff[after]


def misfit(curve: Curve, fit: Fit, boot: Bootstrap) -> str:
    """Why the law does not describe the measured points ("" when it does, or when that cannot be
    judged: the residual bootstrap takes its noise from the misses themselves). The misses
    in units of each size's test-set standard deviation, squared and summed, against the chi-square
    limit at MISFIT_P; the message names the worst miss."""
    if boot.wer_sd is None:
        return ""
    sd = np.maximum(boot.wer_sd, MISFIT_FLOOR)
    miss = curve.wer - fit.law.wer(curve.hours)
    statistic = float(np.sum((miss / sd) ** 2))
    dof = max(len(curve.hours) - len(PARAMETERS), 1)
    limit = float(chi2.ppf(1.0 - MISFIT_P, dof))
    if statistic <= limit:
        return ""
    worst = int(np.argmax(np.abs(miss / sd)))
    return (f"misses the measured {curve.wer[worst]:.2f}% at {format_hours(curve.hours[worst])} by "
            f"{abs(miss[worst]):.2f} points, {abs(miss[worst]) / sd[worst]:.1f} test-set standard deviations; "
            f"chi-square {statistic:.1f} over the {MISFIT_P:g} limit {limit:.1f}")


@dataclass
class CurveFit:
    """One curve with its law and bootstrap: `fit` None (with a note) when it has too few sizes,
    `boot` None when the fit did not converge; `misfit` says why its predictions are not trusted."""
    curve: Curve
    fit: Fit | None = None
    boot: Bootstrap | None = None
    note: str = ""
    misfit: str = ""

    @property
    def name(self) -> str:
        return self.curve.name

    def interval(self, parameter: str) -> tuple[float, float] | None:
        return self.boot.interval(PARAMETERS.index(parameter)) if self.boot else None


def fit_curve(curve: Curve, replicates: int = REPLICATES, seed: int = SEED, stream: int = 0) -> CurveFit:
    """The law, its bootstrap and its misfit check for one curve; a note instead when the curve
    has too few sizes or its fit does not converge."""
    if len(curve.hours) < MIN_SIZES:
        return CurveFit(curve, note=f"not fitted: {len(curve.hours)} sizes, the law has {MIN_SIZES} parameters")
    fit = fit_law(curve.hours, curve.wer)
    if not fit.converged:
        return CurveFit(curve, fit, note="the fit did not converge: no predictions")
    boot = bootstrap(curve, fit, replicates, seed, stream)
    return CurveFit(curve, fit, boot, misfit=misfit(curve, fit, boot))


@dataclass
class Crossover:
    """What the laws of systems a and b predict about their crossing, and the verdict."""
    a: str
    b: str
    low: float  # searched range, hours
    high: float
    verdict: str  # "crosses", "none in range" or "cannot tell"
    fitted: list[float]  # crossings of the fitted curves in range
    median: float | None = None  # over the replicates that cross in range
    interval: tuple[float, float] | None = None
    share: float | None = None  # of valid replicate pairs that cross in range
    replicates: int = 0  # valid replicate pairs
    better_first: str = ""  # the better system at `low` by the fitted curves
    why: str = ""  # what keeps a "cannot tell" from a verdict
    reach: float | None = None  # see `reach`
    reach_from: float = 0.0
    reach_better: str = ""
    sentence: str = ""
    reach_sentence: str = ""


def _paired_valid(fa: CurveFit, fb: CurveFit) -> tuple[np.ndarray, np.ndarray]:
    """Replicate rows valid in both curves (replicate i of A goes with replicate i of B)."""
    if fa.boot is None or fb.boot is None:
        return np.empty((0, 3)), np.empty((0, 3))
    n = min(len(fa.boot.params), len(fb.boot.params))
    pa, pb = fa.boot.params[:n], fb.boot.params[:n]
    ok = np.all(np.isfinite(pa), axis=1) & np.all(np.isfinite(pb), axis=1)
    return pa[ok], pb[ok]


def _untrusted(fa: CurveFit, fb: CurveFit) -> str:
    """Why the pair's extrapolation cannot be trusted at all ("" when it can be judged)."""
    for f in (fa, fb):
        if f.misfit:
            return f"the law does not fit {f.name} (it {f.misfit})"
    for f in (fa, fb):
        if f.boot is not None and f.boot.method == "none":
            return f"{f.name} has no interval ({f.boot.note})"
    return ""


def crossover(fa: CurveFit, fb: CurveFit, low: float, high: float = MAX_HOURS) -> Crossover:
    """The predicted crossover of two fitted curves over [low, high] hours and its verdict (the rule
    in the module docstring; "cannot tell" also when either law misfits or has no bootstrap)."""
    fitted = crossings(fa.fit.law, fb.fit.law, low, high)
    better_first = fa.name if fa.fit.law.wer(low) <= fb.fit.law.wer(low) else fb.name
    x = Crossover(fa.name, fb.name, low, high, "cannot tell", fitted, better_first=better_first)
    pa, pb = _paired_valid(fa, fb)
    x.replicates = len(pa)
    sides = ""
    if len(pa):
        hours = np.geomspace(low, high, GRID_POINTS)
        diff = curves_of(pa, hours) - curves_of(pb, hours)
        crossing = first_crossings(diff, hours)
        crossed = crossing[np.isfinite(crossing)]
        x.share = len(crossed) / len(pa)
        if len(crossed):
            x.median = float(np.median(crossed))
            x.interval = _percentiles(crossed)
        if fitted:
            sides = _unshown_side(x, hours, _percentiles(diff))
    x.verdict, x.why = _verdict(x, _untrusted(fa, fb), sides)
    x.sentence = crossover_sentence(x)
    return x


def _unshown_side(x: Crossover, hours: np.ndarray, diff_band) -> str:
    """"" when the 95% band of the difference (A minus B at `hours`) shows the first-better system
    better somewhere before the fitted crossing and the other better somewhere after it; else which
    side it never shows."""
    low_d, high_d = diff_band
    first_is_a = x.better_first == x.a
    a_better, b_better = high_d < 0, low_d > 0
    before, after = hours < x.fitted[0], hours > x.fitted[0]
    other = x.b if first_is_a else x.a
    if not np.any((a_better if first_is_a else b_better) & before):
        return f"the 95% band of their difference never shows {x.better_first} better before the crossing"
    if not np.any((b_better if first_is_a else a_better) & after):
        return f"the 95% band of their difference never shows {other} better after the crossing"
    return ""


def _verdict(x: Crossover, untrusted: str, unshown_side: str = "") -> tuple[str, str]:
    """(verdict, why it is "cannot tell") by the rule in the module docstring."""
    if untrusted:
        return "cannot tell", untrusted
    if x.share is None:
        return "cannot tell", "no replicate of both curves converged"
    span = f"between {format_hours(x.low)} and {format_hours(x.high)}"
    if not x.fitted:
        if 1.0 - x.share >= AGREEMENT:
            return "none in range", ""
        return "cannot tell", f"{100 * x.share:.0f}% of replicates cross {span}"
    if x.share < AGREEMENT:
        return "cannot tell", f"only {100 * x.share:.0f}% of replicates cross {span}"
    if _too_wide(x.interval, x.low, x.high):
        return "cannot tell", (f"the 95% interval of the crossing, {format_hours(x.interval[0])} to "
                               f"{format_hours(x.interval[1])}, spans nearly the whole range")
    if unshown_side:
        return "cannot tell", unshown_side
    return "crosses", ""


def _too_wide(interval: tuple[float, float], low: float, high: float) -> bool:
    return math.log(interval[1] / interval[0]) >= WIDE * math.log(high / low)


def crossover_sentence(x: Crossover) -> str:
    span = f"between {format_hours(x.low)} and {format_hours(x.high)}"
    other = x.b if x.better_first == x.a else x.a
    if x.verdict == "crosses":
        low, high = x.interval
        again = f" (and back at {format_hours(x.fitted[1])})" if len(x.fitted) > 1 else ""
        return (f"{x.a} and {x.b}: predicted crossover at {format_hours(x.fitted[0])}{again}, 95% interval "
                f"{format_hours(low)} to {format_hours(high)} ({100 * x.share:.0f}% of replicates cross "
                f"{span}): {x.better_first} is better below, {other} above.")
    if x.verdict == "none in range":
        return (f"{x.a} and {x.b}: no crossover {span} ({100 * (1 - x.share):.0f}% of replicates agree): "
                f"{x.better_first} stays better.")
    fitted = (f"the fitted curves cross at {format_hours(x.fitted[0])}" if x.fitted
              else f"the fitted curves do not cross {span}")
    return f"{x.a} and {x.b}: the data cannot tell; {fitted}, but {x.why}."


def reach(fa: CurveFit, fb: CurveFit, start: float, high: float = MAX_HOURS) -> tuple[float | None, str]:
    """How far past `start` (the largest size both curves were measured at) the 95% band of their
    difference excludes zero without a break: (the last such hours, the better system there), or
    (None, "") when the band includes zero already at `start` or there are no replicates."""
    pa, pb = _paired_valid(fa, fb)
    if len(pa) == 0 or start >= high:
        return None, ""
    hours = np.geomspace(start, high, GRID_POINTS)
    low_d, high_d = _percentiles(curves_of(pa, hours) - curves_of(pb, hours))
    apart = (low_d > 0) | (high_d < 0)
    if not apart[0]:
        return None, ""
    better = fa.name if high_d[0] < 0 else fb.name
    end = len(hours) if apart.all() else int(np.argmin(apart))
    return float(hours[end - 1]), better


def reach_sentence(x: Crossover, untrusted: str = "") -> str:
    """How far the extrapolation of the pair reaches, in words (follows `x.sentence`)."""
    start = format_hours(x.reach_from)
    if untrusted:
        return "So no reach is given either."
    if x.replicates == 0:
        return "Without replicates there is no band of their difference, so no reach."
    if x.reach is None:
        return (f"The 95% band of their difference includes zero already at {start}, the largest size "
                "both were measured at: even there the data do not tell them apart.")
    if x.reach >= x.high * (1 - 1e-9):
        return (f"The 95% band of their difference excludes zero from {start} all the way to "
                f"{format_hours(x.high)} ({x.reach_better} better).")
    return (f"The extrapolation reaches from {start} to about {format_hours(x.reach)}: up to there the "
            f"95% band of their difference excludes zero ({x.reach_better} better); beyond, the band "
            "is wider than the difference.")


def compare_pair(fa: CurveFit, fb: CurveFit, high: float = MAX_HOURS) -> Crossover | None:
    """Crossover and reach of two fitted curves (None when their sizes start beyond `high`): the
    search starts at the larger of their smallest sizes, the reach at the smaller of their largest."""
    low = float(max(fa.curve.hours[0], fb.curve.hours[0]))
    if low >= high:
        return None
    x = crossover(fa, fb, low, high)
    x.reach_from = float(min(fa.curve.hours[-1], fb.curve.hours[-1]))
    untrusted = _untrusted(fa, fb)
    if not untrusted:
        x.reach, x.reach_better = reach(fa, fb, x.reach_from, high)
    x.reach_sentence = reach_sentence(x, untrusted)
    return x


# ---------------------------------------------------------------- validation

@dataclass
class Validation:
    """The largest size of a curve predicted by the law fitted to the others."""
    name: str
    hours: float  # the held-out (largest) size
    measured: float
    predicted: float | None = None
    interval: tuple[float, float] | None = None
    method: str = "none"
    failed: int = 0
    note: str = ""

    @property
    def error(self) -> float | None:
        """Predicted minus measured WER, points."""
        return None if self.predicted is None else self.predicted - self.measured

    @property
    def covered(self) -> bool | None:
        if self.interval is None:
            return None
        return self.interval[0] <= self.measured <= self.interval[1]


def hold_out_largest(curve: Curve, replicates: int = REPLICATES, seed: int = SEED,
                     stream: int = 0) -> Validation:
    """Fit on all sizes but the largest and predict the largest, with the 95% band there from the
    same kind of bootstrap as the full fit. Needs at least 4 sizes (AsrError otherwise)."""
    if len(curve.hours) < MIN_SIZES + 1:
        raise AsrError(f"learning curve {curve.name!r}: holding out the largest size needs at least "
                       f"{MIN_SIZES + 1} sizes, got {len(curve.hours)}")
    rest = Curve(curve.name, curve.hours[:-1], curve.wer[:-1],
                 None if curve.errors is None else curve.errors[:-1], curve.words, curve.test_words)
    held = Validation(curve.name, float(curve.hours[-1]), float(curve.wer[-1]))
    fit = fit_law(rest.hours, rest.wer)
    if not fit.converged:
        held.note = "the fit on the smaller sizes did not converge"
        return held
    held.predicted = float(fit.law.wer(held.hours))
    boot = bootstrap(rest, fit, replicates, seed, stream)
    held.method, held.failed, held.note = boot.method, boot.failed, boot.note
    limits = band(boot, [held.hours])
    if limits is not None:
        held.interval = (float(limits[0][0]), float(limits[1][0]))
    return held


# ---------------------------------------------------------------- everything for a report

@dataclass
class Analysis:
    """Every curve's law, every pair's crossover and every hold-out check, for a report."""
    fits: list[CurveFit]
    crossovers: list[Crossover] = field(default_factory=list)
    validations: list[Validation] = field(default_factory=list)
    replicates: int = REPLICATES
    seed: int = SEED
    max_hours: float = MAX_HOURS

    def usable(self) -> list[CurveFit]:
        """Curves with a converged law (drawn, compared)."""
        return [f for f in self.fits if f.boot is not None]

    def to_json(self) -> dict:
        """Everything as plain JSON values (laws.json)."""
        return {
            "law": LAW, "replicates": self.replicates, "seed": self.seed, "confidence": CONFIDENCE,
            "max_hours": self.max_hours, "agreement": AGREEMENT, "wide": WIDE, "misfit_p": MISFIT_P,
            "fits": [_fit_json(f) for f in self.fits],
            "crossovers": [_crossover_json(x) for x in self.crossovers],
            "validations": [_validation_json(v) for v in self.validations],
        }


def _fit_json(f: CurveFit) -> dict:
    out = {"system": f.name, "hours": f.curve.hours.tolist(), "wer": f.curve.wer.tolist(),
           "note": f.note, "misfit": f.misfit}
    if f.fit is not None:
        out["converged"] = f.fit.converged
    if f.fit is not None and f.fit.converged:
        out.update({p: getattr(f.fit.law, p) for p in PARAMETERS})
        out.update({"rms": f.fit.rms, "at_bound": list(f.fit.at_bound)})
    if f.boot is not None:
        out.update({"method": f.boot.method, "failed": f.boot.failed, "boot_note": f.boot.note})
        out.update({f"{p}_ci95": _pair_json(f.interval(p)) for p in PARAMETERS})
    return out


def _pair_json(pair) -> list[float] | None:
    return None if pair is None else [float(v) for v in pair]


def _crossover_json(x: Crossover) -> dict:
    return {"a": x.a, "b": x.b, "low": x.low, "high": x.high, "verdict": x.verdict, "fitted": x.fitted,
            "median": x.median, "ci95": _pair_json(x.interval), "share": x.share,
            "replicates": x.replicates, "better_first": x.better_first, "why": x.why, "reach": x.reach,
            "reach_from": x.reach_from, "reach_better": x.reach_better,
            "sentence": x.sentence, "reach_sentence": x.reach_sentence}


def _validation_json(v: Validation) -> dict:
    return {"system": v.name, "hours": v.hours, "measured": v.measured, "predicted": v.predicted,
            "error": v.error, "ci95": _pair_json(v.interval), "covered": v.covered,
            "method": v.method, "failed": v.failed, "note": v.note}


def analyse(curves: list[Curve], replicates: int = REPLICATES, seed: int = SEED,
            max_hours: float = MAX_HOURS) -> Analysis:
    """Fit every curve, predict the crossover of every pair of fitted curves (and how far the
    extrapolation reaches), and hold out the largest size of every curve with 4 sizes or more."""
    if not max_hours > 0:
        raise AsrError(f"max_hours must be > 0, got {max_hours}")
    fits = [fit_curve(c, replicates, seed, stream) for stream, c in enumerate(curves)]
    analysis = Analysis(fits, replicates=replicates, seed=seed, max_hours=max_hours)
    pairs = (compare_pair(fa, fb, max_hours) for fa, fb in itertools.combinations(analysis.usable(), 2))
    analysis.crossovers = [x for x in pairs if x is not None]
    analysis.validations = [hold_out_largest(f.curve, replicates, seed, stream + len(curves))
                            for stream, f in enumerate(fits) if len(f.curve.hours) > MIN_SIZES]
    return analysis
