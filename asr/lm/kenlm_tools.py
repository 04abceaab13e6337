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
from asr.lm.text import BOS, UNK

PROJECT_TOOLS = Path(__file__).resolve().parents[2] / "tools" / "kenlm" / "bin"
# lmplz sorts in memory up to this much (its default, 80% of RAM, makes it allocate gigabytes
# and run ten times slower on small corpora); larger corpora spill to temporary files.
LMPLZ_SORT_MEMORY = "256M"
# lmplz refuses <unk> in its input; words mapped to <unk> travel under this name and become
# <unk> again afterwards (merge_into_unk).
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
    """lmplz's model with the stand-in renamed <unk>, turned into the model our estimator gives.

    lmplz's vocabulary has one word more than ours: its own zero-count <unk> besides the stand-in
    (our <unk>). Counts, discounts and gammas are the same; only the unigrams' uniform share
    differs, 1/U there and 1/(U-1) here (U unigrams without <s> in lmplz's model). That zero-count
    <unk> holds exactly gamma/U, so giving each of the U-1 remaining words 1/(U-1) of its
    probability makes every unigram ours; an explicit n-gram (h, w) interpolates its lower order
    with weight gamma(h) = 10^backoff(h), so it gains that share times the gammas of h's suffixes.
    The result sums to 1 after every history and matches our estimator to float precision.
    """
    unigrams = ngrams[0]
    share_log = unigrams[(UNK,)][0] - math.log10(len(unigrams) - 2)  # lmplz's <unk>, <s> left out

    def backoffs_log(context: tuple[str, ...]) -> float:
        return sum(ngrams[len(context) - start - 1].get(context[start:], (0.0, 0.0))[1]
                   for start in range(len(context)))

    merged: Ngrams = []
    for grams in ngrams:
        out = {}
        for words, (prob, backoff) in grams.items():
            if words == (UNK,):
                continue
            if words != (BOS,):  # <s> keeps probability 1
                prob = min(0.0, _log10_add(prob, share_log + backoffs_log(words[:-1])))
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
