"""Comparison reports over scored decode directories, and learning curves.

`compare(decode_dirs, out_dir)` reads each decode dir's `scores.json` and `per_utt.json` (written
by asr.scoring), `decode.json` (real-time factor) when present, and the model's `model.yaml` in
the decode dir's parent when present (pipeline, units, params, train seconds); missing model
information is left blank. It writes:

- `summary.json`: one row per system, keys SUMMARY_KEYS;
- `wer.png`: WER per system with 95% bootstrap intervals;
- `pairs.json` and a line per pair of systems, "A vs B: -2.1 points, p=0.03": WER of A minus WER
  of B and a two-sided p-value from Bisani & Ney's paired bootstrap over utterances;
- `report.md` and `report.html` (one self-contained file, plots embedded as base64 PNG).

A system is named after its model directory (`exp/classic-tri/decode_test` -> `classic-tri`),
or after the decode directory itself when that is not called `decode*`.

Learning curves: `plot_learning_curves(points, out_png)` and `crossing_sentence(points)` take
points `{"system", "pipeline", "hours", "wer", "ci95"}`, one curve per system (per pipeline when
points carry no system). `curve_points(decode_dirs)` reads them from decode dirs, naming each
system after its model directory, so the sizes of one system live in different parents
(`curve/0.1h/classic`, `curve/0.2h/classic`); `compare(..., curve_points=...)` adds the plot and
the sentence to the report. Curves are compared by linear interpolation in log hours between
measured sizes, never extrapolated, by that sentence; beside it the report fits each curve with
asr.learning_law (WER(h) = a * h^-b + c, bootstrap intervals over test utterances when every size
has per_utt.json, else over the fit's residuals), draws the fitted laws with 95% bands past the
measured range, and adds tables of the fitted laws, predicted crossovers and a hold-out check
(`laws.json` holds the same numbers).
"""
from __future__ import annotations

import base64
import html
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asr import learning_law
from asr.errors import AsrError
from asr.fileio import atomic_write
from asr.modeldir import MODEL_FILE, read_model_info  # model dir: the decode dir's parent
from asr.scoring import paired_bootstrap_counts

SUMMARY_KEYS = ("system", "pipeline", "units", "wer", "ci95", "ins", "del", "sub", "rtf",
                "train_seconds", "params")
DECODE_INFO_FILE = "decode.json"
PLOT_DPI = 100  # a 8 x 4.5 inch figure becomes 800 x 450 pixels
P_RESOLUTION = 0.001  # one over the 1000 bootstrap resamples: smaller p-values print as "p<0.001"
PIPELINE_COLOURS = {"classic": "#1f77b4", "dnnhmm": "#9467bd", "hybrid": "#2ca02c", "ctc": "#d62728"}
OTHER_COLOUR = "#7f7f7f"
LINE_STYLES = ("-", "--", ":", "-.")  # learning curves of several systems of one pipeline
PLOT_MAX_HOURS = 1000.0  # fitted laws drawn up to a thousand hours (further to a stated crossover)
PLOT_GRID = 200  # log-spaced hours per drawn law
TICK_GAP = 1.15  # a measured size gets its own tick when 15% above the last ticked one


@dataclass
class System:
    name: str
    decode_dir: Path
    scores: dict
    per_utt: dict
    model: dict  # model.yaml, or {} when absent
    decode: dict  # decode.json, or {} when absent


# ---------------------------------------------------------------- reading

def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AsrError(f"{path}: no such file (score the decode dir first: asr score)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AsrError(f"{path}: not valid JSON ({e.__class__.__name__})") from None


def _read_model(model_dir: Path) -> dict:
    """model.yaml of a decode dir's model dir as a mapping in today's layout ({} when there is none)."""
    return read_model_info(model_dir).to_dict() if (model_dir / MODEL_FILE).is_file() else {}


def system_name(decode_dir: Path) -> str:
    """The model dir's name (`exp/classic/decode_test` -> classic), else the decode dir's own."""
    return decode_dir.parent.name if decode_dir.name.startswith("decode") else decode_dir.name


def system_names(decode_dirs: list[Path]) -> list[str]:
    """Model dir names; `model/decode_x` where two decode dirs share a model dir."""
    names = [system_name(d) for d in decode_dirs]
    repeated = {n for n in names if names.count(n) > 1}
    names = [f"{d.parent.name}/{d.name}" if n in repeated else n for n, d in zip(names, decode_dirs)]
    if len(set(names)) < len(names):
        raise AsrError(f"decode dirs given twice: {' '.join(str(d) for d in decode_dirs)}")
    return names


def load_systems(decode_dirs) -> list[System]:
    dirs = [Path(d) for d in decode_dirs]
    for d in dirs:
        if not d.is_dir():
            raise AsrError(f"{d}: no such decode directory")
    systems = []
    for name, d in zip(system_names([d.resolve() for d in dirs]), dirs):
        decode_info = d / DECODE_INFO_FILE
        decode = _read_json(decode_info) if decode_info.is_file() else {}
        model = _read_model(d.parent)
        if decode.get("head") == "aux" and isinstance(model.get("aux"), dict):  # a multi-task model's second head
            model = {**model, "units": model["aux"].get("units")}
        systems.append(System(
            name=name, decode_dir=d,
            scores=_read_json(d / "scores.json"),
            per_utt=_read_json(d / "per_utt.json"),
            model=model,
            decode=decode,
        ))
    return systems


def _units_label(units: dict | None) -> str | None:
    """model.yaml `units` as a short label: its kind and size."""
    units = units or {}
    label = " ".join(str(x) for x in (units.get("kind"), units.get("vocab_size") or units.get("size"))
                     if x is not None)
    return label or None


def summary_row(system: System) -> dict:
    s, model = system.scores, system.model
    train = model.get("train") if isinstance(model.get("train"), dict) else {}
    return {
        "system": system.name,
        "pipeline": model.get("pipeline"),
        "units": _units_label(model.get("units")),
        "wer": s.get("wer"),
        "ci95": s.get("ci95"),
        "ins": s.get("ins"),
        "del": s.get("del"),
        "sub": s.get("sub"),
        "rtf": system.decode.get("rtf"),
        "train_seconds": train.get("wall_seconds"),  # wall-clock training time; "seconds" is audio
        "params": model.get("params"),
    }


# ---------------------------------------------------------------- paired tests

def paired_test(a: System, b: System) -> dict:
    """Paired bootstrap of A against B over their shared test utterances (see asr.scoring)."""
    result = {"a": a.name, "b": b.name}
    words_a = {u: v["words"] for u, v in a.per_utt.items()}
    words_b = {u: v["words"] for u, v in b.per_utt.items()}
    if words_a != words_b:
        result["note"] = "not compared: scored on different test sets"
        return result
    utts = sorted(words_a)
    if sum(words_a.values()) == 0:
        result["note"] = "not compared: no reference words"
        return result
    result.update(paired_bootstrap_counts([words_a[u] for u in utts],
                                          [a.per_utt[u]["errors"] for u in utts],
                                          [b.per_utt[u]["errors"] for u in utts]))
    return result


def format_p(p: float) -> str:
    return f"p<{P_RESOLUTION:g}" if p < P_RESOLUTION else f"p={p:.3f}".rstrip("0").rstrip(".")


def pair_sentence(t: dict) -> str:
    """'A vs B: -2.1 points, p=0.03 (...)': WER of A minus WER of B, two-sided p."""
    if "note" in t:
        return f"{t['a']} vs {t['b']}: {t['note']}"
    low, high = t["ci95"]
    better = t["a"] if t["delta"] < 0 else t["b"]
    share = t["poi"] if t["delta"] < 0 else 1.0 - t["poi"]
    text = (f"{t['a']} vs {t['b']}: {t['delta']:+.1f} points, {format_p(t['p_two_sided'])} "
            f"(95% interval {low:+.1f} to {high:+.1f}")
    if t["delta"] == 0:
        return text + ")"
    return text + f"; {better} better in {100 * share:.0f}% of resamples)"


def pairwise_tests(systems: list[System]) -> list[dict]:
    return [paired_test(a, b) for a, b in itertools.combinations(systems, 2)]


# ---------------------------------------------------------------- plots

def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and CI
    import matplotlib.pyplot as plt

    return plt


def _colour(pipeline) -> str:
    return PIPELINE_COLOURS.get(pipeline, OTHER_COLOUR)


def plot_wer_bars(rows: list[dict], out_png) -> Path:
    """Bar per system, WER with its 95% interval as an error bar."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(4.0, 1.3 * len(rows) + 2), 4.5))
    try:
        x = np.arange(len(rows))
        wers = [r["wer"] if r["wer"] is not None else 0.0 for r in rows]
        below = [max(0.0, w - r["ci95"][0]) if _has_interval(r) else 0.0 for w, r in zip(wers, rows)]
        above = [max(0.0, r["ci95"][1] - w) if _has_interval(r) else 0.0 for w, r in zip(wers, rows)]
        ax.bar(x, wers, yerr=[below, above], capsize=6, color=[_colour(r["pipeline"]) for r in rows])
        for xi, w, r in zip(x, wers, rows):
            ax.annotate("n/a" if r["wer"] is None else f"{w:.1f}", (xi, w), xytext=(6, 3),
                        textcoords="offset points", fontsize=9)
        ax.set_xticks(x, [r["system"] for r in rows], rotation=20, ha="right")
        ax.set_ylabel("WER (%)")
        ax.set_title("Word error rate with 95% bootstrap intervals")
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        return _save(fig, out_png)
    finally:
        plt.close(fig)


def _has_interval(row: dict) -> bool:
    ci = row.get("ci95")
    return bool(ci) and row.get("wer") is not None and None not in ci


def _save(fig, out_png) -> Path:
    out_png = Path(out_png)
    with atomic_write(out_png, "wb") as f:
        fig.savefig(f, format="png", dpi=PLOT_DPI)
    return out_png


def _curve_name(point: dict) -> str:
    return point.get("system") or point["pipeline"]


def _curves(points: list[dict]) -> dict[str, list[dict]]:
    """Points grouped by system (first-seen order), sorted by hours; checked for log scale."""
    curves: dict[str, list[dict]] = {}
    for p in points:
        for key in ("pipeline", "hours", "wer"):
            if p.get(key) is None:
                raise AsrError(f"learning-curve point without {key!r}: {p}")
        if not p["hours"] > 0:
            raise AsrError(f"learning-curve point with hours <= 0 (log scale): {p}")
        curves.setdefault(_curve_name(p), []).append(p)
    for name, pts in curves.items():
        pts.sort(key=lambda p: p["hours"])
        hours = [p["hours"] for p in pts]
        if len(set(hours)) < len(hours):
            raise AsrError(f"learning curve {name!r} has two points at the same hours: {hours}")
    return curves


def curve_points(decode_dirs) -> list[dict]:
    """Learning-curve points from scored decode dirs: the curve is the system (model dir name), the
    size its training hours (from model.yaml in the decode dir's parent, with the pipeline)."""
    points = []
    for d in map(Path, decode_dirs):
        model_path = d.parent / MODEL_FILE
        model = _read_model(d.parent)
        train = model.get("train") if isinstance(model.get("train"), dict) else {}
        if model.get("pipeline") is None or train.get("hours") is None:
            raise AsrError(f"{model_path}: needs 'pipeline' and 'train: hours' for a learning-curve point")
        scores = _read_json(d / "scores.json")
        points.append({"system": system_name(d.resolve()), "pipeline": model["pipeline"],
                       "hours": float(train["hours"]),
                       "wer": scores.get("wer"), "ci95": scores.get("ci95"), "decode_dir": str(d)})
    return points


def _per_utterance(pts: list[dict]) -> tuple[list[list[int]] | None, list[int] | None, str]:
    """Per-utterance errors (sizes x utterances) and words of a curve's points from the per_utt.json
    beside each point's scores, or (None, None, why not) when a size has none or the test sets differ."""
    paths = [Path(p["decode_dir"]) / "per_utt.json" if p.get("decode_dir") else None for p in pts]
    if not all(path is not None and path.is_file() for path in paths):
        return None, None, "no per-utterance scores"
    per_utt = [_read_json(path) for path in paths]
    utts = sorted(per_utt[0])
    words = [per_utt[0][u]["words"] for u in utts]
    if any(sorted(scored) != utts or [scored[u]["words"] for u in utts] != words for scored in per_utt):
        return None, None, "sizes scored on different test sets"
    return [[scored[u]["errors"] for u in utts] for scored in per_utt], words, ""


def law_curves(points: list[dict]) -> tuple[list[learning_law.Curve], dict[str, str]]:
    """The points as curves for asr.learning_law, with per-utterance scores where every size has
    them on one test set; and, per curve without them, why (for the report)."""
    curves, why_not = [], {}
    for name, pts in _curves(points).items():
        errors, words, why = _per_utterance(pts)
        if why:
            why_not[name] = why
        curves.append(learning_law.make_curve(name, [p["hours"] for p in pts], [p["wer"] for p in pts],
                                              errors, words))
    return curves, why_not


def _plot_hours_max(curves: dict[str, list[dict]], analysis) -> float:
    """Where the drawn laws end: PLOT_MAX_HOURS, or further to show a stated crossover."""
    largest = max(p["hours"] for pts in curves.values() for p in pts)
    stated = [x.fitted[0] for x in analysis.crossovers if x.verdict == "crosses"]
    return max([PLOT_MAX_HOURS, 2 * largest] + [2 * h for h in stated if h < analysis.max_hours])


def _hour_ticks(curves: dict[str, list[dict]], x_max: float | None) -> list[float]:
    """The measured sizes (two significant digits) and, past them, the decades up to x_max."""
    measured = sorted({float(f"{p['hours']:.2g}") for pts in curves.values() for p in pts})
    ticks = measured[:1]
    for h in measured[1:]:
        if h > TICK_GAP * ticks[-1]:  # 0.068 and 0.07 h would print over each other
            ticks.append(h)
    if x_max:
        ticks += [10.0 ** k for k in range(-3, 6) if 2 * measured[-1] < 10.0 ** k <= x_max]
    return ticks


def plot_learning_curves(points: list[dict], out_png, analysis=None) -> Path:
    """WER against training hours (log x), one line per system with its 95% interval band; systems
    of one pipeline share its colour and differ in line style. With an asr.learning_law Analysis, a
    fitted curve is drawn as its law, with its 95% bootstrap band, past the measured sizes, and the
    measured points as dots with their 95% intervals."""
    curves = _curves(points)
    fitted = {f.name: f for f in analysis.usable()} if analysis else {}
    x_max = _plot_hours_max(curves, analysis) if fitted else None
    plt = _pyplot()
    from matplotlib.ticker import NullFormatter

    fig, ax = plt.subplots(figsize=(8, 4.5))
    try:
        seen: list[str] = []
        for name, pts in curves.items():
            pipeline = pts[0].get("pipeline", name)
            colour = _colour(pipeline)
            style = LINE_STYLES[seen.count(pipeline) % len(LINE_STYLES)]
            seen.append(pipeline)
            if name in fitted:
                _plot_law(ax, name, pts, fitted[name], colour, style, x_max)
            else:
                _plot_measured(ax, name, pts, colour, style)
        ax.set_xscale("log")
        # ticks at the measured sizes, as plain numbers (0.2 rather than 2x10^-1)
        ax.set_xticks(_hour_ticks(curves, x_max))
        ax.xaxis.set_major_formatter(_plain_number_formatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("training data (hours, log scale)")
        ax.set_ylabel("WER (%)")
        if fitted:
            ax.set_title("Learning curves: measured WER (bars: 95% intervals), fitted laws (bands: 95%)")
            # the measured points set the height; a band that widens past them is cut off
            top = max(max(p["wer"], p["ci95"][1]) if _has_interval(p) else p["wer"] for p in points)
            ax.set_ylim(0, 1.15 * top if top > 0 else 1.0)
        else:
            ax.set_title("Learning curves: WER against training hours (bands: 95% intervals)")
            ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3, which="both")
        ax.legend()
        fig.tight_layout()
        return _save(fig, out_png)
    finally:
        plt.close(fig)


def _plot_measured(ax, name: str, pts: list[dict], colour: str, style: str) -> None:
    """Measured points joined by straight lines, their 95% intervals as a band."""
    ax.plot([p["hours"] for p in pts], [p["wer"] for p in pts], marker="o", color=colour,
            linestyle=style, label=name)
    banded = [p for p in pts if _has_interval(p)]
    if banded:
        ax.fill_between([p["hours"] for p in banded], [p["ci95"][0] for p in banded],
                        [p["ci95"][1] for p in banded], color=colour, alpha=0.2, linewidth=0)


def _plot_law(ax, name: str, pts: list[dict], fit, colour: str, style: str, x_max: float) -> None:
    """Measured points with their intervals, the fitted law from the smallest size to x_max, and
    the law's 95% bootstrap band (none when the fit has no bootstrap)."""
    hours = [p["hours"] for p in pts]
    wers = [p["wer"] for p in pts]
    below = [p["wer"] - p["ci95"][0] if _has_interval(p) else 0.0 for p in pts]
    above = [p["ci95"][1] - p["wer"] if _has_interval(p) else 0.0 for p in pts]
    ax.errorbar(hours, wers, yerr=[below, above], fmt="o", color=colour, capsize=3)
    grid = np.geomspace(hours[0], x_max, PLOT_GRID)
    label = f"{name}: {fit.fit.law.text()}" + (" (does not fit)" if fit.misfit else "")
    ax.plot(grid, fit.fit.law.wer(grid), color=colour, linestyle=style, label=label)
    limits = learning_law.band(fit.boot, grid) if fit.boot else None
    if limits is not None:
        ax.fill_between(grid, limits[0], limits[1], color=colour, alpha=0.15, linewidth=0)


def _plain_number_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, _: f"{x:.2g}" if x < 10 else f"{x:.0f}")


def _hours(h: float) -> str:
    return f"{h:.2g} h" if h < 10 else f"{h:.0f} h"


def _pair_crossing(name_a: str, a: list[dict], name_b: str, b: list[dict]) -> str:
    ha = np.array([p["hours"] for p in a])
    hb = np.array([p["hours"] for p in b])
    lo, hi = max(ha[0], hb[0]), min(ha[-1], hb[-1])
    if lo > hi:
        return (f"{name_a} and {name_b} were measured at sizes that do not overlap "
                f"({_hours(ha[0])}-{_hours(ha[-1])} vs {_hours(hb[0])}-{_hours(hb[-1])}), so they cannot be compared.")
    grid = np.unique(np.concatenate([ha, hb]))
    grid = grid[(grid >= lo) & (grid <= hi)]
    log_grid = np.log(grid)
    # both curves are straight between measured sizes in log hours, so their difference is too
    diff = (np.interp(log_grid, np.log(ha), [p["wer"] for p in a])
            - np.interp(log_grid, np.log(hb), [p["wer"] for p in b]))
    span = f"from {_hours(lo)} to {_hours(hi)}" if lo < hi else f"at {_hours(lo)}"
    nonzero = [(i, d) for i, d in enumerate(diff) if d != 0]
    if not nonzero:
        return f"{name_a} and {name_b} have the same WER at every measured size ({span})."
    crossings = []
    for (i, d1), (j, d2) in zip(nonzero, nonzero[1:]):
        if (d1 < 0) == (d2 < 0):
            continue
        if j > i + 1:  # the curves meet exactly at a measured size in between
            crossings.append(grid[i + 1])
        else:
            t = d1 / (d1 - d2)
            crossings.append(float(np.exp(log_grid[i] + t * (log_grid[j] - log_grid[i]))))
    first_better = name_a if nonzero[0][1] < 0 else name_b
    last_better = name_a if nonzero[-1][1] < 0 else name_b
    gap = abs(nonzero[-1][1])
    if not crossings:
        return (f"{name_a} and {name_b} do not cross within the measured range ({span}): "
                f"{first_better} has the lower WER throughout ({gap:.1f} points apart at {_hours(grid[nonzero[-1][0]])}).")
    where = ", ".join(f"about {_hours(h)}" for h in crossings)
    times = "once" if len(crossings) == 1 else f"{len(crossings)} times"
    if first_better == last_better:  # crossed and crossed back
        other = name_b if first_better == name_a else name_a
        order = f"{first_better} is better below the first and above the last, {other} between"
    else:
        order = f"{first_better} is better below, {last_better} above"
    return (f"{name_a} and {name_b} cross {times}, at {where} (interpolated in log hours): {order}"
            f" ({gap:.1f} points ahead at {_hours(grid[nonzero[-1][0]])}).")


def crossing_sentence(points: list[dict]) -> str:
    """Where the learning curves of each pair of systems cross, or that they don't."""
    curves = _curves(points)
    if len(curves) < 2:
        return "Only one system was measured: there are no curves to compare."
    return " ".join(_pair_crossing(a, curves[a], b, curves[b])
                    for a, b in itertools.combinations(curves, 2))


# ---------------------------------------------------------------- fitted laws (asr.learning_law)

@dataclass
class Section:
    """A titled part of the report: a paragraph, a table and bullet points (any may be empty)."""
    title: str
    text: str
    header: tuple[str, ...] = ()
    rows: list[list[str]] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)


def _with_interval(value: float, interval, spec: str) -> str:
    if interval is None:
        return format(value, spec)
    return f"{format(value, spec)} ({format(interval[0], spec)} to {format(interval[1], spec)})"


METHOD_LABELS = {"utterances": "test utterances", "counts": "error counts (Poisson)",
                 "residuals": "fit residuals"}  # learning_law's bootstraps
METHOD_TEXTS = {
    "utterances": "over the test utterances (every size has per-utterance scores; this measures "
                  "test-set sampling, not the spread between training runs)",
    "counts": "over error counts redrawn from a Poisson distribution around the fitted curve's, on the "
              "test set's words (only its size is known; narrower than an utterance bootstrap would be, as "
              "errors cluster in utterances)",
    "residuals": "over the fit's residuals (no per-utterance scores: the noise is guessed from what the "
                 "law leaves unexplained, 1 degree of freedom with 4 sizes, 2 with 5, so these intervals "
                 "can be far too narrow)",
    "none": "none where 3 sizes without per-utterance scores fit the 3 parameters exactly",
}


def _bootstrap_label(f, why_not: dict[str, str]) -> str:
    """How the intervals of a curve were made, in a few words."""
    if f.boot is None:
        return ""
    if f.boot.method == "residuals":
        return f"{METHOD_LABELS['residuals']} ({why_not.get(f.name, 'no per-utterance scores')})"
    if f.boot.method == "none":
        return f"none: {f.boot.note}"
    return METHOD_LABELS.get(f.boot.method, f.boot.method)


def law_section(analysis, why_not: dict[str, str]) -> Section:
    law = learning_law
    methods = {f.boot.method for f in analysis.fits if f.boot is not None}
    text = (f"{law.LAW}, h in hours, fitted by least squares to each system's measured sizes with a >= 0, "
            f"{law.B_MIN:g} <= b <= {law.B_MAX:g} and 0 <= c <= the lowest measured WER (c is the floor "
            f"the curve tends to). In brackets: 95% intervals from {analysis.replicates} bootstrap "
            f"replicates (seed {analysis.seed}), each refitted, "
            + "; ".join(METHOD_TEXTS[m] for m in METHOD_TEXTS if m in methods) + ". "
            "Failed: replicates whose fit did not converge, left out of the intervals. "
            "At bound: parameters that a constraint, not the data, decided. A law that misses the "
            "measured WERs by more than their test-set noise allows (squared misses over the bootstrap "
            f"variance above the chi-square limit at p={law.MISFIT_P:g}) does not fit, and no crossover "
            "or reach is predicted from it.")
    rows = []
    for f in analysis.fits:
        sizes = str(len(f.curve.hours))
        if f.boot is None:
            rows.append([f.name, sizes, "", "", "", "", "", "", f.note])
            continue
        failed = f"{f.boot.failed}/{len(f.boot.params)}" if len(f.boot.params) else ""
        rows.append([f.name, sizes,
                     _with_interval(f.fit.law.a, f.interval("a"), ".3g"),
                     _with_interval(f.fit.law.b, f.interval("b"), ".2f"),
                     _with_interval(f.fit.law.c, f.interval("c"), ".2f"),
                     f"{f.fit.rms:.2f}", _bootstrap_label(f, why_not), failed,
                     "; ".join(filter(None, [" ".join(f.fit.at_bound),
                                             f.misfit and f"does not fit: {f.misfit}"]))])
    return Section("Fitted learning curves", text,
                   ("System", "Sizes", "a", "b", "c (floor, %)", "RMS residual (points)", "Intervals from",
                    "Failed", "At bound / note"), rows)


def _hours_or_blank(h) -> str:
    return learning_law.format_hours(h) if h is not None else ""


def crossover_section(analysis) -> Section:
    law = learning_law
    text = (f"Each pair searched from the larger of its two smallest measured sizes to "
            f"{law.format_hours(analysis.max_hours)}, on {law.GRID_POINTS} log-spaced sizes. "
            f"The rule: a crossover is stated when the fitted curves cross in that range, at least "
            f"{100 * law.AGREEMENT:.0f}% of the bootstrap replicates cross in it too, the 95% interval of "
            f"their crossing hours covers less than {100 * law.WIDE:.0f}% of the range (in log hours), "
            "and the 95% band of the difference between the two curves shows each system better on its "
            "side of the crossing; "
            f"'none in range' when the fitted curves do not cross and at least {100 * law.AGREEMENT:.0f}% of "
            "replicates agree; otherwise the data cannot tell. Reach: how far past the largest size both "
            "were measured at the 95% band of the difference between the two curves still excludes zero.")
    rows = []
    for x in analysis.crossovers:
        share = f"{100 * x.share:.0f}% of {x.replicates}" if x.share is not None else "no replicates"
        interval = (f"{law.format_hours(x.interval[0])} to {law.format_hours(x.interval[1])}"
                    if x.interval else "")
        reach = (_hours_or_blank(x.reach) + (f" ({x.reach_better} better)" if x.reach_better else "")
                 if x.reach is not None else "none")
        rows.append([f"{x.a} vs {x.b}", ", ".join(map(law.format_hours, x.fitted)) or "none",
                     share, _hours_or_blank(x.median), interval, x.verdict, reach])
    bullets = [f"{x.sentence} {x.reach_sentence}" for x in analysis.crossovers]
    if not analysis.crossovers:
        text = "No pair of fitted curves to compare."
    return Section("Predicted crossovers", text,
                   ("Pair", "Fitted curves cross at", "Replicates crossing", "Their median",
                    "Their 95% interval", "Verdict", "Reach"), rows, bullets)


def validation_section(analysis) -> Section:
    text = ("Each law fitted again without its largest size, then asked to predict it. Covered: the "
            "measured WER lies inside the 95% band of the predicted curve there (a band of the curve; "
            "the held-out point's own test-set noise, its interval in the plot, is not in it).")
    rows = []
    for v in analysis.validations:
        interval = f"{v.interval[0]:.2f} to {v.interval[1]:.2f}" if v.interval else ""
        covered = {True: "yes", False: "no", None: ""}[v.covered]
        rows.append([v.name, learning_law.format_hours(v.hours), f"{v.measured:.2f}",
                     _fmt(v.predicted, ".2f", "n/a"), _fmt(v.error, "+.2f"), interval, covered,
                     v.note or METHOD_LABELS.get(v.method, v.method)])
    if not rows:
        text = (f"Not possible: no curve has the {learning_law.MIN_SIZES + 1} sizes needed "
                f"(fitting {learning_law.MIN_SIZES} parameters to what is left).")
    return Section("Hold-out check: predict the largest size", text,
                   ("System", "Held out", "Measured WER %", "Predicted %", "Error (points)",
                    "95% interval", "Covered", "Intervals from / note"), rows)


def law_sections(analysis, why_not: dict[str, str]) -> list[Section]:
    """The fitted laws, the predicted crossovers and the hold-out check as report sections."""
    if all(f.fit is None for f in analysis.fits):
        return [Section("Fitted learning curves",
                        f"Not fitted: every curve has fewer than {learning_law.MIN_SIZES} sizes, and "
                        f"{learning_law.LAW} has {learning_law.MIN_SIZES} parameters.")]
    return [law_section(analysis, why_not), crossover_section(analysis), validation_section(analysis)]


def markdown_section(section: Section) -> list[str]:
    """A report section as Markdown lines (a level-3 heading, its text, table and bullets)."""
    lines = ["", f"### {section.title}", "", section.text]
    if section.rows:
        lines += ["", "| " + " | ".join(section.header) + " |", "|" + "|".join("---" for _ in section.header) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in section.rows]
    if section.bullets:
        lines += [""] + [f"- {b}" for b in section.bullets]
    return lines


def _html_section(section: Section) -> list[str]:
    e = html.escape
    parts = [f"<h3>{e(section.title)}</h3>", f"<p>{e(section.text)}</p>"]
    if section.rows:
        head = "".join(f"<th>{e(h)}</th>" for h in section.header)
        body = "\n".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in section.rows)
        parts.append(f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>")
    if section.bullets:
        parts.append("<ul>" + "".join(f"<li>{e(b)}</li>" for b in section.bullets) + "</ul>")
    return parts


# ---------------------------------------------------------------- tables and documents

def _fmt(value, spec: str = "", blank: str = "") -> str:
    if value is None:
        return blank
    return format(value, spec)


def _params(n) -> str:
    if n is None:
        return ""
    return f"{n / 1e6:.2f}M" if n >= 1e5 else f"{n / 1e3:.1f}k" if n >= 1e3 else str(n)


TABLE_HEADER = ("System", "Pipeline", "Units", "WER %", "95% interval", "Ins", "Del", "Sub",
                "RTF", "Train s", "Params")


def table_cells(row: dict) -> list[str]:
    ci = row["ci95"]
    interval = f"{ci[0]:.2f}-{ci[1]:.2f}" if ci and None not in ci else ""
    return [row["system"], _fmt(row["pipeline"]), _fmt(row["units"]),
            _fmt(row["wer"], ".2f", "n/a"), interval,
            _fmt(row["ins"]), _fmt(row["del"]), _fmt(row["sub"]),
            _fmt(row["rtf"], ".3f"), _fmt(row["train_seconds"], ".0f"), _params(row["params"])]


def wer_line(row: dict, scores: dict) -> str:
    """Kaldi RESULTS style: `%WER 10.61 [ 82 / 773, 4 ins, 10 del, 68 sub ] system`."""
    wer = "inf" if scores.get("wer") is None else f"{scores['wer']:.2f}"
    return (f"%WER {wer} [ {scores['errors']} / {scores['words']}, {scores['ins']} ins, "
            f"{scores['del']} del, {scores['sub']} sub ] {row['system']}")


def markdown(rows, systems, pairs, bars_png: str, curves: tuple[str, str, list[Section]] | None) -> str:
    lines = ["# ASR comparison", "", "| " + " | ".join(TABLE_HEADER) + " |",
             "|" + "|".join("---" for _ in TABLE_HEADER) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in table_cells(r)) + " |" for r in rows]
    lines += ["", f"![WER with 95% intervals]({bars_png})", "", "```"]
    lines += [wer_line(r, s.scores) for r, s in zip(rows, systems)]
    lines += ["```", "", "## Paired significance tests", "",
              "WER of the first system minus the second, in points; two-sided p-value from a paired "
              "bootstrap over utterances (Bisani & Ney 2004).", ""]
    lines += [f"- {pair_sentence(t)}" for t in pairs] or ["- (one system: nothing to compare)"]
    if curves:
        png, sentence, sections = curves
        lines += ["", "## Learning curves", "", f"![Learning curves]({png})", "", sentence]
        for section in sections:
            lines += markdown_section(section)
    return "\n".join(lines) + "\n"


def _img(png: Path, alt: str) -> str:
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


HTML_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #bbb; padding: 0.3em 0.7em; text-align: right; }
th { background: #eee; }
td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; }
pre { background: #f6f6f6; padding: 0.6em; }
"""


def html_page(rows, systems, pairs, bars_png: Path, curves: tuple[Path, str, list[Section]] | None) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in TABLE_HEADER)
    body = "\n".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in table_cells(r)) + "</tr>" for r in rows)
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        "<title>ASR comparison</title>", f"<style>{HTML_STYLE}</style>", "</head>", "<body>",
        "<h1>ASR comparison</h1>",
        f'<table id="results">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>',
        _img(bars_png, "WER per system with 95% intervals"),
        "<pre>" + e("\n".join(wer_line(r, s.scores) for r, s in zip(rows, systems))) + "</pre>",
        "<h2>Paired significance tests</h2>",
        "<p>WER of the first system minus the second, in points; two-sided p-value from a paired "
        "bootstrap over utterances (Bisani &amp; Ney 2004).</p>",
        "<ul>" + "".join(f"<li>{e(pair_sentence(t))}</li>" for t in pairs) + "</ul>" if pairs
        else "<p>One system: nothing to compare.</p>",
    ]
    if curves:
        png, sentence, sections = curves
        parts += ["<h2>Learning curves</h2>", _img(png, "WER against training hours"), f"<p>{e(sentence)}</p>"]
        for section in sections:
            parts += _html_section(section)
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _write_text(path: Path, text: str) -> Path:
    with atomic_write(path) as f:
        f.write(text)
    return path


def _write_json(path: Path, obj) -> Path:
    return _write_text(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")


def compare(decode_dirs, out_dir, curve_points: list[dict] | None = None,
            replicates: int = learning_law.REPLICATES) -> dict[str, Path]:
    """Write the comparison report of the decode dirs (and learning curves, if given, with their
    fitted laws from `replicates` bootstrap replicates each) to out_dir."""
    systems = load_systems(decode_dirs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = [summary_row(s) for s in systems]
    pairs = pairwise_tests(systems)
    paths = {
        "summary": _write_json(out / "summary.json", rows),
        "pairs": _write_json(out / "pairs.json", pairs),
        "wer_plot": plot_wer_bars(rows, out / "wer.png"),
    }
    curves_md = curves_html = None
    if curve_points:
        paths["curves"] = _write_json(out / "curves.json", curve_points)
        curves, why_not = law_curves(curve_points)
        analysis = learning_law.analyse(curves, replicates=replicates)
        paths["laws"] = _write_json(out / "laws.json", analysis.to_json())
        paths["curves_plot"] = plot_learning_curves(curve_points, out / "learning_curves.png", analysis)
        sentence = crossing_sentence(curve_points)
        sections = law_sections(analysis, why_not)
        curves_md = (paths["curves_plot"].name, sentence, sections)
        curves_html = (paths["curves_plot"], sentence, sections)
    paths["markdown"] = _write_text(out / "report.md",
                                    markdown(rows, systems, pairs, paths["wer_plot"].name, curves_md))
    paths["html"] = _write_text(out / "report.html",
                                html_page(rows, systems, pairs, paths["wer_plot"], curves_html))
    return paths
