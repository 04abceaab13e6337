"""A model directory on disk: model.yaml (`ModelInfo`), the files it names, and their checksums.

Every path in model.yaml is relative to the model dir and must stay inside it: `resolve` is the
one way a loader turns such a path into a file, and refuses absolute paths, `..` and symlinks
that lead out of the dir (the error quotes the path as written, never the file's content).
Training ends with `write_model_info`, which records the sha256 of every file the model needs;
`verify_checksums` (`asr info MODEL --check`) compares them. model.yaml itself is not checksummed
(it holds the checksums; tuning may rewrite it).

Bottom-level: imports only asr.errors and asr.fileio, so stages, pipelines and reports share it.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from asr.errors import AsrError
from asr.fileio import atomic_write, sha256  # sha256: model dirs record their files' checksums

MODEL_FILE = "model.yaml"
FORMAT = 2  # model.yaml layout; 1 (no `format` entry): before the one ModelInfo shape (read, upgraded)
PIPELINES = ("classic", "ctc", "hybrid", "dnnhmm")
CHECKSUMS_KEY = "checksums"  # model.yaml: {relative path: sha256 hex digest}
MAX_SHOWN = 80  # characters of a model.yaml path quoted in an error


@dataclass
class ModelInfo:
    """model.yaml: the one shape every pipeline writes and reads.

    Files are named relative to the model dir: the acoustic model's in `files` (classic: tree, gmm,
    si_gmm, lda, lexicon; ctc, hybrid: weights; dnnhmm: weights, tree, lexicon, priors), the units'
    in `units` (tokens, model), the search's in `decoding` (lm, and the lexicon when only the search
    uses it). `init_from` records where a transferred network came from: history, not a file the
    model needs (its path is never resolved; the model dir stays self-contained).
    """
    pipeline: str
    sample_rate: int | None = None
    features: dict = field(default_factory=dict)  # asr.features.FeatureConfig fields
    units: dict = field(default_factory=dict)  # kind, size and the unit files
    files: dict = field(default_factory=dict)  # the acoustic model's files by role
    decoding: dict = field(default_factory=dict)  # search options, the pipeline's choices, lm/lexicon
    model: dict | None = None  # the network's architecture (neural pipelines)
    frame_seconds: float | None = None  # seconds per network output frame (neural pipelines)
    train: dict = field(default_factory=dict)  # data, sizes, times, history
    params: int | None = None
    config: dict = field(default_factory=dict)  # the training config
    init_from: dict | None = None  # transfer: the model dir the network started from (path, pipeline,
    # weights_sha256, the parts copied and the heads trained new); none when trained from scratch
    tuning: dict | None = None  # the dev-set grid search: dev, dev_wer, table
    aux: dict | None = None  # a multi-task network's second CTC head (hybrid with aux_units): its
    # units, decoding and tuning, searched as the ctc pipeline searches (`asr decode --head aux`)
    checksums: dict = field(default_factory=dict)  # {relative path: sha256}, written by write_model_info
    format: int = FORMAT

    @classmethod
    def from_dict(cls, d: dict, where: str | os.PathLike = MODEL_FILE) -> "ModelInfo":
        """A model.yaml mapping (older layouts upgraded), every entry's type checked."""
        if not isinstance(d, dict) or d.get("pipeline") not in PIPELINES:
            raise AsrError(f"{where}: no valid 'pipeline' key (one of {', '.join(PIPELINES)})")
        fmt = d.get("format", 1)
        if isinstance(fmt, bool) or not isinstance(fmt, int) or not 1 <= fmt <= FORMAT:
            raise AsrError(f"{where}: format {fmt!r} is not one this asr reads (1 to {FORMAT})")
        d = _upgraded(d) if fmt == 1 else d
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(map(str, set(d) - set(known)))
        if unknown:
            raise AsrError(f"{where}: unknown entr{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}")
        for name, value in d.items():
            kind = _ENTRY_KINDS.get(name)
            if kind is not None and value is not None and not isinstance(value, kind):
                raise AsrError(f"{where}: '{name}' must be {_KIND_WORDS[kind]}, got {type(value).__name__}")
        return cls(**{k: v for k, v in d.items() if v is not None or known[k].default is None})

    def to_dict(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


_ENTRY_KINDS = {"sample_rate": int, "features": dict, "units": dict, "files": dict, "decoding": dict,
                "model": dict, "frame_seconds": (int, float), "train": dict, "params": int, "config": dict,
                "init_from": dict, "tuning": dict, "aux": dict, "checksums": dict}
_KIND_WORDS = {int: "an integer", dict: "a mapping", (int, float): "a number"}


def _upgraded(d: dict) -> dict:
    """A format-1 model.yaml (before 2026-12) in today's layout: neural weights at the top level ->
    files.weights, classic's LM in files -> decoding.lm, the neural tuning table in decoding ->
    tuning.table."""
    d = {**d, "format": FORMAT}
    files, decoding = d.get("files") or {}, d.get("decoding") or {}
    if not (isinstance(files, dict) and isinstance(decoding, dict)):
        return d  # the type check names the entry
    files, decoding = dict(files), dict(decoding)
    if "weights" in d:
        files["weights"] = d.pop("weights")
    if "lm" in files:
        decoding.setdefault("lm", files.pop("lm"))
    if isinstance(decoding.get("tuning"), list):
        d["tuning"] = {"dev": None, "dev_wer": None, "table": decoding.pop("tuning")}
    d["files"], d["decoding"] = files, decoding
    return d


def read_model_info(model_dir: str | os.PathLike) -> ModelInfo:
    """model.yaml of a model dir, checked, with every path it names confined to the dir."""
    model_dir = Path(model_dir)
    path = model_dir / MODEL_FILE
    if not model_dir.is_dir():
        raise AsrError(f"{model_dir}: no such model directory")
    if not path.is_file():
        raise AsrError(f"{model_dir}: not a model directory (no {MODEL_FILE}; was training finished?)")
    try:
        info = ModelInfo.from_dict(yaml.safe_load(path.read_text(encoding="utf-8")), path)
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as e:
        raise AsrError(f"{path}: unreadable ({type(e).__name__})") from None
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


def model_files(info: ModelInfo) -> list[str]:
    """The paths model.yaml names (weights, GMMs, tree, transform, units, lexicon, LM), as written."""
    found: list = list(info.files.values()) + _unit_and_search_files(info.units, info.decoding)
    if info.aux:  # a multi-task model's second head
        found += _unit_and_search_files(info.aux.get("units") or {}, info.aux.get("decoding") or {})
    return list(dict.fromkeys(found))  # each once, in order


def _unit_and_search_files(units: dict, decoding: dict) -> list[str]:
    return ([units[key] for key in ("tokens", "model") if key in units]
            + [decoding[key] for key in ("lexicon", "lm") if decoding.get(key) is not None])


def write_model_info(model_dir: str | os.PathLike, info: ModelInfo) -> None:
    """Write model.yaml (atomically, last: its presence means training finished) with the sha256
    of every file it names, so that `asr info --check` can tell a damaged or replaced file."""
    model_dir = Path(model_dir)
    checksums = {}
    for relpath in model_files(info):
        path = resolve(model_dir, relpath)
        if not path.is_file():
            raise AsrError(f"{path}: named in {MODEL_FILE} but not written")
        checksums[relpath] = sha256(path)
    info.checksums = checksums
    with atomic_write(model_dir / MODEL_FILE) as f:
        yaml.safe_dump(info.to_dict(), f, sort_keys=False)


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
    recorded = info.checksums
    if not recorded:
        return 0
    if not all(isinstance(v, str) for v in recorded.values()):
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
