"""Transcript formats, parsed back with the subtitle libraries people use (srt, webvtt-py)."""
import io
import json

import srt
import webvtt

from asr.formats import CUE_MAX_CHARS, cues, render
from asr.search import Hypothesis, Word

# "ENTER SIX TWO FOUR", a pause, then a long run of spelled letters
HYP = Hypothesis([Word("ENTER", 0.31, 0.72, 0.9), Word("SIX", 0.75, 1.1, 0.8), Word("TWO", 1.12, 1.4, 0.95),
                  Word("FOUR", 1.41, 1.8, 0.7)]
                 + [Word(c, 3.0 + 0.3 * i, 3.25 + 0.3 * i, 0.5) for i, c in enumerate("ROBERTSROBERTSROBERTSROBERTS")],
                 score=-123.4)


def test_srt_parses_back_with_times_and_text():
    subs = list(srt.parse(render("srt", HYP)))
    assert subs[0].content == "ENTER SIX TWO FOUR"
    assert subs[0].start.total_seconds() == 0.31 and subs[0].end.total_seconds() == 1.8
    assert " ".join(s.content for s in subs) == HYP.text
    assert all(len(s.content) <= CUE_MAX_CHARS for s in subs)
    assert all(a.end <= b.start for a, b in zip(subs, subs[1:]))


def test_vtt_parses_back():
    captions = webvtt.from_buffer(io.StringIO(render("vtt", HYP)))
    assert captions[0].start == "00:00:00.310" and captions[0].text == "ENTER SIX TWO FOUR"
    assert " ".join(c.text for c in captions) == HYP.text


def test_pause_starts_a_new_cue():
    groups = cues(HYP.words)
    assert [w.word for w in groups[0]] == ["ENTER", "SIX", "TWO", "FOUR"]  # 1.2 s pause follows


def test_json_has_words_with_times_and_nbest():
    out = json.loads(render("json", HYP, name="x.wav", nbest=[HYP, Hypothesis([Word("A", 0, 1, 1)], -200)]))
    assert out["text"] == HYP.text and out["words"][1] == {"word": "SIX", "start": 0.75, "end": 1.1, "confidence": 0.8}
    assert [n["text"] for n in out["nbest"]] == [HYP.text, "A"]


def test_ctm_tsv_txt():
    ctm = render("ctm", HYP, name="utt1").splitlines()
    assert ctm[0] == "utt1 1 0.31 0.41 ENTER 0.900"
    tsv = render("tsv", HYP).splitlines()
    assert tsv[0] == "start\tend\tword\tconfidence" and tsv[1] == "310\t720\tENTER\t0.900"
    assert render("txt", HYP) == HYP.text + "\n"
    assert render("srt", Hypothesis()) == ""
