"""AN4 results of the neural pipelines, with a small ablation: WER on test with and without the LM,
training cost and decoding real-time factor, for SpecAugment / speed perturbation on and off.

Trains each (pipeline, variant) into OUT/<pipeline>-<variant> (a finished model dir is reused, a
killed training resumes), decodes DATA/test with the dev-tuned LM weight and again without the LM
(ctc: greedy; hybrid: lexicon search with LM weight 0), and prints a Markdown table. Training cost
is reported as this process's CPU seconds (a fair figure on a shared machine) and wall seconds.

    OMP_NUM_THREADS=1 python scripts/bench_nn.py --data exp/an4/data --lexicon exp/an4/lang/lexicon.txt \
        --lm exp/an4/lang/lm.arpa --config conf.yaml --out exp/bench_nn \
        [--pipelines ctc hybrid] [--variants base no_specaug no_speed]
DATA holds Kaldi data dirs train/, dev/ and test/ (`asr prepare an4 ...`).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml  # noqa: E402

from asr.pipelines import pipeline_module  # noqa: E402
from asr.pipelines.config import load_config  # noqa: E402
from asr.pipelines.decode import decode_datadir  # noqa: E402

VARIANTS = {
    "base": {},
    "no_specaug": {"spec_augment": False},
    "no_speed": {"speed_perturb": False},
    "no_aug": {"spec_augment": False, "speed_perturb": False},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="dir with train/, dev/, test/ data dirs")
    parser.add_argument("--lexicon", required=True, help="lexicon for the hybrid pipeline")
    parser.add_argument("--lm", required=True, help="word n-gram LM (ARPA), built from training text only")
    parser.add_argument("--config", help="YAML overriding both pipelines' defaults")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--pipelines", nargs="+", default=["ctc", "hybrid"], choices=["ctc", "hybrid"])
    parser.add_argument("--variants", nargs="+", default=["base"], choices=sorted(VARIANTS))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    base = load_config(args.config)
    rows = []
    for pipeline in args.pipelines:
        for variant in args.variants:
            exp = args.out / f"{pipeline}-{variant}"
            config = {**base, **VARIANTS[variant], "lm": args.lm, "threads": args.threads}
            if pipeline == "hybrid":
                config["lexicon"] = args.lexicon
            if not (exp / "model.yaml").is_file():
                pipeline_module(pipeline).train(config, args.data / "train", exp, dev_dir=args.data / "dev")
            rows.append(measure(pipeline, variant, exp, args.data / "test", args.threads))
            print(json.dumps(rows[-1]), flush=True)
    print_table(rows)


def measure(pipeline: str, variant: str, exp: Path, test: Path, threads: int) -> dict:
    info = yaml.safe_load((exp / "model.yaml").read_text())
    with_lm = decode_datadir(exp, test, exp / "decode_test", device="cpu", threads=threads)
    without = {"decoder": "greedy"} if pipeline == "ctc" else {"lm_weight": 0.0, "word_score": 0.0}
    without_lm = decode_datadir(exp, test, exp / "decode_test_nolm", options=without, device="cpu", threads=threads)
    return {
        "system": f"{pipeline}-{variant}", "params": info["params"], "epochs": info["train"]["epochs_run"],
        "train_cpu_min": round(info["train"].get("cpu_seconds", 0) / 60, 1),
        "train_wall_min": round(info["train"].get("wall_seconds", 0) / 60, 1),
        "lm_weight": info["decoding"].get("lm_weight"), "word_score": info["decoding"].get("word_score"),
        "wer_lm": wer_line(with_lm), "wer_nolm": wer_line(without_lm),
        "rtf": json.loads((with_lm / "decode.json").read_text())["rtf"],
    }


def wer_line(decode_dir: Path) -> str:
    return (decode_dir / "wer.txt").read_text().splitlines()[0]


def print_table(rows: list[dict]) -> None:
    print("\n| system | params | epochs | train CPU min | train wall min | lm_weight | word_score "
          "| test WER with LM | test WER without LM | RTF |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['system']} | {r['params']:,} | {r['epochs']} | {r['train_cpu_min']} | {r['train_wall_min']} "
              f"| {r['lm_weight']} | {r['word_score']} | {r['wer_lm']} | {r['wer_nolm']} | {r['rtf']} |")


if __name__ == "__main__":
    main()
