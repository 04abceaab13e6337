"""The yesno recipe end to end: all three pipelines trained, decoded, scored and compared."""
import json

from conftest import run_recipe

SYSTEMS = ("classic", "ctc", "hybrid")
# Upper bounds on yesno test WER (%). Kaldi's monophone system gets 0.00%. The character CTC model
# is allowed more: yesno's train half (the first 30 files in sorted order) all start with NO and the
# test half all with YES, and with 30 utterances a character model learns that an utterance starts
# with "N" and writes "NYES"; the lexicon-based systems cannot produce that non-word.
MAX_WER = {"classic": 3.0, "hybrid": 5.0, "ctc": 20.0}


def test_recipe_trains_decodes_and_reports_every_pipeline(yesno_exp):
    summary = json.loads((yesno_exp / "report" / "summary.json").read_text())
    rows = {row["pipeline"]: row for row in summary}
    assert set(rows) == set(SYSTEMS)
    for pipeline, row in rows.items():
        scores = json.loads((yesno_exp / pipeline / "decode_test" / "scores.json").read_text())
        assert scores["words"] == 240  # 30 test recordings x 8 words
        assert row["wer"] == scores["wer"]
        assert row["wer"] <= MAX_WER[pipeline], f"{pipeline}: {row['wer']}% WER on yesno"
    results = (yesno_exp / "RESULTS.md").read_text()
    assert all(s in results for s in SYSTEMS)
    assert (yesno_exp / "report" / "report.html").stat().st_size > 10_000  # the embedded plot


def test_rerunning_finished_stages_does_nothing(yesno_exp):
    before = (yesno_exp / "classic" / "model.yaml").stat().st_mtime_ns
    result = run_recipe("yesno", "--exp", str(yesno_exp), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("done before") == 8  # stages 0-7
    assert (yesno_exp / "classic" / "model.yaml").stat().st_mtime_ns == before


def test_forced_training_stage_keeps_trained_systems(yesno_exp):
    """--force reruns stages 5-6, but systems trained and decoded before are kept (a config added
    later would train alone)."""
    before = {s: (yesno_exp / s / "model.yaml").stat().st_mtime_ns for s in SYSTEMS}
    result = run_recipe("yesno", "--exp", str(yesno_exp), "--stage", "5", "--stop-stage", "6",
                        "--force", "true", timeout=120)
    assert result.returncode == 0, result.stderr
    assert all(f"-- {s}: trained before" in result.stdout and f"-- {s}: decoded before" in result.stdout
               for s in SYSTEMS)
    assert before == {s: (yesno_exp / s / "model.yaml").stat().st_mtime_ns for s in SYSTEMS}


def test_a_stage_without_its_inputs_fails_with_one_line(tmp_path, data_root):
    result = run_recipe("yesno", "--exp", str(tmp_path / "exp"), "--stage", "5", timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].endswith("is missing (run the earlier stages first)")


def test_unknown_option_is_rejected(tmp_path):
    result = run_recipe("yesno", "--exp", str(tmp_path), "--no-such-option", "1", timeout=60)
    assert result.returncode == 2 and "unknown option --no-such-option" in result.stderr
