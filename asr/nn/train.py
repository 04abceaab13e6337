"""The training loop: length-sorted batches, warm-up, clipping, dev validation, early stopping,
per-epoch checkpoints and exact resume, for either criterion: CTC over token sequences (ctc,
hybrid) or frame-level cross-entropy against an HMM-state alignment (dnnhmm).

State saved after every epoch (`state.pt`): model, optimiser, scheduler, torch's RNG, epoch,
history. A run killed mid-epoch restarts from the last finished epoch and, because every random
draw (batch order, speeds, SpecAugment masks, dropout) comes from the restored torch RNG, it
reaches exactly the state an uninterrupted run reaches (on the same device and thread count).

Under torchrun (asr.distributed) each rank trains on its share of every global batch inside
DistributedDataParallel; rank 0 draws the batch order and speeds, evaluates its share of dev like
the others (the sums are added over ranks), and alone writes checkpoints. Each rank's RNG is saved,
so a killed multi-rank run resumes exactly too. With `precision` bf16 or fp16 the forward pass runs
under CUDA autocast (fp16 with a gradient scaler).
"""
from __future__ import annotations

import logging
import math
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from asr.errors import AsrError
import asr.distributed as distributed
from asr.nn.augment import SpecAugment, SpecAugmentConfig
from asr.nn.checkpoint import average_weights, load_state, save_state, save_weights
from asr.nn.data import Example, collate, make_batches
from asr.nn.model import ENCODER_PARTS, CtcModel
from asr.scoring import edit_distance
from asr.units import ctc_collapse

BLANK_ID = 0  # every unit inventory puts the CTC blank first (asr.units)

log = logging.getLogger(__name__)

STATE_FILE = "state.pt"
OPTIMIZERS = ("adamw", "adam")
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}  # autocast dtype (CUDA only)


@dataclass
class TrainConfig:
    # The scalar defaults below are the pipelines' defaults too (asr.nn.acoustic.NN_DEFAULTS is
    # built from them); speeds and spec_augment are set there from speed_perturb / spec_augment.
    epochs: int = 30  # most epochs; early stopping usually ends sooner
    batch_frames: int = 3000  # padded 10 ms input frames per batch (30 s of audio: ~90 updates per AN4 epoch)
    optimizer: str = "adamw"  # adamw | adam
    lr: float = 0.0015  # peak learning rate, reached after warm-up
    weight_decay: float = 0.01
    warmup_steps: int = 200  # linear warm-up, then inverse-square-root decay
    clip_norm: float = 5.0  # gradient norm clipping
    patience: int = 6  # stop after this many epochs without a better dev token error rate or dev loss
    average: int = 3  # final weights = mean of this many best epochs by dev token error rate (1: the best)
    choose_after: int = 2  # from the epoch after this one, each utterance's target is the
    # alternative (pronunciation variant) the current model scores best
    seed: int = 0
    ctc_weight: float = 0.3  # joint CTC/attention models: the CTC loss's share (ESPnet's AN4 and
    # LibriSpeech recipes: 0.3); the attention decoder's is 1 - this. Unused by CTC-only models.
    aux_weight: float = 0.3  # multi-task models (a second CTC head): its loss's share; the main
    # head's is 1 - this. Unused by single-head models
    # Transfer learning (a network that starts from another model's encoder, asr.nn.transfer):
    freeze_encoder_epochs: int = 0  # the first this many epochs train only the heads: the
    # subsampling and encoder get no updates (nor weight decay), and their dropout and BatchNorm
    # statistics are held as in evaluation
    encoder_lr_scale: float = 1.0  # the subsampling and encoder learn at lr x this (heads at lr):
    # a transferred encoder moves less than the new output layer trained on top of it
    precision: str = "fp32"  # fp32 | bf16 | fp16: the forward pass's arithmetic (bf16, fp16: CUDA autocast)
    speeds: tuple = (1.0,)  # speed perturbation factors, one drawn per utterance per epoch
    spec_augment: SpecAugmentConfig = field(default_factory=SpecAugmentConfig)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise AsrError(f"unknown training option(s): {', '.join(sorted(unknown))}")
        d = dict(d)
        if isinstance(d.get("spec_augment"), dict):
            d["spec_augment"] = SpecAugmentConfig.from_dict(d["spec_augment"])
        if "speeds" in d:
            d["speeds"] = tuple(float(s) for s in d["speeds"])
        config = cls(**d)
        if config.precision not in PRECISIONS:
            raise AsrError(f"precision must be one of {', '.join(PRECISIONS)}, not {config.precision!r}")
        if config.optimizer not in OPTIMIZERS:
            raise AsrError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {config.optimizer!r}")
        if 1.0 not in config.speeds:
            raise AsrError("speeds must include 1.0 (validation and decoding use unperturbed audio)")
        return config

    def to_dict(self) -> dict:
        d = asdict(self)
        d["speeds"] = list(self.speeds)
        return d


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise AsrError("device cuda requested but torch sees no CUDA device")
    if device not in ("cpu", "cuda"):
        raise AsrError(f"device must be auto, cpu or cuda, not {device!r}")
    return torch.device(device)


def warmup_then_decay(warmup_steps: int) -> Callable[[int], float]:
    """Learning-rate factor: linear from 0 to 1 over warm-up, then 1/sqrt(step / warm-up)."""
    def factor(step: int) -> float:
        step = step + 1
        return step / warmup_steps if step < warmup_steps else math.sqrt(warmup_steps / step)
    return factor


def train_model(model: CtcModel, train: list[Example], dev: list[Example], config: TrainConfig,
                out_dir: Path, device: str = "auto", fingerprint: str = "",
                on_step: Callable[[int, int], None] | None = None, criterion: "Criterion | None" = None) -> dict:
    """Train `model` in place on `train`, validating on `dev`; returns the training summary.

    `criterion`: CtcCriterion (the default) or FrameCriterion. Checkpoints go to out_dir; an
    existing state.pt with the same `fingerprint` (a string naming the config, units and data) is
    resumed. The model ends with the final weights: the mean of the `config.average` epochs with
    the best dev error rate (tokens for CTC, frames for frame targets).
    """
    criterion = criterion or CtcCriterion()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dev_ = distributed.start(resolve_device(device))
    if config.precision != "fp32" and dev_.type != "cuda":
        raise AsrError(f"precision {config.precision} needs a CUDA device (training runs on {dev_.type})")
    distributed.sync_batchnorm(model, dev_).to(dev_)
    objective = Objective(model, criterion, config.ctc_weight, config.aux_weight, PRECISIONS[config.precision])
    scaler = torch.amp.GradScaler("cuda") if config.precision == "fp16" else None
    main = distributed.is_main()
    optimizer = _optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_then_decay(config.warmup_steps))
    augment = SpecAugment(config.spec_augment)
    torch.manual_seed(config.seed)
    history: list[dict] = []
    epoch, step = 0, 0

    state_path = out_dir / STATE_FILE
    if state_path.is_file():
        state = load_state(state_path)
        if state.get("fingerprint") != fingerprint:
            raise AsrError(f"{state_path}: checkpoint of a different configuration or data; "
                           "delete the directory or use another one")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        rngs = state.get("rank_rngs") or [(state["rng"], state.get("cuda_rng"))]
        cpu_rng, cuda_rng = rngs[distributed.rank()]
        torch.set_rng_state(cpu_rng)
        if dev_.type == "cuda" and cuda_rng is not None:
            torch.cuda.set_rng_state(cuda_rng)  # dropout draws from the GPU's generator
        if scaler is not None and "scaler" in state:
            scaler.load_state_dict(state["scaler"])
        epoch, step, history = state["epoch"], state["step"], list(state["history"])
        for ex, targets in zip(train, state["targets"]):
            ex.targets = list(targets)
        log.info("resuming after epoch %d (step %d)", epoch, step)

    batches = make_batches([ex.frames for ex in train], config.batch_frames)
    while epoch < config.epochs and not _should_stop(history, config.patience):
        epoch += 1
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        model.train()
        hold_encoder(model, epoch <= config.freeze_encoder_epochs)
        # DDP tracks the parameters that need gradients when it is built: rebuilt when they change
        net = distributed.parallel(objective, dev_)
        order = distributed.broadcast(torch.randperm(len(batches)).tolist())
        total_loss, total_utts, chosen = 0.0, 0, {}
        bar = tqdm(order, desc=f"epoch {epoch}/{config.epochs}", unit="batch", leave=False, disable=not main)
        for b in bar:
            speed_index = distributed.broadcast(torch.randint(len(train[batches[b][0]].feats),
                                                              (len(batches[b]),)).tolist())
            # this rank's share of the global batch; a rank left without one computes a zero loss
            # on a stand-in, since every rank must take part in each gradient all-reduce
            mine = distributed.shard(list(zip(batches[b], speed_index)))
            weight = distributed.world_size() if mine else 0
            mine = mine or [(batches[b][0], speed_index[0])]
            examples = [train[i] for i, _ in mine]
            feats, lengths = collate([train[i].feats[s] for i, s in mine])
            feats = augment(feats)
            log_probs, out_lengths, loss = net(feats.to(dev_), lengths.to(dev_), lengths, examples)
            if epoch > config.choose_after and weight:
                criterion.choose(log_probs.detach(), out_lengths, examples)
                chosen.update({i: train[i].targets for i, _ in mine})
            optimizer.zero_grad()
            scaled = loss / len(batches[b]) * weight  # DDP averages over ranks: x world size = the batch's mean
            if scaler is None:
                scaled.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
                optimizer.step()
            else:
                scaler.scale(scaled).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
                scaler.step(optimizer)
                scaler.update()
            scheduler.step()
            step += 1
            total_loss += loss.item() if weight else 0.0
            total_utts += len(examples) if weight else 0
            bar.set_postfix(loss=f"{total_loss / max(total_utts, 1):.2f}")
            if on_step is not None:
                on_step(epoch, step)
        if distributed.active():  # every rank's pronunciation choices, and the loss over all ranks
            for part in distributed.gather(chosen):
                for i, targets in part.items():
                    train[i].targets = targets
            total_loss, total_utts = distributed.sum_over_ranks([total_loss, total_utts])
        dev_loss, dev_ter = evaluate(model, dev, dev_, criterion, config.ctc_weight, config.aux_weight)
        history.append({"epoch": epoch, "step": step, "train_loss": round(total_loss / total_utts, 4),
                        "dev_loss": round(dev_loss, 4), "dev_ter": round(dev_ter, 4),
                        "lr": scheduler.get_last_lr()[-1],  # the heads' (the last group)
                        # this process's CPU seconds: on a shared machine a fairer cost than wall time
                        "cpu_seconds": round(time.process_time() - cpu_start, 1),
                        "wall_seconds": round(time.perf_counter() - wall_start, 1)})
        rngs = distributed.gather((torch.get_rng_state(),
                                   torch.cuda.get_rng_state() if dev_.type == "cuda" else None))
        if not main:
            continue
        log.info("epoch %d: %s", epoch, history[-1])
        save_weights(model.state_dict(), out_dir / epoch_file(epoch))
        state = {"fingerprint": fingerprint, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict(), "rng": rngs[0][0], "epoch": epoch,
                 "step": step, "history": history, "targets": [ex.targets for ex in train]}
        if dev_.type == "cuda":
            state["cuda_rng"] = rngs[0][1]
        if distributed.active():
            state["rank_rngs"] = rngs
        if scaler is not None:
            state["scaler"] = scaler.state_dict()
        save_state(state, state_path)

    if not main:
        raise distributed.NotMainRank()
    hold_encoder(model, False)
    chosen = best_epochs(history, config.average)
    final = average_weights([out_dir / epoch_file(e) for e in chosen])
    model.load_state_dict(final)
    return {"epochs_run": epoch, "steps": step, "averaged_epochs": chosen, "history": history}


def epoch_file(epoch: int) -> str:
    return f"epoch{epoch:03d}.safetensors"


def best_epochs(history: list[dict], count: int) -> list[int]:
    """The `count` epochs with the lowest dev token error rate (dev loss breaks ties), in epoch order."""
    ranked = sorted(history, key=lambda h: (h["dev_ter"], h["dev_loss"]))
    return sorted(h["epoch"] for h in ranked[:max(count, 1)])


def _should_stop(history: list[dict], patience: int) -> bool:
    """Early stopping: `patience` epochs in which neither the dev token error rate nor the dev loss
    improved. The loss counts because CTC first sits on a plateau emitting only blanks, where the
    error rate stays at 100% while the loss falls; once the error rate is 0 only it counts."""
    if not history:
        return False
    best_ter = min(h["dev_ter"] for h in history)
    last_improvement = next(h["epoch"] for h in history if h["dev_ter"] == best_ter)
    if best_ter > 0:
        best_loss = min(h["dev_loss"] for h in history)
        last_improvement = max(last_improvement, next(h["epoch"] for h in history if h["dev_loss"] == best_loss))
    return history[-1]["epoch"] - last_improvement >= patience


def hold_encoder(model: CtcModel, held: bool) -> None:
    """Freeze (or release) the subsampling and encoder for an epoch: without gradients they get no
    update and no weight decay (Adam skips a parameter without a gradient), and in evaluation mode
    their dropout is off and BatchNorm keeps its statistics, so their weights and buffers stay
    exactly as they were. Called at every epoch's start, so a resumed run holds the same epochs."""
    for part in ENCODER_PARTS:
        module = getattr(model, part)
        module.requires_grad_(not held)
        if held:
            module.eval()


def _optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params = _parameter_groups(model, config)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def _parameter_groups(model: torch.nn.Module, config: TrainConfig) -> list:
    """The optimiser's parameters: one group at lr, or with an encoder_lr_scale other than 1 the
    subsampling and encoder in a group of their own at lr x encoder_lr_scale (the schedule scales
    both groups alike)."""
    if config.encoder_lr_scale == 1.0:
        return list(model.parameters())  # one group, as checkpoints before the scale hold it
    encoder = [p for part in ENCODER_PARTS for p in getattr(model, part).parameters()]
    ids = {id(p) for p in encoder}
    return [{"params": encoder, "lr": config.lr * config.encoder_lr_scale},
            {"params": [p for p in model.parameters() if id(p) not in ids]}]


def ctc_loss(log_probs: torch.Tensor, out_lengths: torch.Tensor, targets: list[list[int]],
             reduction: str = "sum") -> torch.Tensor:
    """CTC loss of a batch of (B, T, V) log-probabilities (summed, or per utterance with "none")."""
    device = log_probs.device
    flat = torch.tensor([t for seq in targets for t in seq], dtype=torch.long, device=device)
    target_lengths = torch.tensor([len(seq) for seq in targets], dtype=torch.long, device=device)
    return torch.nn.functional.ctc_loss(log_probs.transpose(0, 1), flat, out_lengths, target_lengths,
                                        blank=BLANK_ID, reduction=reduction, zero_infinity=True)


@torch.no_grad()
def choose_targets(log_probs: torch.Tensor, out_lengths: torch.Tensor, examples: list[Example]) -> None:
    """Set each example's target to its most likely alternative under the current model.

    This is how a pronunciation variant is picked for training (as Kaldi's alignment picks one
    per word): the target sequence with the lowest CTC loss on this utterance wins.
    """
    for i, ex in enumerate(examples):
        if not ex.alternatives:
            continue
        k = len(ex.alternatives)
        losses = ctc_loss(log_probs[i:i + 1].expand(k, -1, -1), out_lengths[i:i + 1].expand(k),
                          ex.alternatives, reduction="none")
        ex.targets = ex.alternatives[int(losses.argmin())]


class Objective(torch.nn.Module):
    """The model and its training loss in one forward pass: what DistributedDataParallel wraps (it
    synchronises gradients of what its forward computed)."""

    def __init__(self, model: CtcModel, criterion: "Criterion", ctc_weight: float, aux_weight: float, autocast=None):
        super().__init__()
        self.model, self.criterion, self.autocast = model, criterion, autocast
        self.ctc_weight, self.aux_weight = ctc_weight, aux_weight

    def forward(self, feats, lengths, in_lengths, examples: list[Example]):
        """(log-probabilities, their lengths, the batch's summed loss)."""
        mixed = torch.autocast("cuda", dtype=self.autocast) if self.autocast is not None else nullcontext()
        with mixed:
            encoded, encoded_lengths = self.model.encode(feats, lengths)
            log_probs, out_lengths = self.model.ctc_log_probs(encoded, encoded_lengths)
            loss = joint_loss(self.model, self.criterion.loss(log_probs, out_lengths, in_lengths, examples),
                              encoded, encoded_lengths, examples, self.ctc_weight, self.aux_weight)
        return log_probs, out_lengths, loss


def joint_loss(model: CtcModel, ctc: torch.Tensor, encoded: torch.Tensor, encoded_lengths: torch.Tensor,
               examples: list[Example], ctc_weight: float, aux_weight: float = 0.0) -> torch.Tensor:
    """The criterion's loss `ctc`; for a joint CTC/attention model ctc_weight x it plus
    (1 - ctc_weight) x the attention decoder's cross-entropy (ESPnet's multi-task objective); for a
    model with a second CTC head (1 - aux_weight) x that plus aux_weight x the second head's CTC
    loss against each example's aux_targets."""
    loss = ctc
    if model.decoder is not None:
        attention = model.decoder.loss(encoded, encoded_lengths, [ex.targets for ex in examples])
        loss = ctc_weight * ctc + (1.0 - ctc_weight) * attention
    if model.aux_output is not None:
        aux = ctc_loss(*model.aux_log_probs(encoded, encoded_lengths), [ex.aux_targets for ex in examples])
        loss = (1.0 - aux_weight) * loss + aux_weight * aux
    return loss


@torch.no_grad()
def evaluate(model: CtcModel, examples: list[Example], device: torch.device, criterion: "Criterion",
             ctc_weight: float = 1.0, aux_weight: float = 0.0, batch_frames: int = 20000) -> tuple[float, float]:
    """Mean loss per utterance (the training objective) and error rate (%, of the CTC head) on
    unperturbed features."""
    model.eval()
    total_loss, errors, total = 0.0, 0, 0
    mine = distributed.shard(examples)  # under torchrun: this rank's share, the sums added over ranks
    for batch in make_batches([ex.frames for ex in mine], batch_frames):
        chunk = [mine[i] for i in batch]
        feats, lengths = collate([ex.feats[0] for ex in chunk])
        encoded, encoded_lengths = model.encode(feats.to(device), lengths.to(device))
        log_probs, out_lengths = model.ctc_log_probs(encoded, encoded_lengths)
        criterion.choose(log_probs, out_lengths, chunk)
        total_loss += joint_loss(model, criterion.loss(log_probs, out_lengths, lengths, chunk),
                                 encoded, encoded_lengths, chunk, ctc_weight, aux_weight).item()
        e, n = criterion.errors(log_probs, out_lengths, lengths, chunk)
        errors, total = errors + e, total + n
    if distributed.active():
        total_loss, errors, total = distributed.sum_over_ranks([total_loss, errors, total])
    return total_loss / max(len(examples), 1), 100.0 * errors / max(total, 1)


class CtcCriterion:
    """CTC over each example's token sequence (summed over utterances); errors: greedy token
    edit distance. Alternatives (pronunciation variants) are chosen by the model."""

    def loss(self, log_probs, out_lengths, in_lengths, examples: list[Example]) -> torch.Tensor:
        return ctc_loss(log_probs, out_lengths, [ex.targets for ex in examples])

    def choose(self, log_probs, out_lengths, examples: list[Example]) -> None:
        choose_targets(log_probs, out_lengths, examples)

    def errors(self, log_probs, out_lengths, in_lengths, examples: list[Example]) -> tuple[int, int]:
        errors = tokens = 0
        for row, n, ex in zip(log_probs.argmax(-1).cpu(), out_lengths.tolist(), examples):
            errors += edit_distance(ex.targets, ctc_collapse(row[:n].tolist(), BLANK_ID))
            tokens += len(ex.targets)
        return errors, tokens


class FrameCriterion:
    """Cross-entropy of every output frame against its aligned target (an HMM state per 10 ms input
    frame), with label smoothing; summed over frames and utterances. Errors: frames whose best
    output is not the target.

    An example's `targets` is its alignment to the unperturbed features. Output frame i is input
    frame i (the network's `frames_per_output` undoes its subsampling); the last few input frames
    have no output and are not trained. For speed-perturbed features the alignment is stretched
    to their length (nearest frame)."""

    def __init__(self, label_smoothing: float = 0.0):
        self.label_smoothing = label_smoothing

    def loss(self, log_probs, out_lengths, in_lengths, examples: list[Example]) -> torch.Tensor:
        targets = self._targets(log_probs, out_lengths, in_lengths, examples)
        return torch.nn.functional.cross_entropy(log_probs.transpose(1, 2), targets, ignore_index=NO_TARGET,
                                                 label_smoothing=self.label_smoothing, reduction="sum")

    def choose(self, log_probs, out_lengths, examples: list[Example]) -> None:
        pass  # one alignment per utterance

    def errors(self, log_probs, out_lengths, in_lengths, examples: list[Example]) -> tuple[int, int]:
        targets = self._targets(log_probs, out_lengths, in_lengths, examples)
        scored = targets != NO_TARGET
        return int((log_probs.argmax(-1)[scored] != targets[scored]).sum()), int(scored.sum())

    @staticmethod
    def _targets(log_probs, out_lengths, in_lengths, examples) -> torch.Tensor:
        """(B, T') targets of the output frames, NO_TARGET past each utterance's end."""
        targets = torch.full(log_probs.shape[:2], NO_TARGET, dtype=torch.long)
        for i, (ex, n_out, n_in) in enumerate(zip(examples, out_lengths.tolist(), in_lengths.tolist())):
            n = min(n_out, n_in)
            targets[i, :n] = torch.from_numpy(stretch(ex.targets, n_in)[:n])
        return targets.to(log_probs.device)


NO_TARGET = -100  # cross_entropy's ignore_index: padding frames


def stretch(alignment: list[int], length: int) -> np.ndarray:
    """An alignment resampled to `length` frames: cut or padded with its last label when the
    lengths differ by one frame (two feature extractors' edge conventions: MFCC has one frame more
    than fbank), else stretched to the nearest frame (speed perturbation)."""
    alignment = np.asarray(alignment, dtype=np.int64)
    n = len(alignment)
    if abs(n - length) <= 1:
        return np.concatenate([alignment[:length], np.repeat(alignment[-1:], max(0, length - n))])
    return alignment[np.minimum(((np.arange(length) + 0.5) * n / length).astype(np.int64), n - 1)]


Criterion = CtcCriterion | FrameCriterion


