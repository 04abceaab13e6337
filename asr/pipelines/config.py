"""Pipeline configs: a YAML file plus `--set key=value` overrides, merged over the pipeline's DEFAULTS
and checked against asr.pipelines.config_schema when read, before any work starts."""
from __future__ import annotations

from pathlib import Path

import yaml

from asr.errors import AsrError


def load_config(path: str | Path | None, overrides: list[str] = (), pipeline: str | None = None) -> dict:
    """The user's config: the YAML file's mapping, then each KEY=VALUE (value parsed as YAML; with
    `pipeline`, KEY may name a field of a mapping key, as `asr config` lists them: features.cmvn).

    With `pipeline`, every value is checked where it came from (the file, or `--set`) and the
    merged config as a whole (required keys, rules between keys): one AsrError line naming the
    source and the key.
    """
    from asr.pipelines.config_schema import check_config, defaults

    config: dict = {}
    if path:
        path = Path(path)
        if not path.is_file():
            raise AsrError(f"{path}: no such config file")
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except UnicodeDecodeError:
            raise AsrError(f"{path}: not UTF-8 text") from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f":{mark.line + 1}" if mark else ""
            raise AsrError(f"{path}{where}: not valid YAML") from None
        if not isinstance(config, dict):
            raise AsrError(f"{path}: a config must be a mapping of keys to values")
        if pipeline:
            check_config(pipeline, config, str(path))
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise AsrError(f"--set {item!r}: expected KEY=VALUE")
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError:
            raise AsrError(f"--set {item!r}: not valid YAML") from None
        parent, dot, field = key.partition(".")
        nested = bool(dot and pipeline and isinstance(defaults(pipeline).get(parent), dict))
        if nested:  # a key inside a mapping, e.g. features.cmvn=none
            if not isinstance(config.get(parent) or {}, dict):
                raise AsrError(f"--set {item!r}: {parent} is not a mapping")
            config[parent] = {**(config.get(parent) or {}), field: value}
        else:
            config[key] = value
        if pipeline:
            check_config(pipeline, {parent: config[parent]} if nested else {key: value}, "--set")
    if pipeline:
        where = f"{path}" if path and not overrides else ("--set" if not path else f"{path} with --set")
        check_config(pipeline, {**defaults(pipeline), **config}, where, complete=True)
    return config


def pipeline_config(pipeline: str, config: dict, where: str | None = None) -> dict:
    """The pipeline's DEFAULTS overridden by `config`, every key checked (unknown keys, types,
    ranges, required keys): what a pipeline's train() starts with."""
    from asr.pipelines.config_schema import check_config, defaults

    where = where or f"{pipeline} config"
    check_config(pipeline, config, where)
    merged = {**defaults(pipeline), **config}
    check_config(pipeline, merged, where, complete=True)
    return merged


def merge_config(defaults: dict, config: dict, where: str = "config") -> dict:
    """DEFAULTS overridden by `config`; a key the pipeline does not know is an error (typos).
    Checks keys only: pipeline_config checks values too."""
    unknown = sorted(set(config) - set(defaults))
    if unknown:
        raise AsrError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(defaults))}")
    return {**defaults, **config}
