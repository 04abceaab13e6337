"""Transcript output formats people already use: txt, json, srt, vtt, ctm, tsv.

Subtitles group words into cues the way subtitle guidelines do: a cue ends at a pause, or before it
grows past CUE_MAX_SECONDS or CUE_MAX_CHARS.
"""
from __future__ import annotations

import json

from asr.search import Hypothesis, Word

FORMATS = ("txt", "json", "srt", "vtt", "ctm", "tsv")
# Formats several transcripts can share one stream in (render_named): every line names its file.
# srt and vtt cannot (one document per recording): several inputs need an output dir.
STREAM_FORMATS = ("txt", "json", "ctm", "tsv")
CUE_MAX_SECONDS = 6.0  # six seconds: a reader's comfortable maximum for one subtitle
CUE_MAX_CHARS = 42  # forty-two characters: the usual one-line subtitle width
CUE_PAUSE_SECONDS = 0.5  # a half-second silence between words starts a new cue


def render(fmt: str, hyp: Hypothesis, name: str = "audio", nbest: list[Hypothesis] | None = None,
           duration: float | None = None) -> str:
    """The transcript `hyp` of recording `name` as text in format `fmt`."""
    if fmt == "txt":
        return hyp.text + "\n"
    if fmt == "json":
        return json.dumps(to_json(hyp, name, nbest, duration), indent=2) + "\n"
    if fmt == "srt":
        return "".join(f"{i}\n{_stamp(c[0].start, ',')} --> {_stamp(c[-1].end, ',')}\n{_line(c)}\n\n"
                       for i, c in enumerate(cues(hyp.words), 1))
    if fmt == "vtt":
        return "WEBVTT\n\n" + "".join(f"{_stamp(c[0].start, '.')} --> {_stamp(c[-1].end, '.')}\n{_line(c)}\n\n"
                                      for c in cues(hyp.words))
    if fmt == "ctm":
        return "".join(f"{name} 1 {w.start:.2f} {w.end - w.start:.2f} {w.word} {w.confidence:.3f}\n" for w in hyp.words)
    if fmt == "tsv":
        rows = (f"{round(w.start * 1000)}\t{round(w.end * 1000)}\t{w.word}\t{w.confidence:.3f}\n" for w in hyp.words)
        return "start\tend\tword\tconfidence\n" + "".join(rows)
    raise ValueError(f"unknown format {fmt!r}")


def render_named(fmt: str, hyp: Hypothesis, name: str, nbest: list[Hypothesis] | None = None,
                 duration: float | None = None) -> str:
    """One of several transcripts sharing a stream, every line naming recording `name`: txt
    `name: text`; json one compact object per line (JSON Lines) with "audio": name; ctm as usual
    (its first field is the name); tsv rows with a first `audio` column (after `stream_header`)."""
    if fmt == "txt":
        return f"{name}: {hyp.text}\n"
    if fmt == "json":
        return json.dumps(to_json(hyp, name, nbest, duration)) + "\n"
    if fmt == "ctm":
        return render("ctm", hyp, name=name)
    if fmt == "tsv":
        return "".join(f"{name}\t{row}\n" for row in render("tsv", hyp).splitlines()[1:])
    raise ValueError(f"format {fmt!r} cannot hold several transcripts in one stream")


def stream_header(fmt: str) -> str:
    """What precedes render_named's transcripts: the tsv column names, else nothing."""
    return "audio\t" + render("tsv", Hypothesis()) if fmt == "tsv" else ""


def to_json(hyp: Hypothesis, name: str, nbest: list[Hypothesis] | None = None,
            duration: float | None = None) -> dict:
    out = {"audio": name, "text": hyp.text, "score": round(hyp.score, 3),
           "words": [{"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3),
                      "confidence": round(w.confidence, 4)} for w in hyp.words]}
    if duration is not None:
        out["duration"] = round(duration, 3)
    if nbest and len(nbest) > 1:
        out["nbest"] = [{"text": h.text, "score": round(h.score, 3)} for h in nbest]
    return out


def cues(words: list[Word]) -> list[list[Word]]:
    """Split words into subtitle cues at pauses and length limits."""
    groups: list[list[Word]] = []
    for w in words:
        if groups:
            cue = groups[-1]
            chars = len(_line(cue)) + 1 + len(w.word)
            if (w.start - cue[-1].end < CUE_PAUSE_SECONDS and w.end - cue[0].start <= CUE_MAX_SECONDS
                    and chars <= CUE_MAX_CHARS):
                cue.append(w)
                continue
        groups.append([w])
    return groups


def _line(cue: list[Word]) -> str:
    return " ".join(w.word for w in cue)


def _stamp(seconds: float, decimal_mark: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{decimal_mark}{ms:03d}"
