"""recipes/librispeech/run.sh, dry run on CPU: a tiny LibriSpeech-layout tree (FLAC, one
<reader>-<chapter>.trans.txt per chapter) made from AN4 recordings, the recipe's stages 1-7 with
tiny configs (--conf; classic and ctc: hybrid and dnnhmm take the same path) trained in two
processes each (--nproc 2: torchrun, gloo), as on a GPU box with --nproc N. What it checks is the
plumbing, not the WER."""
import json

import soundfile as sf

from asr.audio import load_audio
from asr.corpora import prepare
from asr.datadir import read_datadir
from asr.nn.checkpoint import load_state
from conftest import run_recipe
from test_recipe_custom import TINY_CONF

SYSTEMS = ("classic", "ctc")

# AN4 speakers as LibriSpeech readers: part -> (speakers, utterances each)
PARTS = {"train-clean-100": (4, 5), "dev-clean": (1, 4), "test-clean": (1, 4)}


def _librispeech_tree(an4, root):
    """The first speakers of AN4 train (train-clean-100, dev-clean) and test (test-clean) as
    LibriSpeech/<part>/<reader>/<chapter>/<reader>-<chapter>-<NNNN>.flac with its transcripts."""
    speakers = {}
    for part, source in (("train-clean-100", an4["train"]), ("dev-clean", an4["train"]), ("test-clean", an4["test"])):
        data = read_datadir(source)
        for utt in data.utts:
            speakers.setdefault(part, {}).setdefault(data.utt2spk[utt], []).append((utt, data))
    taken = 0
    for part, (count, per_speaker) in PARTS.items():
        chosen = list(speakers[part].items())
        chosen = chosen[taken:taken + count] if part == "dev-clean" else chosen[:count]
        taken += count if part == "train-clean-100" else 0
        for reader_no, (_, utts) in enumerate(chosen):
            reader, chapter = str(100 + reader_no + 10 * list(PARTS).index(part)), "1"
            folder = root / "LibriSpeech" / part / reader / chapter
            folder.mkdir(parents=True)
            lines = []
            for n, (utt, data) in enumerate(utts[:per_speaker]):
                name = f"{reader}-{chapter}-{n:04d}"
                samples, rate = load_audio(data.audio_path(utt), sample_rate=16000)
                sf.write(folder / f"{name}.flac", samples, rate)
                lines.append(f"{name} {data.text[utt]}")
            (folder / f"{reader}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")


def test_librispeech_recipe_dry_run_with_two_processes(data_root, tmp_path):
    an4 = prepare("an4", data_root / "an4", tmp_path / "an4")
    _librispeech_tree(an4, tmp_path / "tree")
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "classic.yaml").write_text(TINY_CONF["classic.yaml"])
    (conf / "ctc.yaml").write_text(TINY_CONF["ctc.yaml"] + "keep_checkpoints: true\n")  # they say who trained it
    exp = tmp_path / "exp"
    result = run_recipe("librispeech", "--data", str(tmp_path / "tree"), "--exp", str(exp), "--conf", str(conf),
                        "--stage", "1", "--nj", "1", "--nproc", "2", timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(read_datadir(exp / "data" / "train").utts) == 20
    assert read_datadir(exp / "data" / "dev").utt2spk and read_datadir(exp / "data" / "test").utt2spk
    summary = {row["pipeline"] for row in json.loads((exp / "report" / "summary.json").read_text())}
    assert summary == set(SYSTEMS)
    assert len(load_state(exp / "ctc" / "checkpoints" / "state.pt")["rank_rngs"]) == 2  # two ranks trained it
    assert result.stdout.count("training in 2 processes (torchrun)") == 2
    for system in SYSTEMS:
        assert json.loads((exp / system / "decode_test" / "scores.json").read_text())["words"] > 0
