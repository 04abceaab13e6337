"""Small file helpers shared by every stage: atomic writes and Kaldi-style tables."""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from asr.errors import AsrError

_UMASK = os.umask(0o022)  # read once at import (os.umask can only be read by setting it)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator:
    """Open a temporary file beside `path`; rename it over `path` only if the block succeeds.

    A crash or an exception leaves the old file (or no file), never a half-written one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; outputs get the usual permissions
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """(line number, line) of a UTF-8 text file, line endings (LF or CRLF) removed. Bytes that are not UTF-8 are an AsrError naming the file and line. The one way text
    files (Kaldi tables, LM text, hypotheses) are read, so every reader fails the same way."""
    path = Path(path)
    if not path.is_file():
        raise AsrError(f"{path}: no such file")
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise AsrError(f"{path}:{lineno}: not UTF-8 text (byte 0x{raw[e.start]:02x} at column "
                               f"{e.start + 1}); convert the file to UTF-8") from None
            if lineno == 1:
                line = line.removeprefix("\ufeff")  # a byte-order mark some editors write
            yield lineno, line.rstrip("\r\n")


def read_table(path: str | os.PathLike, min_fields: int = 2) -> list[tuple[int, str, str]]:
    """Read a Kaldi table (`<key> <value...>`) as (line number, key, rest-of-line) triples.

    Any whitespace (spaces, TABs, several) separates the key from the rest; leading and trailing
    whitespace and CRLF line endings are dropped. Blank lines are skipped; a line with fewer than
    `min_fields` fields is an error naming the line.
    `min_fields=1` allows an empty value (e.g. an empty hypothesis in a `text` file).
    """
    rows = []
    for lineno, line in read_lines(path):
        parts = line.split(maxsplit=1)
        if not parts:
            continue
        if len(parts) < min_fields:
            raise AsrError(f"{path}:{lineno}: expected '<key> <value>', got {line!r}")
        rows.append((lineno, parts[0], parts[1].strip() if len(parts) > 1 else ""))
    return rows


def read_map(path: str | os.PathLike, min_fields: int = 2) -> dict[str, str]:
    """Read a Kaldi table into a dict; duplicate keys are an error naming both lines."""
    out: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for lineno, key, value in read_table(path, min_fields):
        if key in out:
            raise AsrError(f"{path}:{lineno}: duplicate key {key!r} (first at line {first_line[key]})")
        out[key] = value
        first_line[key] = lineno
    return out


def write_map(path: str | os.PathLike, table: dict[str, str]) -> None:
    """Write a dict as a Kaldi table sorted by key (C-locale order, as Kaldi's validators expect)."""
    with atomic_write(path) as f:
        for key in sorted(table):
            value = table[key]
            f.write(f"{key} {value}\n" if value != "" else f"{key}\n")


def sha256(path: str | os.PathLike) -> str:
    """The hex sha256 of a file's bytes, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
