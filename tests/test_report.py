"""Comparison reports over decode dirs scored for real (AN4 references against edited hypotheses),
and the learning-curve plot and crossing sentence on hand-made points."""
import base64
import json
import re
from html.parser import HTMLParser

import pytest
import yaml

from asr import cli
from asr.errors import AsrError
from asr.report import compare, crossing_sentence, curve_points, plot_learning_curves
from asr.scoring import score, write_scores

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
AN4_LINE = re.compile(r"^(?P<text>.*)\((?P<utt>[^()]+)\)\s*$")


@pytest.fixture(scope="module")
def an4_refs(data_root):
    """AN4 test transcripts, `TEXT (utt-id)` lines; <s> </s> markers dropped where present."""
    refs = {}
    for line in (data_root / "an4" / "etc" / "an4_test.transcription").read_text().splitlines():
        m = AN4_LINE.match(line)
        refs[m["utt"]] = " ".join(w for w in m["text"].split() if w not in ("<s>", "</s>"))
    return refs


def degrade(refs: dict[str, str], every: int) -> dict[str, str]:
    """Deterministic errors: drop the first word of every `every`-th utterance and replace its last."""
    hyps = {}
    for k, (utt, text) in enumerate(sorted(refs.items())):
        words = text.split()
        if k % every == 0:
            words = words[1:-1] + ["WRONG"] if len(words) > 1 else ["WRONG"]
        hyps[utt] = " ".join(words)
    return hyps


def make_decode_dir(root, system, refs, hyps, model=None, rtf=None):
    """exp/<system>/decode_test scored by the real scoring; model.yaml / decode.json optional."""
    decode = root / system / "decode_test"
    write_scores(score(refs, hyps), decode)
    if model is not None:
        (root / system / "model.yaml").write_text(yaml.safe_dump(model))
    if rtf is not None:
        (decode / "decode.json").write_text(json.dumps({"rtf": rtf}))
    return decode


@pytest.fixture(scope="module")
def report(tmp_path_factory, an4_refs):
    root = tmp_path_factory.mktemp("exp")
    good = make_decode_dir(root, "classic-tri", an4_refs, degrade(an4_refs, 8),
                           model={"pipeline": "classic", "units": {"kind": "phones"}, "params": 123456,
                                  "train": {"utts": 948, "hours": 0.7, "seconds": 2520.0, "wall_seconds": 600.0}},
                           rtf=0.05)
    bad = make_decode_dir(root, "ctc-bpe", an4_refs, degrade(an4_refs, 2),
                          model={"pipeline": "ctc", "units": {"kind": "bpe", "vocab_size": 100},
                                 "params": 2_500_000, "train": {"seconds": 2520.0}})
    bare = make_decode_dir(root, "hybrid", an4_refs, degrade(an4_refs, 3))  # no model.yaml, no decode.json
    out = root / "report"
    paths = compare([good, bad, bare], out)
    return {"root": root, "out": out, "paths": paths, "dirs": (good, bad, bare)}


def test_summary_rows(report, an4_refs):
    rows = json.loads((report["out"] / "summary.json").read_text())
    assert [r["system"] for r in rows] == ["classic-tri", "ctc-bpe", "hybrid"]
    keys = {"system", "pipeline", "units", "wer", "ci95", "ins", "del", "sub", "rtf", "train_seconds", "params"}
    assert all(set(r) == keys for r in rows)
    classic, ctc, hybrid = rows
    expected = score(an4_refs, degrade(an4_refs, 8))
    assert classic["wer"] == pytest.approx(expected.wer)
    assert (classic["ins"], classic["del"], classic["sub"]) == (expected.ins, expected.dels, expected.subs)
    assert classic["ci95"][0] < classic["wer"] < classic["ci95"][1]
    assert (classic["pipeline"], classic["units"], classic["params"], classic["rtf"], classic["train_seconds"]) == (
        "classic", "phones", 123456, 0.05, 600.0)
    assert (ctc["pipeline"], ctc["units"], ctc["rtf"]) == ("ctc", "bpe 100", None)
    assert (hybrid["pipeline"], hybrid["units"], hybrid["params"], hybrid["rtf"]) == (None, None, None, None)
    # more degraded utterances, more errors: every 2nd > every 3rd > every 8th
    assert classic["wer"] < hybrid["wer"] < ctc["wer"]


def test_significance_direction(report):
    pairs = json.loads((report["out"] / "pairs.json").read_text())
    by_pair = {(p["a"], p["b"]): p for p in pairs}
    assert set(by_pair) == {("classic-tri", "ctc-bpe"), ("classic-tri", "hybrid"), ("ctc-bpe", "hybrid")}
    first = by_pair[("classic-tri", "ctc-bpe")]
    assert first["delta"] < 0 and first["p_value"] < 0.01 and first["p_two_sided"] < 0.01
    assert by_pair[("ctc-bpe", "hybrid")]["delta"] > 0
    md = (report["out"] / "report.md").read_text()
    assert re.search(r"^- classic-tri vs ctc-bpe: -\d+\.\d points, p[<=]0\.0\d*", md, re.M)


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.imgs, self.cells, self.open = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.imgs.append(dict(attrs))
        elif tag not in ("meta", "br"):
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open.pop() == tag, f"unbalanced </{tag}>"

    def handle_data(self, data):
        if self.open and self.open[-1] == "td":
            self.cells.append(data)


def test_html_is_one_self_contained_file(report):
    text = (report["out"] / "report.html").read_text()
    assert text.startswith("<!DOCTYPE html>")
    parser = _Collector()
    parser.feed(text)
    parser.close()
    assert not parser.open  # every tag closed
    assert "table" in parser.tags and parser.tags.count("tr") == 4  # header + three systems
    assert "classic-tri" in parser.cells and "phones" in parser.cells
    assert len(parser.imgs) == 1
    src = parser.imgs[0]["src"]
    assert src.startswith("data:image/png;base64,")
    assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_SIGNATURE)
    # nothing fetched from elsewhere: no links, scripts or external sources
    assert not re.search(r"""(src|href)=["'](?!data:)""", text)


def test_markdown_and_plot_files(report):
    out = report["out"]
    assert (out / "wer.png").read_bytes().startswith(PNG_SIGNATURE)
    md = (out / "report.md").read_text()
    assert "| System | Pipeline |" in md and "![WER with 95% intervals](wer.png)" in md
    assert re.search(r"^%WER \d+\.\d\d \[ \d+ / 773, \d+ ins, \d+ del, \d+ sub \] classic-tri$", md, re.M)


def test_cli_compare(report, capsys):
    out = report["root"] / "cli-report"
    assert cli.main(["compare", *map(str, report["dirs"][:2]), "--out", str(out)]) == 0
    assert len(json.loads((out / "summary.json").read_text())) == 2
    assert str(out / "report.html") in capsys.readouterr().out


def test_compare_needs_scores(tmp_path):
    (tmp_path / "m" / "decode_test").mkdir(parents=True)
    with pytest.raises(AsrError, match=r"decode_test/scores.json: no such file"):
        compare([tmp_path / "m" / "decode_test"], tmp_path / "out")


def test_different_test_sets_are_not_paired(tmp_path, an4_refs):
    refs = dict(sorted(an4_refs.items()))
    half = dict(list(refs.items())[:65])
    a = make_decode_dir(tmp_path, "a", refs, refs)
    b = make_decode_dir(tmp_path, "b", half, half)
    compare([a, b], tmp_path / "out")
    (pair,) = json.loads((tmp_path / "out" / "pairs.json").read_text())
    assert "different test sets" in pair["note"]


# ---------------------------------------------------------------- learning curves

def curve(pipeline, points):
    return [{"pipeline": pipeline, "hours": h, "wer": w, "ci95": [w - 2, w + 2]} for h, w in points]


def test_crossing_sentence_finds_the_crossing():
    # classic - ctc: -30 at 0.1 h, -5 at 1 h, +5 at 10 h. Straight lines in log hours cross halfway
    # between log10(1) = 0 and log10(10) = 1, at 10 ** 0.5 = 3.16 h.
    points = curve("classic", [(0.1, 30), (1, 20), (10, 15)]) + curve("ctc", [(0.1, 60), (1, 25), (10, 10)])
    sentence = crossing_sentence(points)
    assert "cross once, at about 3.2 h" in sentence
    assert "classic is better below, ctc above" in sentence


def test_crossing_sentence_without_a_crossing():
    points = curve("classic", [(0.5, 20), (1, 18), (4, 15)]) + curve("ctc", [(0.5, 40), (1, 30), (4, 20)])
    sentence = crossing_sentence(points)
    assert "do not cross within the measured range (from 0.5 h to 4 h)" in sentence
    assert "classic has the lower WER throughout" in sentence


def test_crossing_sentence_on_different_grids_interpolates_inside_the_overlap():
    # hybrid measured at 1 h and 4 h, ctc at 2 h and 8 h: the overlap is 2-4 h. hybrid at 2 h is
    # halfway (in log hours) from 20 to 10 = 15; ctc is 12 there (better); at 4 h hybrid 10 vs
    # ctc halfway from 12 to 6 = 9: ctc still better, so no crossing inside 2-4 h.
    points = curve("hybrid", [(1, 20), (4, 10)]) + curve("ctc", [(2, 12), (8, 6)])
    assert "do not cross within the measured range (from 2 h to 4 h): ctc has" in crossing_sentence(points)
    # an exact tie at a measured size between opposite signs is a crossing at that size
    points = curve("a", [(1, 10), (2, 15), (4, 20)]) + curve("b", [(1, 15), (2, 15), (4, 15)])
    assert "cross once, at about 2 h" in crossing_sentence(points)


def test_learning_curve_points_are_checked(tmp_path):
    with pytest.raises(AsrError, match="hours <= 0"):
        crossing_sentence(curve("a", [(0, 10)]) + curve("b", [(1, 10)]))
    with pytest.raises(AsrError, match="two points at the same hours"):
        plot_learning_curves(curve("a", [(1, 10), (1, 12)]), tmp_path / "x.png")


def test_learning_curve_plot_and_report_section(tmp_path, an4_refs):
    points = curve("classic", [(0.1, 30), (1, 20), (10, 15)]) + curve("ctc", [(0.1, 60), (1, 25), (10, 10)])
    png = plot_learning_curves(points, tmp_path / "curves.png")
    assert png.read_bytes().startswith(PNG_SIGNATURE) and png.stat().st_size > 10_000
    decode = make_decode_dir(tmp_path, "classic", an4_refs, an4_refs)
    compare([decode], tmp_path / "out", curve_points=points)
    html_text = (tmp_path / "out" / "report.html").read_text()
    assert html_text.count("data:image/png;base64,") == 2 and "about 3.2 h" in html_text
    assert "![Learning curves](learning_curves.png)" in (tmp_path / "out" / "report.md").read_text()


def test_cli_compare_with_learning_curve_from_decode_dirs(tmp_path, an4_refs, capsys):
    """Nested-subset models laid out as the recipes do (curve/<hours>h/<system>): classic degrades
    less at 0.2 h, ctc less at 0.8 h, so their curves cross; classic-mono is a second classic curve."""
    dirs = []
    for system, hours, every in [("classic", 0.2, 6), ("classic", 0.8, 4), ("classic-mono", 0.2, 5),
                                 ("classic-mono", 0.8, 3), ("ctc", 0.2, 2), ("ctc", 0.8, 8)]:
        dirs.append(make_decode_dir(tmp_path, f"{hours}h/{system}", an4_refs, degrade(an4_refs, every),
                                    model={"pipeline": system.split("-")[0], "train": {"hours": hours}}))
    out = tmp_path / "out"
    assert cli.main(["compare", str(dirs[1]), str(dirs[5]), "--curves", *map(str, dirs), "--out", str(out)]) == 0
    points = json.loads((out / "curves.json").read_text())
    assert [(p["system"], p["pipeline"], p["hours"]) for p in points] == [
        ("classic", "classic", 0.2), ("classic", "classic", 0.8), ("classic-mono", "classic", 0.2),
        ("classic-mono", "classic", 0.8), ("ctc", "ctc", 0.2), ("ctc", "ctc", 0.8)]
    report_md = (out / "report.md").read_text()
    assert "classic and ctc cross once" in report_md and "classic-mono and ctc" in report_md
    assert [row["system"] for row in json.loads((out / "summary.json").read_text())] == ["classic", "ctc"]
    assert (out / "learning_curves.png").read_bytes().startswith(PNG_SIGNATURE)
    (tmp_path / "0.2h" / "classic" / "model.yaml").write_text("pipeline: classic\n")
    assert cli.main(["compare", str(dirs[1]), "--curves", *map(str, dirs), "--out", str(out)]) == 1
    assert "model.yaml: needs 'pipeline' and 'train: hours'" in capsys.readouterr().err


def test_report_fits_laws_to_curves_with_per_utterance_scores(tmp_path, an4_refs):
    """Four sizes per system, decoded and scored for real: the report fits each curve over
    resampled test utterances, states crossovers by its rule and holds out the largest size."""
    dirs = []
    for system, everies in [("classic", (3, 5, 8, 12)), ("ctc", (2, 3, 5, 9))]:
        for hours, every in zip((0.1, 0.2, 0.4, 0.8), everies):
            dirs.append(make_decode_dir(tmp_path, f"{hours}h/{system}", an4_refs, degrade(an4_refs, every),
                                        model={"pipeline": system, "train": {"hours": hours}}))
    out = tmp_path / "out"
    compare([dirs[3], dirs[7]], out, curve_points=curve_points(dirs), replicates=100)
    laws = json.loads((out / "laws.json").read_text())
    assert [(f["system"], f["method"], len(f["hours"])) for f in laws["fits"]] == [
        ("classic", "utterances", 4), ("ctc", "utterances", 4)]
    (pair,) = laws["crossovers"]
    assert pair["verdict"] in ("crosses", "none in range", "cannot tell") and pair["replicates"] == 100
    assert [v["system"] for v in laws["validations"]] == ["classic", "ctc"]
    assert all(v["hours"] == 0.8 and v["predicted"] is not None for v in laws["validations"])
    md = (out / "report.md").read_text()
    for heading in ("### Fitted learning curves", "### Predicted crossovers", "### Hold-out check"):
        assert heading in md
    assert "| classic | 4 |" in md and "| classic vs ctc |" in md and "| classic | 0.8 h |" in md
    assert pair["sentence"] in md and pair["reach_sentence"] in md
    html_text = (out / "report.html").read_text()
    assert "<h3>Predicted crossovers</h3>" in html_text and html_text.count("<table") == 4


def test_report_without_per_utterance_scores_says_how_it_bootstrapped(tmp_path, an4_refs):
    points = (curve("classic", [(0.1, 30), (0.2, 22), (0.4, 18), (0.8, 16.5)])
              + curve("ctc", [(0.1, 60), (0.2, 40), (0.4, 28), (0.8, 21)]))
    decode = make_decode_dir(tmp_path, "classic", an4_refs, an4_refs)
    compare([decode], tmp_path / "out", curve_points=points, replicates=100)
    md = (tmp_path / "out" / "report.md").read_text()
    assert "fit residuals (no per-utterance scores)" in md
    two_sizes = curve("classic", [(0.1, 30), (0.2, 22)]) + curve("ctc", [(0.1, 60), (0.2, 40)])
    compare([decode], tmp_path / "two", curve_points=two_sizes)
    assert "Not fitted: every curve has fewer than 3 sizes" in (tmp_path / "two" / "report.md").read_text()
