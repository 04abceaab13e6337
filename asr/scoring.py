"""Word error rate the way Kaldi and sclite report it, with alignments from jiwer.

`score(refs, hyps)` aligns every utterance (jiwer's Levenshtein alignment over words) and sums
insertions, deletions and substitutions; `write_scores` writes Kaldi-style files:

- `wer.txt`: `%WER 10.61 [ 82 / 773, 4 ins, 10 del, 68 sub ]`, `%SER ...`, a "Scored" line.
- `scores.json`: the totals, and `ci95`, a 95% bootstrap interval over utterances.
- `per_utt.txt`: for each utterance the aligned ref/hyp/op lines and `#csid` counts, `***` for a
  gap (Kaldi's `per_utt`); `per_utt.json` the per-utterance counts that `asr compare` pairs up.
- `per_spk.txt` (with utt2spk): Kaldi's per-speaker table; `confusions.txt`: the most frequent
  substitution pairs, insertions and deletions.

Conventions, chosen to match Kaldi's `compute-wer --mode=all`:
- an utterance with no hypothesis is scored as an empty hypothesis (all deletions); a warning
  names it and `wer.txt` says `[PARTIAL]`;
- a hypothesis for an utterance that is not in the reference is an error: it cannot be scored
  and usually means the reference and hypothesis come from different data sets;
- WER over zero reference words is 0 when there are no errors and infinite otherwise
  (Kaldi's 100 * errors / words); scores.json writes an infinite WER as null.
Words are whitespace-separated tokens compared exactly (case-sensitive), as Kaldi does.

Bootstrap intervals and the paired test follow Bisani & Ney (2004), "Bootstrap estimates for
confidence intervals in ASR performance evaluation": utterances are resampled with replacement
and the WER of each resample is total errors over total words of that resample.
"""
from __future__ import annotations

import json
import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import jiwer
import numpy as np

from asr.datadir import read_transcripts
from asr.errors import AsrError
from asr.fileio import atomic_write, read_map

log = logging.getLogger(__name__)

BOOTSTRAP_RESAMPLES = 1000  # one thousand resamples: 25 in each 2.5% tail of the interval
BOOTSTRAP_SEED = 0  # fixed, so the same scores always give the same interval
CONFIDENCE = 0.95  # ninety-five percent intervals
TOP_CONFUSIONS = 30  # rows per kind in confusions.txt
GAP = "***"  # sclite/Kaldi filler for the missing side of an insertion or deletion
MAX_NAMED = 5  # utterance ids quoted in a warning or error before "..."
BOOTSTRAP_CHUNK = 200  # resamples drawn at once, bounding memory to 200 x utterances ints

# Kaldi's op letters: correct, substitution, insertion, deletion
CORRECT, SUB, INS, DEL = "C", "S", "I", "D"
OP_OF_CHUNK = {"equal": CORRECT, "substitute": SUB, "insert": INS, "delete": DEL}


@dataclass
class UttScore:
    """One utterance aligned: `ops[i]` relates `ref[i]` to `hyp[i]` (GAP on the missing side)."""

    utt: str
    ref: list[str]
    hyp: list[str]
    ops: list[str]
    speaker: str | None = None
    missing: bool = False  # no hypothesis was given: scored as empty

    @property
    def words(self) -> int:
        return sum(op != INS for op in self.ops)

    def count(self, op: str) -> int:
        return sum(o == op for o in self.ops)

    @property
    def errors(self) -> int:
        return sum(op != CORRECT for op in self.ops)


@dataclass
class Scores:
    """Totals over a test set, with the per-utterance alignments they were summed from."""

    wer: float  # percent; inf when there are errors but no reference words
    errors: int
    words: int
    ins: int
    dels: int
    subs: int
    sentences: int
    sentence_errors: int
    ci95: tuple[float, float]
    utts: list[UttScore] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def ser(self) -> float:
        return percent(self.sentence_errors, self.sentences)

    @property
    def correct(self) -> int:
        return self.words - self.dels - self.subs


def percent(errors: int | float, total: int | float) -> float:
    """100 * errors / total, Kaldi's way at total 0: nothing to get wrong is 0, any error is inf."""
    if total > 0:
        return 100.0 * errors / total
    return 0.0 if errors == 0 else math.inf


# ---------------------------------------------------------------- alignment

def align(refs: list[str], hyps: list[str]) -> list[tuple[list[str], list[str], list[str]]]:
    """Align each (ref, hyp) pair of strings: padded ref words, padded hyp words, op letters."""
    ref_words = [r.split() for r in refs]
    hyp_words = [h.split() for h in hyps]
    if not ref_words:
        return []
    # jiwer splits on single spaces only; joining the split words makes any whitespace a separator
    out = jiwer.process_words([" ".join(w) for w in ref_words], [" ".join(w) for w in hyp_words])
    aligned = []
    for ref, hyp, chunks in zip(ref_words, hyp_words, out.alignments):
        r_out, h_out, ops = [], [], []
        for c in chunks:
            if c.type not in OP_OF_CHUNK:  # a jiwer change we have not seen: fail, don't miscount
                raise RuntimeError(f"unknown jiwer alignment chunk type {c.type!r}")
            r = ref[c.ref_start_idx:c.ref_end_idx]
            h = hyp[c.hyp_start_idx:c.hyp_end_idx]
            n = max(len(r), len(h))  # equal and substitute chunks have len(r) == len(h)
            r_out += r or [GAP] * n
            h_out += h or [GAP] * n
            ops += [OP_OF_CHUNK[c.type]] * n
        aligned.append((r_out, h_out, ops))
    return aligned


def _named(ids: list[str]) -> str:
    shown = ", ".join(ids[:MAX_NAMED])
    return shown + (", ..." if len(ids) > MAX_NAMED else "")


def align_utterances(refs: dict[str, str], hyps: dict[str, str],
                     utt2spk: dict[str, str] | None = None) -> tuple[list[UttScore], list[str]]:
    """UttScores in sorted utterance order, and the utterances that had no hypothesis."""
    extra = sorted(set(hyps) - set(refs))
    if extra:
        raise AsrError(f"hypotheses for {len(extra)} utterance(s) not in the reference: {_named(extra)}")
    utts = sorted(refs)
    missing = [u for u in utts if u not in hyps]
    if missing:
        log.warning("no hypothesis for %d of %d utterance(s), scored as all deletions: %s",
                    len(missing), len(utts), _named(missing))
    if utt2spk:  # an empty map means no speaker information, as None does
        no_speaker = [u for u in utts if u not in utt2spk]
        if no_speaker:
            raise AsrError(f"utt2spk has no speaker for {len(no_speaker)} utterance(s): {_named(no_speaker)}")
    aligned = align([refs[u] for u in utts], [hyps.get(u, "") for u in utts])
    missing_set = set(missing)
    scores = [UttScore(u, r, h, ops, utt2spk[u] if utt2spk else None, u in missing_set)
              for u, (r, h, ops) in zip(utts, aligned)]
    return scores, missing


# ---------------------------------------------------------------- bootstrap

def _resample_indices(num_utts: int, resamples: int, seed: int):
    """Yield blocks of utterance indices, one row per bootstrap resample (with replacement)."""
    rng = np.random.default_rng(seed)
    for start in range(0, resamples, BOOTSTRAP_CHUNK):
        rows = min(BOOTSTRAP_CHUNK, resamples - start)
        yield rng.integers(0, num_utts, size=(rows, num_utts))


def bootstrap_ci(errors, words, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                 confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile bootstrap interval of the WER (percent) from per-utterance errors and words."""
    errors = np.asarray(errors, dtype=np.int64)
    words = np.asarray(words, dtype=np.int64)
    if len(errors) == 0:
        return (0.0, 0.0)
    wers = []
    for idx in _resample_indices(len(errors), resamples, seed):
        e, w = errors[idx].sum(axis=1), words[idx].sum(axis=1)
        wers += [percent(a, b) for a, b in zip(e.tolist(), w.tolist())]
    return _interval(np.array(wers), confidence)


def _interval(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile interval; the outer order statistics, so that an infinite WER never meets inf - inf."""
    tail = 100.0 * (1.0 - confidence) / 2
    low = np.percentile(values, tail, method="lower")
    high = np.percentile(values, 100.0 - tail, method="higher")
    return (float(low), float(high))


def paired_bootstrap_counts(words, errors_a, errors_b, resamples: int = BOOTSTRAP_RESAMPLES,
                            seed: int = BOOTSTRAP_SEED) -> dict:
    """Bisani & Ney's paired bootstrap on per-utterance counts of two systems on the same test set.

    Returns `delta` (WER of A minus WER of B, points), its 95% interval `ci95`, `poi` (the
    probability of improvement: share of resamples where A has the lower WER), `p_value`
    (1 - poi: the probability that A is not better than B) and `p_two_sided`.
    """
    words = np.asarray(words, dtype=np.int64)
    errors_a = np.asarray(errors_a, dtype=np.int64)
    errors_b = np.asarray(errors_b, dtype=np.int64)
    if not (len(words) == len(errors_a) == len(errors_b)):
        raise ValueError("paired bootstrap needs the same utterances for both systems")
    if len(words) == 0 or words.sum() == 0:
        raise AsrError("paired bootstrap needs at least one reference word")
    delta = percent(errors_a.sum(), words.sum()) - percent(errors_b.sum(), words.sum())
    deltas = []
    for idx in _resample_indices(len(words), resamples, seed):
        w = words[idx].sum(axis=1)
        keep = w > 0  # a resample of only empty references has no WER: leave it out
        diff = (errors_a[idx].sum(axis=1) - errors_b[idx].sum(axis=1))[keep]
        deltas.append(100.0 * diff / w[keep])
    deltas = np.concatenate(deltas)
    poi = float(np.mean(deltas < 0))
    not_worse = float(np.mean(deltas <= 0))
    low, high = _interval(deltas)
    return {
        "delta": float(delta),
        "ci95": [float(low), float(high)],
        "poi": poi,
        "p_value": 1.0 - poi,
        # two-sided: twice the smaller tail, the share of resamples on the far side of zero
        "p_two_sided": min(1.0, 2.0 * min(1.0 - poi, not_worse)),
        "resamples": int(len(deltas)),
        "seed": seed,
    }


def paired_bootstrap(refs: dict[str, str], hyps_a: dict[str, str], hyps_b: dict[str, str],
                     resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> dict:
    """Is system A better than B on these references? See `paired_bootstrap_counts`."""
    a, _ = align_utterances(refs, hyps_a)
    b, _ = align_utterances(refs, hyps_b)
    return paired_bootstrap_counts([u.words for u in a], [u.errors for u in a],
                                   [u.errors for u in b], resamples, seed)


# ---------------------------------------------------------------- scoring

def totals(utts: list[UttScore]) -> dict[str, int]:
    counts = Counter(op for u in utts for op in u.ops)
    return {"words": counts[CORRECT] + counts[SUB] + counts[DEL], "ins": counts[INS],
            "dels": counts[DEL], "subs": counts[SUB],
            "errors": counts[INS] + counts[DEL] + counts[SUB],
            "sentences": len(utts), "sentence_errors": sum(u.errors > 0 for u in utts)}


def score(refs: dict[str, str], hyps: dict[str, str], utt2spk: dict[str, str] | None = None) -> Scores:
    """Score hypotheses against references (both `utt -> text`); see the module notes."""
    utts, missing = align_utterances(refs, hyps, utt2spk)
    t = totals(utts)
    ci = bootstrap_ci([u.errors for u in utts], [u.words for u in utts])
    return Scores(wer=percent(t["errors"], t["words"]), ci95=ci, utts=utts, missing=missing, **t)


def edit_distance(ref, hyp) -> int:
    """Levenshtein distance between two token sequences (substitutions, insertions, deletions
    each cost 1): for phone and unit error rates, where WER's word alignments are not needed."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        diagonal, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (r != h))
    return row[-1]


def wer(refs: dict[str, str], hyps: dict[str, str]) -> float:
    """WER in percent without the interval or files: for tuning loops."""
    utts, _ = align_utterances(refs, hyps)
    t = totals(utts)
    return percent(t["errors"], t["words"])


def score_files(ref_path, hyp_path, utt2spk_path=None) -> Scores:
    """Score a hypothesis `text` file against a reference `text` file (Kaldi tables, read by
    asr.datadir.read_transcripts: any whitespace after the id, upper case, UTF-8)."""
    refs = read_transcripts(ref_path)
    hyps = read_transcripts(hyp_path)
    if not refs:
        raise AsrError(f"{ref_path}: no utterances to score")
    extra = sorted(set(hyps) - set(refs))
    if extra:
        raise AsrError(f"{hyp_path}: hypotheses for {len(extra)} utterance(s) not in "
                       f"reference {ref_path}: {_named(extra)}")
    utt2spk = None
    if utt2spk_path is not None:
        utt2spk = read_map(utt2spk_path)
        no_speaker = sorted(set(refs) - set(utt2spk))
        if no_speaker:
            raise AsrError(f"{utt2spk_path}: no speaker for {len(no_speaker)} utterance(s) "
                           f"of {ref_path}: {_named(no_speaker)}")
    return score(refs, hyps, utt2spk)


# ---------------------------------------------------------------- writing

def wer_lines(s: Scores) -> list[str]:
    """Kaldi compute-wer's summary lines."""
    partial = " [PARTIAL]" if s.missing else ""
    return [
        f"%WER {s.wer:.2f} [ {s.errors} / {s.words}, {s.ins} ins, {s.dels} del, {s.subs} sub ]{partial}",
        f"%SER {s.ser:.2f} [ {s.sentence_errors} / {s.sentences} ]",
        f"Scored {s.sentences} sentences, {len(s.missing)} not present in hyp.",
    ]


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None  # JSON has no infinity


def scores_dict(s: Scores) -> dict:
    return {
        "wer": _finite_or_none(s.wer), "errors": s.errors, "words": s.words,
        "ins": s.ins, "del": s.dels, "sub": s.subs,
        "sentences": s.sentences, "sentence_errors": s.sentence_errors,
        "ser": _finite_or_none(s.ser),
        "ci95": [_finite_or_none(x) for x in s.ci95],
        "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED, "confidence": CONFIDENCE},
        "missing": s.missing,
    }


def per_utt_lines(s: Scores) -> list[str]:
    """Kaldi's per_utt: ref/hyp/op rows with columns padded to line up, then #csid counts."""
    lines = []
    for u in s.utts:
        widths = [max(len(r), len(h), 1) for r, h in zip(u.ref, u.hyp)]
        for label, row in (("ref", u.ref), ("hyp", u.hyp), ("op", u.ops)):
            cells = " ".join(t.ljust(w) for t, w in zip(row, widths)).rstrip()
            lines.append(f"{u.utt} {label:<3} {cells}".rstrip())
        c, sb, i, d = (u.count(op) for op in (CORRECT, SUB, INS, DEL))
        lines.append(f"{u.utt} #csid {c} {sb} {i} {d}")
    return lines


def per_utt_dict(s: Scores) -> dict:
    return {u.utt: {"words": u.words, "errors": u.errors, "ins": u.count(INS), "del": u.count(DEL),
                    "sub": u.count(SUB), "speaker": u.speaker, "missing": u.missing}
            for u in s.utts}


def per_spk_lines(s: Scores) -> list[str]:
    """Kaldi's per_spk table: raw counts and percentages for each speaker, then the sum."""
    groups: dict[str, list[UttScore]] = {}
    for u in s.utts:
        groups.setdefault(u.speaker, []).append(u)
    header = ("SPEAKER", "id", "#SENT", "#WORD", "Corr", "Sub", "Ins", "Del", "Err", "S.Err")
    rows = [header]
    for name, utts in [*sorted(groups.items()), ("SUM", s.utts)]:
        t = totals(utts)
        corr = t["words"] - t["dels"] - t["subs"]
        raw = (corr, t["subs"], t["ins"], t["dels"], t["errors"])
        rows.append((name, "raw", t["sentences"], t["words"], *raw, t["sentence_errors"]))
        pct = [f"{percent(x, t['words']):.2f}" for x in raw]
        rows.append((name, "sys", t["sentences"], t["words"], *pct,
                     f"{percent(t['sentence_errors'], t['sentences']):.2f}"))
    first = max(len(str(r[0])) for r in rows)
    return [str(r[0]).ljust(first) + "".join(str(x).rjust(8) for x in r[1:]) for r in rows]


def confusions(s: Scores) -> dict[str, Counter]:
    subs, ins, dels = Counter(), Counter(), Counter()
    for u in s.utts:
        for r, h, op in zip(u.ref, u.hyp, u.ops):
            if op == SUB:
                subs[(r, h)] += 1
            elif op == INS:
                ins[h] += 1
            elif op == DEL:
                dels[r] += 1
    return {"substitution": subs, "insertion": ins, "deletion": dels}


def confusion_lines(s: Scores, top: int = TOP_CONFUSIONS) -> list[str]:
    """The most frequent errors of each kind, Kaldi ops style: `kind ref hyp count`."""
    lines = []
    for kind, counter in confusions(s).items():
        lines.append(f"# {kind}s: {len(counter)} distinct, {sum(counter.values())} in all; top {top}")
        # most frequent first; ties in word order so that the file is reproducible
        for key, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:top]:
            ref, hyp = key if kind == "substitution" else ((key, GAP) if kind == "deletion" else (GAP, key))
            lines.append(f"{kind:<12} {ref:<15} {hyp:<15} {n}")
    return lines


def _write_lines(path: Path, lines: list[str]) -> None:
    with atomic_write(path) as f:
        f.write("".join(line + "\n" for line in lines))


def _write_json(path: Path, obj) -> None:
    with atomic_write(path) as f:
        json.dump(obj, f, indent=2, allow_nan=False)
        f.write("\n")


def write_scores(scores: Scores, out_dir) -> None:
    """wer.txt, scores.json, per_utt.txt, per_utt.json, confusions.txt, per_spk.txt (with speakers)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_lines(out / "wer.txt", wer_lines(scores))
    _write_json(out / "scores.json", scores_dict(scores))
    _write_lines(out / "per_utt.txt", per_utt_lines(scores))
    _write_json(out / "per_utt.json", per_utt_dict(scores))
    _write_lines(out / "confusions.txt", confusion_lines(scores))
    if scores.utts and all(u.speaker is not None for u in scores.utts):
        _write_lines(out / "per_spk.txt", per_spk_lines(scores))
