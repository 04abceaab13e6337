"""Pipeline configs: a YAML file plus `--set key=value` overrides, merged over the pipeline's DEFAULTS."""
from __future__ import annotations

from pathlib import Path

import yaml

from asr.errors import AsrError


def load_config(path: str | Path | None, overrides: list[str] = ()) -> dict:
    """The user's config: the YAML file's mapping, then each KEY=VALUE (value parsed as YAML)."""
    config: dict = {}
    if path:
        path = Path(path)
        if not path.is_file():
            raise AsrError(f"{path}: no such config file")
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f":{mark.line + 1}" if mark else ""
            raise AsrError(f"{path}{where}: not valid YAML") from None
        if not isinstance(config, dict):
            raise AsrError(f"{path}: a config must be a mapping of keys to values")
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise AsrError(f"--set {item!r}: expected KEY=VALUE")
        config[key.strip()] = yaml.safe_load(value)
    return config


def merge_config(defaults: dict, config: dict, where: str = "config") -> dict:
    """DEFAULTS overridden by `config`; a key the pipeline does not know is an error (typos)."""
    unknown = sorted(set(config) - set(defaults))
    if unknown:
        raise AsrError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(defaults))}")
    return {**defaults, **config}
