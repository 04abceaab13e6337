"""Train the shipped G2P model (lexicons/g2p/cmudict_g2p.npz) from CMUdict, reproducibly.

    OMP_NUM_THREADS=1 python scripts/train_g2p.py            # writes lexicons/g2p/*
    python scripts/train_g2p.py --eval-only                    # PER of the shipped model

500 CMUdict words, drawn with a fixed seed, are held out (lexicons/g2p/heldout_words.txt) and
never trained on; the script ends by printing the phone error rate on them. Same cmudict and
numpy versions -> the same model file, byte for byte. See lexicons/README.md.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from asr.g2p import (DEFAULT_MODEL, G2P, align, graphone_name, phone_error_rate,  # noqa: E402
                     save_model, spellable, train_ngram)
from asr.lexicon import cmudict_prons  # noqa: E402

HELDOUT_SEED = 20260  # seed of the held-out draw (any fixed number; changing it changes the list)
HELDOUT_SIZE = 500  # words never trained on, for the phone error rate
ORDER = 6  # graphone n-gram order: five graphones of context
MIN_COUNTS = (1, 1, 1, 1, 2, 3)  # per order, fewest occurrences to keep an n-gram: dev PER 6.2%, 1.45 MB
HELDOUT_FILE = DEFAULT_MODEL.parent / "heldout_words.txt"


def candidate_words() -> list[str]:
    """CMUdict words the G2P can be trained and tested on: letters and apostrophes only."""
    return sorted(w for w in cmudict_prons() if spellable(w))


def heldout_words() -> list[str]:
    """The fixed held-out draw, sorted (the same on every machine for one cmudict version)."""
    return sorted(random.Random(HELDOUT_SEED).sample(candidate_words(), HELDOUT_SIZE))


def dev_words(size: int) -> list[str]:
    """Words for choosing the order and pruning (--dev-size): drawn from the training words, so
    that the held-out test words are never used to choose anything."""
    held = set(heldout_words())
    rest = [w for w in candidate_words() if w not in held]
    return sorted(random.Random(HELDOUT_SEED + 1).sample(rest, size)) if size else []


def evaluate(model: G2P, words: list[str]) -> float:
    cmu = cmudict_prons()
    start = time.time()
    hyps = [model.predict(w)[0] for w in words]
    per, _ = phone_error_rate([cmu[w] for w in words], hyps)
    exact = sum(h in cmu[w] for w, h in zip(words, hyps))
    print(f"held-out {len(words)} words: PER {per:.2f}%, word accuracy {100 * exact / len(words):.1f}%, "
          f"{1000 * (time.time() - start) / len(words):.1f} ms/word")
    return per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--order", type=int, default=ORDER)
    parser.add_argument("--min-counts", type=int, nargs="+", default=list(MIN_COUNTS))
    parser.add_argument("--eval-only", action="store_true", help="only evaluate the model at --out")
    parser.add_argument("--dev-size", type=int, default=0,
                        help="also leave out this many training words and report PER on them "
                             "(for choosing --order/--min-counts; the shipped model uses 0)")
    args = parser.parse_args()

    held = heldout_words()
    if args.eval_only:
        evaluate(G2P.load(args.out), held)
        return
    start = time.time()
    cmu = cmudict_prons()
    dev = dev_words(args.dev_size)
    left_out = set(held) | set(dev)
    train_words = [w for w in candidate_words() if w not in left_out]
    entries = [(w.lower(), pron) for w in train_words for pron in cmu[w]]
    print(f"training on {len(entries)} pronunciations of {len(train_words)} words", file=sys.stderr)
    alignments = align(entries, progress=True)
    sequences = [[graphone_name(letter, phones) for letter, phones in a] for a in alignments if a]
    print(f"aligned {len(sequences)} of {len(entries)} ({time.time() - start:.0f} s)", file=sys.stderr)
    arrays = train_ngram(sequences, args.order, args.min_counts)
    info = {"cmudict_version": version("cmudict"), "numpy_version": np.__version__, "order": args.order, "min_counts": args.min_counts, "heldout_seed": HELDOUT_SEED,
            "heldout_size": HELDOUT_SIZE, "dev_size": args.dev_size, "training_words": len(train_words),
            "training_pronunciations": len(sequences),
            "ngrams": {k: int(arrays[f"ngrams{k}"].shape[1]) for k in range(1, args.order + 1)}}
    save_model(args.out, arrays, info)
    with open(args.out.parent / HELDOUT_FILE.name, "w", encoding="utf-8") as f:
        f.write("".join(w + "\n" for w in held))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB, n-grams per order {info['ngrams']}) "
          f"in {time.time() - start:.0f} s", file=sys.stderr)
    model = G2P.load(args.out)
    if dev:
        print("dev:", end=" ")
        evaluate(model, dev)
    evaluate(model, held)


if __name__ == "__main__":
    main()
