"""KenLM's compiled tools: lmplz (estimation) and build_binary, when installed.

`scripts/install_kenlm.sh` builds them into tools/kenlm/bin inside the project; otherwise they
are looked up on PATH.
"""
from __future__ import annotations

import contextlib
import math
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from asr.errors import AsrError
from asr.lm.arpa import Ngrams, read_arpa, write_arpa
from asr.lm.text import UNK

PROJECT_TOOLS = Path(__file__).resolve().parents[2] / "tools" / "kenlm" / "bin"
# lmplz sorts in memory up to this much (its default, 80% of RAM, makes it allocate gigabytes
# and run ten times slower on small corpora); larger corpora spill to temporary files.
LMPLZ_SORT_MEMORY = "256M"
# lmplz refuses <unk> in its input; words mapped to <unk> travel under this name and are
# merged into <unk> afterwards.
UNK_STAND_IN = "ASR_UNKNOWN_WORD"


def find_tool(name: str) -> Path | None:
    """tools/kenlm/bin/NAME, else NAME on PATH, else None."""
    local = PROJECT_TOOLS / name
    if local.is_file() and os.access(local, os.X_OK):
        return local
    found = shutil.which(name)
    return Path(found) if found else None


def run_lmplz(sentences: list[list[str]], order: int, out_arpa: str | os.PathLike) -> Path:
    """Estimate with lmplz (modified Kneser-Ney) and write the ARPA file atomically.

    --discount_fallback is always passed: it only replaces the discounts of orders whose
    count-of-counts give invalid ones (tiny corpora), the same rule our estimator follows.
    """
    lmplz = find_tool("lmplz")
    if lmplz is None:
        raise AsrError(f"lmplz not found in {PROJECT_TOOLS} or on PATH (run: make lmplz)")
    out_arpa = Path(out_arpa)
    out_arpa.parent.mkdir(parents=True, exist_ok=True)
    stand_in = _unused_word(sentences)
    has_unk = False
    with tempfile.TemporaryDirectory(prefix="lmplz.") as tmp:
        corpus = Path(tmp) / "corpus.txt"
        with open(corpus, "w", encoding="utf-8") as f:
            for words in sentences:
                if UNK in words:
                    has_unk = True
                    words = [stand_in if w == UNK else w for w in words]
                f.write(" ".join(words) + "\n")
        with _temp_beside(out_arpa) as tmp_arpa:
            command = [str(lmplz), "-o", str(order), "--discount_fallback", "-S", LMPLZ_SORT_MEMORY,
                       "-T", tmp + "/", "--text", str(corpus), "--arpa", str(tmp_arpa)]
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                lines = [line for line in result.stderr.splitlines() if line.strip()]
                reason = lines[-1] if lines else f"exit status {result.returncode}"
                raise AsrError(f"{out_arpa}: lmplz failed: {reason}")
            if has_unk:
                write_arpa(out_arpa, merge_into_unk(read_arpa(tmp_arpa), stand_in))
            else:
                os.replace(tmp_arpa, out_arpa)
    return out_arpa


def merge_into_unk(ngrams: Ngrams, stand_in: str) -> Ngrams:
    """Make the stand-in word and lmplz's zero-count <unk> one word, <unk>, keeping sums at 1.

    p(<unk> | h) becomes p(stand-in | h) + p(lmplz's <unk> | h). lmplz's <unk> only has a unigram,
    so its probability after h is the unigram's times the backoffs of h's suffixes; adding that to
    every explicit n-gram ending in the stand-in keeps each distribution normalised.
    """
    unk_unigram_log = ngrams[0][(UNK,)][0]

    def lmplz_unk_log(context: tuple[str, ...]) -> float:
        total = unk_unigram_log
        for start in range(len(context)):
            suffix = context[start:]
            total += ngrams[len(suffix) - 1].get(suffix, (0.0, 0.0))[1]
        return total

    merged: Ngrams = []
    for grams in ngrams:
        out = {}
        for words, (prob, backoff) in grams.items():
            if words == (UNK,):
                continue
            if words[-1] == stand_in:
                prob = _log10_add(prob, lmplz_unk_log(words[:-1]))
            out[tuple(UNK if w == stand_in else w for w in words)] = (prob, backoff)
        merged.append(out)
    return merged


def build_binary(arpa: str | os.PathLike, out_binary: str | os.PathLike) -> Path | None:
    """KenLM binary (probing hash) of an ARPA file, when build_binary is installed; else None."""
    tool = find_tool("build_binary")
    if tool is None:
        return None
    out_binary = Path(out_binary)
    with _temp_beside(out_binary) as tmp:
        result = subprocess.run([str(tool), str(arpa), str(tmp)], capture_output=True, text=True)
        if result.returncode != 0:
            lines = [line for line in result.stderr.splitlines() if line.strip()]
            reason = lines[-1] if lines else f"exit status {result.returncode}"
            raise AsrError(f"{arpa}: build_binary failed: {reason}")
        os.replace(tmp, out_binary)
    return out_binary


@contextlib.contextmanager
def _temp_beside(path: Path):
    """A temporary path in `path`'s folder (so os.replace is atomic), removed if left behind."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _unused_word(sentences: list[list[str]]) -> str:
    words = {w for s in sentences for w in s}
    stand_in = UNK_STAND_IN
    while stand_in in words:
        stand_in += "_"
    return stand_in


def _log10_add(a: float, b: float) -> float:
    """log10(10^a + 10^b)."""
    high, low = max(a, b), min(a, b)
    return high + math.log10(1.0 + 10.0 ** (low - high))
