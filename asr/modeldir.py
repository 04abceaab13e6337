"""A model directory on disk: model.yaml, the files it names, and their checksums.

Every path in model.yaml is relative to the model dir and must stay inside it: `resolve` is the
one way a loader turns such a path into a file, and refuses absolute paths, `..` and symlinks
that lead out of the dir (the error quotes the path as written, never the file's content).
Training ends with `write_model_info`, which records the sha256 of every file the model needs;
`verify_checksums` (`asr info MODEL --check`) compares them. model.yaml itself is not checksummed
(it holds the checksums; tuning may rewrite it).

Bottom-level: imports only asr.errors and asr.fileio, so stages, pipelines and reports share it.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import yaml

from asr.errors import AsrError
from asr.fileio import atomic_write

MODEL_FILE = "model.yaml"
PIPELINES = ("classic", "ctc", "hybrid")
CHECKSUMS_KEY = "checksums"  # model.yaml: {relative path: sha256 hex digest}
MAX_SHOWN = 80  # characters of a model.yaml path quoted in an error


def read_model_info(model_dir: str | os.PathLike) -> dict:
    """model.yaml of a model dir, checked enough to name the pipeline, with every path it names
    confined to the dir."""
    model_dir = Path(model_dir)
    path = model_dir / MODEL_FILE
    if not model_dir.is_dir():
        raise AsrError(f"{model_dir}: no such model directory")
    if not path.is_file():
        raise AsrError(f"{model_dir}: not a model directory (no {MODEL_FILE}; was training finished?)")
    try:
        info = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as e:
        raise AsrError(f"{path}: unreadable ({type(e).__name__})") from None
    if not isinstance(info, dict) or info.get("pipeline") not in PIPELINES:
        raise AsrError(f"{path}: no valid 'pipeline' key (one of {', '.join(PIPELINES)})")
    for relpath in model_files(info):
        resolve(model_dir, relpath)
    return info


def resolve(model_dir: str | os.PathLike, relpath, what: str = "file") -> Path:
    """`model_dir / relpath`, refused unless it is a relative path that stays inside the model dir
    (after following symlinks). The file need not exist."""
    model_dir = Path(model_dir)
    where = model_dir / MODEL_FILE
    if not isinstance(relpath, str) or not relpath.strip():
        raise AsrError(f"{where}: the {what} path must be a non-empty string, got {_shown(relpath)}")
    if "\0" in relpath:
        raise AsrError(f"{where}: the {what} path {_shown(relpath)} holds a NUL byte")
    if Path(relpath).is_absolute() or os.path.splitdrive(relpath)[0]:
        raise AsrError(f"{where}: the {what} path {_shown(relpath)} is absolute; paths in a model dir "
                       "must be relative to it")
    root = model_dir.resolve()
    if not (root / relpath).resolve().is_relative_to(root):
        raise AsrError(f"{where}: the {what} path {_shown(relpath)} leads outside the model dir")
    return model_dir / relpath


def model_files(info: dict) -> list[str]:
    """The paths model.yaml names (weights, GMMs, tree, transform, units, lexicon, LM), as written."""
    found: list = []
    if "weights" in info:
        found.append(info["weights"])
    files = info.get("files")
    if isinstance(files, dict):
        found.extend(files.values())
    units = info.get("units")
    if isinstance(units, dict):
        found.extend(units[key] for key in ("tokens", "model") if key in units)
    decoding = info.get("decoding")
    if isinstance(decoding, dict):
        found.extend(decoding[key] for key in ("lexicon", "lm") if decoding.get(key) is not None)
    return list(dict.fromkeys(found))  # each once, in order (classic's si_gmm/gmm share the tree)


def sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_model_info(model_dir: str | os.PathLike, info: dict) -> None:
    """Write model.yaml (atomically, last: its presence means training finished) with the sha256
    of every file it names, so that `asr info --check` can tell a damaged or replaced file."""
    model_dir = Path(model_dir)
    checksums = {}
    for relpath in model_files(info):
        path = resolve(model_dir, relpath)
        if not path.is_file():
            raise AsrError(f"{path}: named in {MODEL_FILE} but not written")
        checksums[relpath] = sha256(path)
    with atomic_write(model_dir / MODEL_FILE) as f:
        yaml.safe_dump({**info, CHECKSUMS_KEY: checksums}, f, sort_keys=False)


def copy_into(model_dir: str | os.PathLike, src: str | os.PathLike, name: str, what: str) -> str:
    """Copy a file (LM, lexicon) into the model dir as `name` plus the source's last suffix
    (atomically); returns the name relative to the dir, as model.yaml records it."""
    src = Path(src)
    if not src.is_file():
        raise AsrError(f"{src}: no such {what} file")
    target = Path(model_dir) / f"{name}{''.join(src.suffixes[-1:])}"
    with atomic_write(target, "wb") as f:
        with open(src, "rb") as source:
            shutil.copyfileobj(source, f)
    return target.name


def verify_checksums(model_dir: str | os.PathLike) -> int:
    """Compare every file named in model.yaml with the sha256 recorded at training; return how many
    were checked (0: the model predates checksums). A missing or changed file is an AsrError."""
    model_dir = Path(model_dir)
    info = read_model_info(model_dir)
    recorded = info.get(CHECKSUMS_KEY)
    if recorded is None:
        return 0
    if not isinstance(recorded, dict) or not all(isinstance(v, str) for v in recorded.values()):
        raise AsrError(f"{model_dir / MODEL_FILE}: '{CHECKSUMS_KEY}' must map file names to sha256 digests")
    unrecorded = [p for p in model_files(info) if p not in recorded]
    if unrecorded:
        raise AsrError(f"{resolve(model_dir, unrecorded[0])}: no checksum recorded in {MODEL_FILE}")
    for relpath, digest in recorded.items():
        path = resolve(model_dir, relpath)
        if not path.is_file():
            raise AsrError(f"{path}: missing (named in {MODEL_FILE})")
        if sha256(path) != digest.lower():
            raise AsrError(f"{path}: checksum differs from the one recorded at training "
                           f"(file damaged, truncated or replaced; {path.stat().st_size} bytes)")
    return len(recorded)


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 3] + "..."
