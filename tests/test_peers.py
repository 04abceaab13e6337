"""The benchmarks' peer (scripts/peers.py): pocketsphinx with AN4's dictionary and LM on real AN4 test
audio, the 16-bit PCM it is fed checked against soundfile's own int16 read, and the peer's decode
dir read back by `asr compare`."""
import json
import sys

import numpy as np
import pytest
import soundfile as sf

from asr.audio import load_audio
from asr.errors import AsrError
from asr.report import compare
from conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
peers = pytest.importorskip("peers")
pytest.importorskip("pocketsphinx", reason="pocketsphinx not installed (pip install '.[bench]')")

SLICE_STRIDE = 10  # every tenth AN4 test utterance: 13 utterances, 90 words, all ten speakers


@pytest.fixture(scope="module")
def an4(data_root):
    return data_root / "an4"


@pytest.fixture(scope="module")
def test_slice(an4):
    data = peers.an4_test_data(an4)
    return data.select(data.utts[::SLICE_STRIDE])


@pytest.fixture(scope="module")
def peer_run(an4, test_slice):
    return peers.run_pocketsphinx(test_slice, an4)


def test_pcm_fed_to_pocketsphinx_is_the_file_itself(test_slice):
    path = test_slice.audio_path(test_slice.utts[0])
    samples, rate = load_audio(path, sample_rate=peers.POCKETSPHINX_RATE)
    original, original_rate = sf.read(path, dtype="int16")
    assert rate == original_rate == 16000
    assert peers.to_pcm16(samples) == original.astype("<i2").tobytes()
    assert peers.to_pcm16(np.array([1.0, -1.0, 0.5], dtype=np.float32)) == np.array(
        [32767, -32768, 16384], dtype="<i2").tobytes()  # clipped at full scale, not wrapped


def test_pocketsphinx_recognises_an4(peer_run, test_slice, an4):
    scores = peers.score_run(peer_run, test_slice)
    assert scores.words == 90 and not scores.missing
    # measured 31.1% on this slice (22.8% on all 130 utterances); audio fed at the wrong rate or
    # scale, or a dictionary mismatch, gives 80-100%
    assert scores.wer < 40
    assert scores.sentence_errors < len(test_slice)
    vocabulary = {line.split()[0].split("(")[0] for line in (an4 / "etc" / "an4.dic").read_text().splitlines()
                  if line.strip()}
    hyp_words = {w for text in peer_run.hyps.values() for w in text.split()}
    assert hyp_words <= vocabulary  # no fillers (<sil>) or variant markers (A(2)) in the output
    assert peer_run.audio_seconds == pytest.approx(sum(sf.info(test_slice.audio_path(u)).duration
                                                       for u in test_slice.utts))
    assert 0 < peer_run.cpu_rtf < 1 and 0 < peer_run.rtf


def test_peer_decode_dir_goes_into_the_comparison_report(peer_run, test_slice, tmp_path):
    decode = peers.write_decode_dir(peer_run, test_slice, tmp_path / "pocketsphinx" / "decode_test")
    assert (decode / "hyp.txt").read_text().count("\n") == len(test_slice)
    compare([decode], tmp_path / "report")
    (row,) = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert row["system"] == "pocketsphinx"
    assert row["wer"] == pytest.approx(peers.score_run(peer_run, test_slice).wer)
    assert row["rtf"] == pytest.approx(peer_run.rtf, abs=1e-5)


def test_results_table_ratios():
    rows = [{"system": "pocketsphinx", "wer": 22.77, "words": 773, "rtf": 0.2, "cpu_rtf": 0.05},
            {"system": "classic-tri (classic)", "wer": 9.5, "words": 773, "rtf": 0.1, "cpu_rtf": 0.15}]
    lines = peers.results_table(rows).splitlines()
    assert lines[0].split()[:3] == ["system", "WER", "%"]
    assert lines[2].split()[-6:] == ["9.50", "773", "0.1000", "0.1500", "0.50", "3.00"]
    assert lines[1].split()[-2:] == ["1.00", "1.00"]


def test_missing_an4_files_name_the_file(tmp_path):
    with pytest.raises(AsrError, match=r"etc/an4.dic: not found"):
        peers.PocketSphinx(tmp_path)


def test_bench_transcribe_rejects_a_missing_model(tmp_path, capsys):
    import bench_transcribe

    assert bench_transcribe.main(["--model", str(tmp_path / "nope"), "--utts", "1"]) == 1
    assert "nope: no such model directory" in capsys.readouterr().err
