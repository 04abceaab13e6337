"""What each part of a joint CTC/attention model's decoding adds: the same model decoded four
ways (CTC head alone; + the n-gram LM; + attention rescoring without the LM; both), each way's
weights tuned on dev over the ctc pipeline's grids, then scored on test; and the attention
decoder on its own (greedy, no CTC, no LM).

    OMP_NUM_THREADS=1 python scripts/ablate_joint.py --model EXP/ctc-joint --dev DATA/dev --test DATA/test
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from asr.datadir import check_datadir
from asr.errors import AsrError
from asr.pipelines import load
from asr.pipelines.ctc import DEFAULTS
from asr.scoring import wer

LM_GRID = {"lm_weight": DEFAULTS["lm_weight_grid"], "word_score": DEFAULTS["word_score_grid"]}
RESCORE_GRID = {"rescore_weight": DEFAULTS["rescore_weight_grid"]}
NO_LM = {"lm_weight": 0.0, "word_score": 0.0}
VARIANTS = [  # name, fixed options, grids tuned on dev
    ("CTC head alone (beam search, no LM)", {**NO_LM, "rescore_weight": 0.0}, {}),
    ("CTC head + n-gram LM", {"rescore_weight": 0.0}, LM_GRID),
    ("CTC head + attention rescoring, no LM", NO_LM, RESCORE_GRID),
    ("CTC head + n-gram LM + attention rescoring", {}, {**LM_GRID, **RESCORE_GRID}),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a joint ctc model dir (attention_layers > 0)")
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        recognizer = load(args.model, device="cpu", threads=1)
        if recognizer.rescorer is None:
            raise AsrError(f"{args.model}: not a joint CTC/attention model (no attention decoder)")
        dev, test = check_datadir(args.dev, require_text=True), check_datadir(args.test, require_text=True)
    except AsrError as e:
        print(f"ablate_joint: error: {e}", file=sys.stderr)
        return 1
    scores = {"dev": recognizer.scorer.datadir_scores(dev), "test": recognizer.scorer.datadir_scores(test)}
    refs = {"dev": dev.text, "test": test.text}

    def score(split: str) -> float:
        return wer(refs[split], {u: recognizer.decode(s)[0].text for u, s in scores[split].items()})

    print(f"{'decoding':<46} {'dev %':>6} {'test %':>7}  tuned on dev")
    for name, fixed, grids in VARIANTS:
        recognizer.configure(**fixed)
        dev_wer = recognizer.tune(dev, grids)["tuning"]["dev_wer"] if grids else score("dev")
        chosen = {k: recognizer.options[k] for k in ("lm_weight", "word_score", "rescore_weight")}
        print(f"{name:<46} {dev_wer:>6.2f} {score('test'):>7.2f}  {json.dumps(chosen)}", flush=True)
    units, decoder = recognizer.rescorer.units, recognizer.rescorer.decoder
    alone = {split: wer(refs[split], {u: units.decode(decoder.greedy(s.context, max_units=200))
                                      for u, s in scores[split].items()}) for split in scores}
    print(f"{'attention decoder alone (greedy)':<46} {alone['dev']:>6.2f} {alone['test']:>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
