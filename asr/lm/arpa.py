"""ARPA back-off language model files: write (sorted, atomic), read, vocabulary."""
from __future__ import annotations

import os
import re
from pathlib import Path

from asr.errors import AsrError
from asr.fileio import atomic_write

Ngrams = list[dict[tuple[str, ...], tuple[float, float]]]  # per order: words -> (log10 p, log10 backoff)

_COUNT_LINE = re.compile(r"ngram\s+(\d+)\s*=\s*(\d+)$")
_SECTION = re.compile(r"\\(\d+)-grams:$")


def write_arpa(path: str | os.PathLike, ngrams: Ngrams) -> Path:
    """Write an ARPA file: header counts, then each order's n-grams sorted by their words.

    Backoffs are written for every order but the highest (0 where the n-gram is never a context,
    as lmplz does). Values keep 7 significant digits: float32 precision, like KenLM.
    """
    path = Path(path)
    highest = len(ngrams)
    with atomic_write(path) as f:
        f.write("\\data\\\n")
        for n, grams in enumerate(ngrams, 1):
            f.write(f"ngram {n}={len(grams)}\n")
        for n, grams in enumerate(ngrams, 1):
            f.write(f"\n\\{n}-grams:\n")
            # Sorting the joined strings is the tuples' order (a space sorts before any word
            # character) at a fraction of the cost.
            by_text = {" ".join(words): value for words, value in grams.items()}
            if n == highest:
                f.writelines(f"{by_text[text][0]:.7g}\t{text}\n" for text in sorted(by_text))
            else:
                f.writelines(f"{prob:.7g}\t{text}\t{backoff:.7g}\n"
                             for text in sorted(by_text) for prob, backoff in (by_text[text],))
        f.write("\n\\end\\\n")
    return path


def read_arpa(path: str | os.PathLike) -> Ngrams:
    """Every n-gram of an ARPA file with its log10 probability and backoff (0 when absent)."""
    path = Path(path)
    counts: dict[int, int] = {}
    ngrams: Ngrams = []
    order = 0
    for lineno, line in _lines(path):
        if order == 0:
            match = _COUNT_LINE.match(line)
            if match:
                counts[int(match.group(1))] = int(match.group(2))
                continue
        section = _SECTION.match(line)
        if section:
            order = int(section.group(1))
            if order != len(ngrams) + 1:
                raise AsrError(f"{path}:{lineno}: section {line} out of order")
            ngrams.append({})
            continue
        if line == "\\end\\":
            break
        if order == 0:
            continue  # \data\ and anything before the first section
        fields = line.split()
        if len(fields) not in (order + 1, order + 2):
            raise AsrError(f"{path}:{lineno}: expected '<log10 p> <{order} words> [<backoff>]', got {line!r}")
        try:
            prob = float(fields[0])
            backoff = float(fields[order + 1]) if len(fields) == order + 2 else 0.0
        except ValueError:
            raise AsrError(f"{path}:{lineno}: not a number in {line!r}") from None
        ngrams[-1][tuple(fields[1:order + 1])] = (prob, backoff)
    if not ngrams:
        raise AsrError(f"{path}: not an ARPA file (no \\1-grams: section)")
    for n, grams in enumerate(ngrams, 1):
        if n in counts and counts[n] != len(grams):
            raise AsrError(f"{path}: header says ngram {n}={counts[n]} but the file has {len(grams)}")
    return ngrams


def arpa_vocab(path: str | os.PathLike) -> set[str]:
    """The unigrams of an ARPA file (special words <s>, </s>, <unk> included when present)."""
    path = Path(path)
    vocab = set()
    in_unigrams = False
    for lineno, line in _lines(path):
        if line == "\\1-grams:":
            in_unigrams = True
        elif in_unigrams:
            if line.startswith("\\"):
                return vocab
            fields = line.split()
            if len(fields) not in (2, 3):
                raise AsrError(f"{path}:{lineno}: expected '<log10 p> <word> [<backoff>]', got {line!r}")
            vocab.add(fields[1])
    if not in_unigrams:
        raise AsrError(f"{path}: not an ARPA file (no \\1-grams: section)")
    return vocab


def _lines(path: Path):
    """(line number, stripped line) for the non-blank lines of a text file."""
    if not path.is_file():
        raise AsrError(f"{path}: no such ARPA file")
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if line:
                    yield lineno, line
    except UnicodeDecodeError:
        raise AsrError(f"{path}: not an ARPA text file (binary? KenLM binaries cannot be read here)") from None
