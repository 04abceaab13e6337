"""Transfer learning (`init_from`): a new network starts from a trained model dir's encoder.

Copied exactly, always: the convolutional subsampling and the encoder (asr.nn.model.ENCODER_PARTS).
Copied only when the two unit inventories are identical (the same tokens in the same order): the
CTC output layer and, when both networks have one of the same shape, the attention decoder. A
character model's output layer means nothing to a phone model, so a hybrid model started from a
ctc model keeps its own randomly initialised output layer. Everything else about the new network
(its units, frames per output, dropout, attention layers) is the new pipeline's config.

The source must be a neural model dir (ctc, hybrid or dnnhmm) whose input and encoder have the
new config's shape: the features and every setting that shapes the encoder (`shape_fields`).
Anything else is one AsrError line naming the source and the first setting that differs, raised
by `transfer_source`, which the pipelines call before the experiment dir exists.

How the copy is then trained (frozen epochs, the encoder's learning-rate factor) is asr.nn.train's.
The source's identity (the sha256 of its weights, what was copied) is part of the resume
fingerprint (asr.nn.acoustic), so a checkpoint started from one source never resumes from another.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from asr.errors import AsrError
from asr.hmm.tree import ContextTree
from asr.modeldir import MODEL_FILE, ModelInfo, read_model_info, resolve, sha256
from asr.nn.checkpoint import load_weights
from asr.nn.model import ENCODER_PARTS, HEAD_PARTS, CtcModel
from asr.units import load_units

log = logging.getLogger(__name__)

# The settings (pipeline config keys) an encoder must share to be transferred, in the order a
# difference is reported. The features do not change the encoder's size (num_filters aside) but
# an encoder trained on other features, another rate or other normalisation is no start for these.
FEATURE_FIELDS = ("sample_rate", "num_filters", "cmvn")
ENCODER_FIELDS = ("encoder", "d_model", "num_layers", "subsampling_channels")
ENCODER_TYPE_FIELDS = {"blstm": ("lstm_hidden",), "conformer": ("num_heads", "ffn_dim", "conv_kernel")}


@dataclass
class TransferSource:
    """A trained model dir to start from, read and checked against the new config."""
    path: Path  # the model dir as given
    pipeline: str
    weights: dict[str, torch.Tensor]
    weights_sha256: str
    units: tuple[str, ...]  # what its output columns mean (unit_inventory)


def shape_fields(settings: dict) -> dict:
    """The settings of a flat config (pipeline keys) that shape the network's input and encoder:
    the features, the encoder's kind, width and depth, and what that kind of encoder is built from
    (a BLSTM's cells; a Conformer's heads, feed-forward width and kernel)."""
    keys = FEATURE_FIELDS + ENCODER_FIELDS + ENCODER_TYPE_FIELDS.get(settings.get("encoder"), ())
    return {k: settings.get(k) for k in keys}


def transfer_source(config: dict) -> TransferSource | None:
    """The config's `init_from` model dir, read and checked against the config (None without one).

    A missing dir, a model without a network (classic), a setting of `shape_fields` that differs
    or a damaged weights file: one AsrError line naming the source."""
    if config.get("init_from") is None:
        return None
    path = Path(config["init_from"])
    try:
        info = read_model_info(path)
        if not isinstance(info.model, dict) or not info.files.get("weights"):
            raise AsrError(f"{path}: a {info.pipeline} model has no network encoder; "
                           "start from a ctc, hybrid or dnnhmm model dir")
        theirs = {**info.model, **{k: info.features.get(k) for k in FEATURE_FIELDS}}
        for key, ours in shape_fields(config).items():
            if theirs.get(key) != ours:
                raise AsrError(f"{path}: its {key} is {theirs.get(key)!r}, this config's is {ours!r} "
                               "(the encoder is copied as it is: its features and shape must match)")
        weights_path = resolve(path, info.files["weights"], "weights")
        weights = load_weights(weights_path)  # a missing or unreadable file is named
        digest = sha256(weights_path)
        recorded = info.checksums.get(info.files["weights"])
        if isinstance(recorded, str) and recorded.lower() != digest:
            raise AsrError(f"{weights_path}: checksum differs from the one in its {MODEL_FILE} "
                           "(file damaged or replaced)")
        units = unit_inventory(path, info)
    except AsrError as e:
        raise AsrError(f"init_from: {e}") from None
    return TransferSource(path, info.pipeline, weights, digest, units)


def unit_inventory(model_dir: Path, info: ModelInfo) -> tuple[str, ...]:
    """What a model's output columns mean, to tell whether two models share them: its tokens in
    order (ctc, hybrid: units.txt), or its HMM states (dnnhmm: `pdf_inventory` of its tree)."""
    if info.units.get("kind") == "hmm-pdfs":
        return pdf_inventory(ContextTree.load(resolve(model_dir, info.files.get("tree"), "tree")))
    return tuple(load_units(model_dir, info.units).tokens)


def pdf_inventory(tree: ContextTree) -> tuple[str, ...]:
    """The identity of a decision tree's pdfs: their count and a digest
    of the tree that defines them (two trees with the same count can tie other states together)."""
    text = json.dumps(tree.to_json(), sort_keys=True)
    return ("hmm-pdfs", str(tree.num_pdfs), hashlib.sha256(text.encode()).hexdigest())


def initialise(model: CtcModel, source: TransferSource, units: tuple[str, ...]) -> dict:
    """Copy the source's subsampling and encoder into `model`, and its heads when `units` (the new
    model's unit_inventory) are the source's and the shapes agree; returns what model.yaml records
    under `init_from` (path, pipeline, weights sha256, the parts copied and the heads left new)."""
    copied = list(ENCODER_PARTS)
    heads = [part for part in HEAD_PARTS if getattr(model, part) is not None]
    if units == source.units:  # (a multi-task second head's units are not compared: it starts new)
        copied += [part for part in heads
                   if part != "aux_output" and _fits(getattr(model, part), _part(source.weights, part))]
    for part in copied:
        try:
            getattr(model, part).load_state_dict(_part(source.weights, part))
        except RuntimeError as e:
            first = str(e).strip().splitlines()[0][:200]
            raise AsrError(f"init_from {source.path}: its {part} weights do not fit this network ({first})") from None
    new = [part for part in heads if part not in copied]
    log.info("init_from %s: copied %s%s", source.path, ", ".join(copied),
             f"; new {', '.join(new)} (other units)" if new else "")
    return {"path": str(source.path.resolve()), "pipeline": source.pipeline,
            "weights_sha256": source.weights_sha256, "copied": copied, "new": new}


def _part(weights: dict[str, torch.Tensor], part: str) -> dict[str, torch.Tensor]:
    """One part's entries of a state dict, named as the part's own state dict names them."""
    prefix = part + "."
    return {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}


def _fits(module: torch.nn.Module, weights: dict[str, torch.Tensor]) -> bool:
    """Whether `weights` holds exactly the module's entries, each of the same shape."""
    own = module.state_dict()
    return own.keys() == weights.keys() and all(own[k].shape == weights[k].shape for k in own)
