"""What the neural pipelines (ctc, hybrid, dnnhmm) share: config keys, training a network on a
data dir, and loading it back to turn samples into log-probabilities (CTC units or HMM states).

The pipelines differ in their targets, units and decoding; everything here is common to them.
"""
from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from asr.datadir import DataDir, check_datadir, utterance_seconds
from asr.errors import AsrError
from asr.features import FeatureConfig, featurize
from asr.modeldir import MODEL_FILE, ModelInfo, resolve, write_model_info
import asr.distributed as distributed
from asr.nn.augment import SPEEDS, SpecAugmentConfig
from asr.nn.checkpoint import load_into, save_weights
from asr.nn.data import load_examples
from asr.nn.model import FRAME_SECONDS, SUBSAMPLING, CtcModel, ModelConfig, parameter_count
from asr.nn.train import FrameCriterion, TrainConfig, resolve_device, train_model
from asr.nn.transfer import TransferSource, initialise

log = logging.getLogger(__name__)

WEIGHTS_FILE = "model.safetensors"
CHECKPOINT_DIR = "checkpoints"

# Every key both neural pipelines accept, with its default. Flat, so `--set key=value` reaches it.
# The model and training defaults are owned by the dataclasses (ModelConfig in asr.nn.model,
# TrainConfig in asr.nn.train, SpecAugmentConfig in asr.nn.augment: the comments on the values are
# there); only the keys that no dataclass has are written out here.
# The joint CTC/attention keys are the ctc pipeline's only (asr.pipelines.ctc adds ATTENTION_DEFAULTS),
# the multi-task keys (a second CTC head) the hybrid pipeline's (MULTITASK_DEFAULTS).
ATTENTION_MODEL_KEYS, ATTENTION_TRAIN_KEYS = ("attention_layers",), ("ctc_weight",)
MULTITASK_TRAIN_KEYS = ("aux_weight",)
TRANSFER_TRAIN_KEYS = ("freeze_encoder_epochs", "encoder_lr_scale")  # with init_from (asr.nn.transfer)
MODEL_KEYS = tuple(f.name for f in fields(ModelConfig)
                   if f.name not in ("input_dim", "num_outputs", "frames_per_output", "aux_outputs")  # set by the pipeline
                   and f.name not in ATTENTION_MODEL_KEYS)
TRAIN_KEYS = tuple(f.name for f in fields(TrainConfig)
                   if f.name not in ("speeds", "spec_augment") and f.name not in ATTENTION_TRAIN_KEYS
                   and f.name not in TRANSFER_TRAIN_KEYS + MULTITASK_TRAIN_KEYS)
# pipeline key -> SpecAugmentConfig field (time_fraction is not a pipeline option)
SPEC_AUGMENT_KEYS = {"freq_masks": "freq_masks", "freq_mask_width": "freq_width",
                     "time_masks": "time_masks", "time_mask_width": "time_width"}
_MODEL, _TRAIN, _SPEC_AUGMENT = ModelConfig(), TrainConfig(), SpecAugmentConfig()
TRANSFER_DEFAULTS = {
    "init_from": None,  # a trained ctc, hybrid or dnnhmm model dir whose encoder this network starts from
    # freeze_encoder_epochs, encoder_lr_scale (asr.nn.train.TrainConfig): how that encoder is fine-tuned
    **{k: getattr(_TRAIN, k) for k in TRANSFER_TRAIN_KEYS},
}
NN_DEFAULTS = {
    # features: 80 log-mel filterbank bins at 25 ms / 10 ms, normalised per utterance
    "sample_rate": 16000,
    "num_filters": 80,
    "cmvn": "utterance",  # utterance | speaker | none
    # model (asr.nn.model.ModelConfig): encoder, d_model, num_layers, lstm_hidden, num_heads,
    # ffn_dim, conv_kernel, subsampling_channels, dropout
    **{k: getattr(_MODEL, k) for k in MODEL_KEYS},
    # training (asr.nn.train.TrainConfig): epochs, batch_frames, optimizer, lr, weight_decay,
    # warmup_steps, clip_norm, patience, average, choose_after, seed
    **{k: getattr(_TRAIN, k) for k in TRAIN_KEYS},
    # transfer learning (asr.nn.transfer): init_from, freeze_encoder_epochs, encoder_lr_scale
    **TRANSFER_DEFAULTS,
    "speed_perturb": True,  # speeds asr.nn.augment.SPEEDS (0.9 / 1.0 / 1.1), one drawn per utterance per epoch
    "spec_augment": _SPEC_AUGMENT.enabled,  # asr.nn.augment.SpecAugmentConfig
    **{k: getattr(_SPEC_AUGMENT, f) for k, f in SPEC_AUGMENT_KEYS.items()},
    "feature_cache": None,  # feature cache dir shared between systems (default EXP_DIR/checkpoints/feats)
    "features_in_memory": False,  # read every utterance's features at the start (False: batch by batch)
    "keep_checkpoints": False,  # keep EXP_DIR/checkpoints (per-epoch weights, state.pt) after training
    "dev_fraction": 0.05,  # without a dev dir: this share of training speakers is held out
    "device": "auto",  # auto | cpu | cuda
    "threads": 2,  # torch CPU threads
}
ATTENTION_DEFAULTS = {"attention_layers": _MODEL.attention_layers, "ctc_weight": _TRAIN.ctc_weight}
MULTITASK_DEFAULTS = {
    "aux_units": None,  # null | chars: a second CTC head over this unit inventory (multi-task)
    "aux_weight": _TRAIN.aux_weight,  # its loss's share (asr.nn.train.TrainConfig)
}


def feature_config(config: dict) -> FeatureConfig:
    return FeatureConfig(kind="fbank", sample_rate=config["sample_rate"], num_filters=config["num_filters"],
                         cmvn=config["cmvn"])


def model_config(config: dict, num_outputs: int, frames_per_output: int = 1, aux_outputs: int = 0) -> ModelConfig:
    return ModelConfig.from_dict({**{k: config[k] for k in MODEL_KEYS},
                                  **{k: config[k] for k in ATTENTION_MODEL_KEYS if k in config},  # ctc only
                                  "num_outputs": num_outputs, "aux_outputs": aux_outputs,
                                  "input_dim": config["num_filters"], "frames_per_output": frames_per_output})


def train_config(config: dict) -> TrainConfig:
    spec = SpecAugmentConfig(enabled=bool(config["spec_augment"]),
                             **{f: config[k] for k, f in SPEC_AUGMENT_KEYS.items()})
    return TrainConfig.from_dict({**{k: config[k] for k in TRAIN_KEYS + TRANSFER_TRAIN_KEYS},
                                  **{k: config[k] for k in ATTENTION_TRAIN_KEYS if k in config},  # ctc only
                                  **{k: config[k] for k in MULTITASK_TRAIN_KEYS if k in config},  # hybrid only
                                  "spec_augment": spec,
                                  "speeds": SPEEDS if config["speed_perturb"] else (1.0,)})


def read_train_dev(train_dir: Path, dev_dir: Path | None, config: dict) -> tuple[DataDir, DataDir]:
    """The training and dev data dirs (dev split off the training speakers when not given)."""
    train = check_datadir(train_dir)
    if not train.text:
        raise AsrError(f"{train_dir}: training data needs a text file")
    if dev_dir is None:
        return split_dev(train, config["dev_fraction"], config["seed"])
    dev = check_datadir(dev_dir)
    if not dev.text:
        raise AsrError(f"{dev_dir}: dev data needs a text file")
    return train, dev


def split_dev(data: DataDir, fraction: float, seed: int) -> tuple[DataDir, DataDir]:
    """Hold out a share of the speakers (at least one) as a dev set; returns (train, dev)."""
    speakers = sorted(data.spk2utt)
    if len(speakers) < 2:
        raise AsrError(f"{data.path}: one speaker only; give a dev dir for validation")
    random.Random(seed).shuffle(speakers)
    held = set(speakers[:max(1, round(fraction * len(speakers)))])
    dev_utts = [u for u in data.utts if data.utt2spk[u] in held]
    train_utts = [u for u in data.utts if data.utt2spk[u] not in held]
    train, dev = data.select(train_utts), data.select(dev_utts)
    train.path, dev.path = data.path, data.path
    return train, dev


def train_acoustic_model(config: dict, train_data: DataDir, dev_data: DataDir,
                         train_targets: dict[str, list[int]], dev_targets: dict[str, list[int]],
                         num_outputs: int, exp_dir: Path, nj: int = 1,
                         alternatives: dict[str, list[list[int]]] | None = None,
                         criterion: FrameCriterion | None = None, source: TransferSource | None = None,
                         units: tuple[str, ...] = (), aux_targets: dict[str, list[int]] | None = None,
                         aux_outputs: int = 0) -> tuple[CtcModel, dict]:
    """Train a network on the targets; writes exp_dir/model.safetensors; returns (model, summary).

    CTC over token sequences, or with a FrameCriterion frame-level cross-entropy against
    alignments (one target per 10 ms frame: the network then outputs every 10 ms).
    `alternatives[utt]`: every allowed target of an utterance (pronunciation variants, first =
    initial target); the training picks the one the model finds most likely.
    `source` (asr.nn.transfer.transfer_source): the model dir the network starts from; its output
    layer is copied too when `units` (the new model's asr.nn.transfer.unit_inventory) are its own.
    The summary's `init_from` says what was copied. With `aux_outputs` the network has a second
    CTC head of that many outputs trained on `aux_targets` (multi-task; weight `aux_weight`).
    """
    # Features are many tiny torch ops: extra threads only wait on each other (badly so on a busy
    # machine), so they are computed on one thread and the network trains on `threads`.
    torch.set_num_threads(1)
    features, train_cfg = feature_config(config), train_config(config)
    cache = Path(config["feature_cache"]) if config["feature_cache"] else exp_dir / CHECKPOINT_DIR / "feats"
    frames = criterion is not None  # frame targets: every length fits
    distributed.start(resolve_device(config["device"]))
    if not distributed.is_main():
        distributed.barrier()  # under torchrun rank 0 fills the feature cache, then the others read it
    read = dict(nj=nj, alternatives=alternatives, check_fit=not frames, in_memory=config["features_in_memory"],
                aux_targets=aux_targets)
    train_examples = load_examples(train_data, features, train_targets, cache, train_cfg.speeds, **read)
    dev_examples = load_examples(dev_data, features, dev_targets, cache, **read)
    if distributed.is_main():
        distributed.barrier()
    log.info("training on %d utterances, validating on %d", len(train_examples), len(dev_examples))
    torch.set_num_threads(max(1, int(config["threads"])))

    torch.manual_seed(train_cfg.seed)  # the initial weights
    model = CtcModel(model_config(config, num_outputs, frames_per_output=SUBSAMPLING if frames else 1,
                                  aux_outputs=aux_outputs))
    transfer = initialise(model, source, units) if source else None
    fingerprint = _fingerprint(config, train_targets, dev_targets, alternatives,
                               vars(criterion) if criterion else "ctc", transfer, aux_targets)
    summary = train_model(model, train_examples, dev_examples, train_cfg, exp_dir / CHECKPOINT_DIR,
                          device=config["device"], fingerprint=fingerprint, criterion=criterion)
    save_weights(model.state_dict(), exp_dir / WEIGHTS_FILE)
    seconds = utterance_seconds(train_data)
    summary["data"] = {"utts": len(train_examples), "seconds": round(sum(seconds.values()), 2),
                       "hours": round(sum(seconds.values()) / 3600, 4),
                       "data": Path(train_data.path).name if train_data.path else None,
                       "dev_utts": len(dev_examples)}
    summary["params"] = parameter_count(model)
    summary["init_from"] = transfer
    return model.cpu().eval(), summary


def model_info(config: dict, model: CtcModel, summary: dict) -> dict:
    """The model.yaml (ModelInfo) entries both pipelines write."""
    return {
        "sample_rate": config["sample_rate"],
        "features": feature_config(config).to_dict(),
        "model": model.config.to_dict(),
        "files": {"weights": WEIGHTS_FILE},
        "frame_seconds": FRAME_SECONDS / model.config.frames_per_output,
        "train": {**summary["data"], "epochs_run": summary["epochs_run"], "steps": summary["steps"],
                  "cpu_seconds": round(sum(h.get("cpu_seconds", 0) for h in summary["history"]), 1),
                  "wall_seconds": round(sum(h.get("wall_seconds", 0) for h in summary["history"]), 1),
                  "averaged_epochs": summary["averaged_epochs"], "config": train_config(config).to_dict(),
                  "history": summary["history"]},
        "params": summary["params"],
        "init_from": summary.get("init_from"),
    }


def finish_model_dir(exp_dir: Path, info: ModelInfo, config: dict) -> None:
    """Write model.yaml (last: its presence means training finished), then remove the checkpoints
    (needed only to resume) unless `keep_checkpoints`."""
    write_model_info(exp_dir, info)
    if not config["keep_checkpoints"]:
        shutil.rmtree(Path(exp_dir) / CHECKPOINT_DIR, ignore_errors=True)


@dataclass
class EncodedScores:
    """A joint CTC/attention model's scores of one utterance: the CTC log-probabilities (for the
    search) and the encoder output they came from (for the attention decoder's rescoring)."""
    matrix: np.ndarray  # (frames, units) float32 CTC log-probabilities
    context: torch.Tensor  # (frames, width) encoder output


class NeuralScorer:
    """A trained network read from a model dir: samples -> (frames, units) log-probabilities.

    The scorer of the ctc and hybrid pipelines (asr.pipelines.recognizer.Scorer) and the network
    under dnnhmm's scaled likelihoods; no speaker adaptation, so the `first_pass` decoder it is
    offered goes unused."""

    def __init__(self, model_dir: Path, info: ModelInfo, device: str = "auto", threads: int | None = None,
                 aux: bool = False):
        """`aux`: score with the network's second CTC head (a multi-task model's other units)."""
        model_dir = Path(model_dir)
        try:
            self.features = FeatureConfig.from_dict(info.features)
            model_cfg = ModelConfig.from_dict(info.model)
        except (KeyError, TypeError) as e:
            raise AsrError(f"{model_dir / MODEL_FILE}: missing or malformed entry {e}") from None
        except AsrError as e:
            raise AsrError(f"{model_dir / MODEL_FILE}: {e}") from None
        weights = resolve(model_dir, info.files.get("weights"), "weights")
        self.device = resolve_device(device)
        if threads:
            torch.set_num_threads(threads)
        try:
            self.model = CtcModel(model_cfg)
        except (TypeError, ValueError, RuntimeError) as e:
            raise AsrError(f"{model_dir / MODEL_FILE}: the 'model' entry does not describe a network "
                           f"({type(e).__name__})") from None
        load_into(self.model, weights)
        if aux and self.model.aux_output is None:
            raise AsrError(f"{model_dir / MODEL_FILE}: the network has no second output head")
        self.aux = aux
        self.model.to(self.device).eval()
        self.sample_rate = self.features.sample_rate
        self.min_samples = self.features.frame_samples  # shorter audio has no feature frame
        self.frame_seconds = float(info.frame_seconds or FRAME_SECONDS)
        self.speaker_level = self.features.cmvn == "speaker"

    @torch.no_grad()
    def datadir_scores(self, data: DataDir, first_pass=None) -> dict[str, np.ndarray]:
        """Log-probabilities of every utterance of a data dir (features as at training, no cache)."""
        from asr.features import load_features

        feats = load_features(data, self.features)
        return {utt: self._forward(f) for utt, f in feats.items()}

    def scores(self, samples: np.ndarray, first_pass=None) -> np.ndarray:
        """(frames, units) float32 log-probabilities of mono samples at .sample_rate."""
        return self._forward(featurize(samples, self.sample_rate, self.features))

    @torch.no_grad()
    def _forward(self, feats: np.ndarray) -> np.ndarray | EncodedScores:
        x = torch.from_numpy(feats).unsqueeze(0).to(self.device)
        encoded, lengths = self.model.encode(x, torch.tensor([len(feats)], device=self.device))
        head = self.model.aux_log_probs if self.aux else self.model.ctc_log_probs
        out, out_lengths = head(encoded, lengths)
        matrix = out[0, :int(out_lengths[0])].float().cpu().numpy()
        if self.model.decoder is None:
            return matrix
        return EncodedScores(matrix, encoded[0, :int(lengths[0])])


# Keys that do not change the training trajectory: when to stop, what to average at the end,
# where files go. A run may be resumed with other values (e.g. more epochs).
NOT_IN_FINGERPRINT = ("device", "threads", "epochs", "patience", "average", "keep_checkpoints", "feature_cache",
                      "features_in_memory")


def _fingerprint(config: dict, train_targets: dict, dev_targets: dict, alternatives: dict | None,
                 criterion, transfer: dict | None = None, aux_targets: dict | None = None) -> str:
    """Names the config, criterion and data of a training run, so a checkpoint is resumed only by
    the same run. A transferred start (asr.nn.transfer.initialise's record) is named by its
    source's weights and the parts copied, not by the source's path, with the fine-tuning keys;
    without one the fingerprint is what it was before transfer learning existed."""
    named = set(NN_DEFAULTS) - set(TRANSFER_DEFAULTS)
    if config.get("attention_layers"):
        named |= set(ATTENTION_DEFAULTS)
    if config.get("aux_units"):
        named |= set(MULTITASK_DEFAULTS)
    keep = {k: v for k, v in config.items() if k in named and k not in NOT_IN_FINGERPRINT}
    if keep.get("precision") == "fp32":  # the arithmetic every run used before precision was a key
        del keep["precision"]
    if distributed.active():  # the global batch's split changes the float sums: same world size only
        keep["world_size"] = distributed.world_size()
    named_parts = [keep, criterion, sorted(train_targets.items()), sorted(dev_targets.items()),
                   sorted((alternatives or {}).items())]
    if aux_targets:
        named_parts.append(sorted(aux_targets.items()))
    if transfer:
        named_parts.append({"weights_sha256": transfer["weights_sha256"], "copied": transfer["copied"],
                            **{k: config[k] for k in TRANSFER_TRAIN_KEYS}})
    text = json.dumps(named_parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
