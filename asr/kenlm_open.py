"""Open a KenLM language model (ARPA or binary) the same way everywhere: quietly, with one-line errors.

KenLM writes its loading chatter ("Loading the LM will be faster if you build a binary file.", a
progress bar) straight to file descriptor 2, and its format errors quote the offending line of
the file. Every loader (the two searches, perplexity) goes through `open_kenlm`, which silences
the chatter and reports a bad file in one line that names it without echoing its content.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
from pathlib import Path
from typing import Callable, Iterator

from asr.errors import AsrError

MAX_REASON = 200  # characters of KenLM's reason kept in the error


def open_kenlm(path: str | os.PathLike, load: Callable[[str], object]):
    """`load(str(path))` (e.g. kenlm.Model) with KenLM's stderr output silenced; a missing or bad
    file is an AsrError `<path>: not a loadable ARPA or KenLM binary LM (<reason>)`."""
    path = Path(path)
    if not path.is_file():
        raise AsrError(f"{path}: no such language model file")
    try:
        with _quiet_stderr():
            return load(str(path))
    except Exception as err:  # noqa: BLE001 - KenLM raises OSError/RuntimeError/UnicodeError for a bad file
        raise AsrError(f"{path}: not a loadable ARPA or KenLM binary LM ({kenlm_reason(err)})") from None


def kenlm_reason(err: Exception) -> str:
    """KenLM's multi-line C++ error as a short clause, quoted file content replaced by "..."."""
    message = " ".join(str(err).split())
    found = re.search(r"threw (\w+)\.?\s*(.*?)\)?$", message)
    text = (found.group(2) or found.group(1)) if found else message
    text = re.sub(r'"[^"]*("|$)', '"..."', text)  # e.g. first non-empty line was "<the file's first line>"
    return text[:MAX_REASON] or type(err).__name__


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the block (C++ output bypasses sys.stderr)."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (embedded interpreter): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
