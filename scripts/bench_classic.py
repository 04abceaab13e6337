"""AN4 benchmark of the classic pipeline: monophone, triphone and SAT systems, WER and RTF on test.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_classic.py [--out exp/bench_classic]
        [--systems mono,tri,sat] [--train-utts N]

Prepares AN4 from ../shared/data/an4, builds the lexicon (train + dev words) and a trigram LM from
the training transcripts, trains each system (tuning LM weight, word and silence scores on the
dev set carved from train, never on test), decodes the test set and prints one line per system:
WER, errors, training wall time, decoding real-time factor. The systems share one monophone stage
(copied checkpoint). Kaldi's published AN4 test WERs: mono 10.61, tri1 10.48, tri3 (SAT) 5.95.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SYSTEMS = {  # config overrides per system, on top of asr.pipelines.classic.DEFAULTS
    "mono": {"triphone": False, "sat": False},
    "tri": {"triphone": True, "sat": False},
    "sat": {"triphone": True, "sat": True},
}


def main() -> None:
    import torch

    from asr.corpora import prepare
    from asr.datadir import read_datadir, subset, write_datadir
    from asr.lexicon import build_lexicon
    from asr.lm import build_lm
    from asr.pipelines import classic
    from asr.pipelines.decode import decode_datadir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "exp" / "bench_classic"))
    parser.add_argument("--systems", default="mono,tri,sat")
    parser.add_argument("--train-utts", type=int, help="train on a random subset of this many utterances")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    dirs = prepare("an4", REPO.parent / "shared" / "data" / "an4", out / "data")
    train_dir = dirs["train"]
    if args.train_utts:
        train_dir = out / "data" / f"train_{args.train_utts}"
        write_datadir(subset(read_datadir(dirs["train"]), num_utts=args.train_utts, seed=0), train_dir)
    train, dev = read_datadir(train_dir), read_datadir(dirs["dev"])
    words = sorted({w for d in (train, dev) for t in d.text.values() for w in t.split()})
    lexicon, _ = build_lexicon(words)
    lexicon.write(out / "lexicon.txt")
    (out / "train_text.txt").write_text("".join(t + "\n" for t in train.text.values()), encoding="utf-8")
    lm = build_lm([out / "train_text.txt"], 3, out / "lm.arpa", vocab=words)
    base = {"lexicon": str(out / "lexicon.txt"), "lm": str(lm), "feature_cache": str(out / "features")}

    first_mono = None
    for name in args.systems.split(","):
        exp = out / name
        if first_mono is not None and not (exp / "mono").exists():
            shutil.copytree(first_mono, exp / "mono")
        start = time.perf_counter()
        classic.train({**base, **SYSTEMS[name]}, train_dir, exp, dirs["dev"])
        train_seconds = time.perf_counter() - start
        first_mono = first_mono or exp / "mono"
        decode = decode_datadir(exp, dirs["test"])
        scores = json.loads((decode / "scores.json").read_text())
        rtf = json.loads((decode / "decode.json").read_text())["rtf"]
        print(f"{name}: test WER {scores['wer']:.2f}% ({scores['errors']}/{scores['words']}), "
              f"train {train_seconds:.0f} s, decode RTF {rtf:.3f}  [{decode}]", flush=True)


if __name__ == "__main__":
    main()
