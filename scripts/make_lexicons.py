"""Build the shipped recipe lexicons (lexicons/<corpus>.txt) and print their coverage table.

    OMP_NUM_THREADS=1 python scripts/make_lexicons.py [--data ../shared/data] [--out lexicons]

Transcripts come from asr.corpora (the same normalised text the recipes' data dirs get), every
split; kathleen's lexicon also covers the ARCTIC prompt files and the LJSpeech LM text. The
Markdown table printed at the end is the one in lexicons/README.md.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from asr.corpora import load  # noqa: E402
from asr.lexicon import corpus_words, lexicon_for_words, possessive  # noqa: E402

# corpus -> LM text files (under the data folder) whose words its lexicon covers too
EXTRA_TEXT = {
    "yesno": [],
    "an4": [],
    "fsdd": [],
    "kathleen": ["lm_text/arctic_prompts.train.norm.txt", "lm_text/arctic_prompts.test.norm.txt",
                 "lm_text/ljspeech_metadata.norm.txt"],
}


def transcript_words(corpus: str, src: Path) -> dict[str, tuple[int, str]]:
    """Words of every split's transcripts -> (count, 'corpus/split:utt' of first use)."""
    words: dict[str, tuple[int, str]] = {}
    for split, data in load(corpus, src).items():
        for utt in sorted(data.text):
            for word in data.text[utt].split():
                count, where = words.get(word, (0, f"{corpus}/{split}:{utt}"))
                words[word] = (count + 1, where)
    return words


def merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for word, (count, where) in b.items():
        old, first = out.get(word, (0, where))
        out[word] = (old + count, first)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "lexicons")
    args = parser.parse_args()

    rows = []
    for corpus, extra in EXTRA_TEXT.items():
        spoken = transcript_words(corpus, args.data / corpus)
        words = merge(spoken, corpus_words(text_files=[args.data / t for t in extra])) if extra else spoken
        report = lexicon_for_words(words)
        out = args.out / f"{corpus}.txt"
        report.lexicon.write(out)
        print(f"{out}: {report.summary()}", file=sys.stderr)
        guessed = set(report.guessed)
        spoken_guessed = sorted(w for w in spoken if w in guessed)
        tokens = sum(c for c, _ in spoken.values())
        guessed_tokens = sum(spoken[w][0] for w in spoken_guessed)
        variants = sum(len(v) for v in report.lexicon.prons.values())
        by_g2p = [w for w in spoken_guessed if not possessive(w)]
        shown = " ".join(by_g2p[:6]) + (" ..." if len(by_g2p) > 6 else "")
        all_by_g2p = sum(not possessive(w) for w in report.guessed)
        rows.append(f"| {corpus} | {len(spoken)} | {tokens} | {len(spoken) - len(spoken_guessed)} | "
                    f"{len(spoken_guessed) - len(by_g2p)} / {len(by_g2p)} "
                    f"({100 * guessed_tokens / tokens:.2f}% of running words) | {shown or '-'} | "
                    f"{len(report.lexicon)} / {variants} | {len(report.guessed) - all_by_g2p} / {all_by_g2p} | "
                    f"{out.stat().st_size / 1e3:.1f} kB |")
    print("| corpus | transcript words | running words | in CMUdict | guessed: possessive / G2P "
          "| G2P examples | lexicon words / prons | lexicon guessed: possessive / G2P | file |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
