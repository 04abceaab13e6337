"""Training past one process: torch.distributed under torchrun (DistributedDataParallel for the
networks, summed statistics for the GMM-HMMs).

`asr train PIPELINE ... --nproc N` runs the same command again under
`torchrun --standalone --nproc-per-node N` (see `torchrun_command`); on several machines start
`torchrun --nnodes M --nproc-per-node N --rdzv-backend c10d --rdzv-endpoint HOST:PORT -m asr.cli
train ...` once per machine. torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; everything here reads
them, so one process (no torchrun) is world size 1 and takes none of these paths.

How a run is split (asr.nn.train): every rank reads the data and forms the same global batches
(rank 0 draws the epoch's batch order and speeds and broadcasts them); each rank takes its share
of every global batch (`shard`: disjoint, together complete) and DDP averages the gradients (gloo
on CPU, NCCL on GPU), so an update equals one process's on the whole batch up to float summation
order. Rank 0 alone writes checkpoints, logs and the model dir; the other ranks stop after the
last epoch (`NotMainRank`).

Classic training (asr.hmm.train) is Kaldi's split / accumulate / sum: each rank aligns its
contiguous share of the utterances (`chunk`) and accumulates their statistics, which are summed
over the ranks (`sum_arrays`); every rank then makes the same update, and alignments that later
stages need whole are gathered (`gather_chunks`).
"""
from __future__ import annotations

import os
import sys
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

# torch is imported where a process group is used, so the one-process paths (a classic model's
# speaker adaptation while decoding) do not load it
TIMEOUT = timedelta(minutes=30)  # a rank waiting longer than this for the others gives up


class NotMainRank(Exception):
    """Raised on ranks other than 0 once training is done: the model dir is rank 0's to write."""


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    return rank() == 0


def active() -> bool:
    return world_size() > 1


def start(device: torch.device) -> torch.device:
    """Join the process group torchrun describes (once); returns this rank's device (its own GPU)."""
    if not active():
        return device
    import torch
    import torch.distributed as dist

    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=TIMEOUT)
    return device


def parallel(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """`module` wrapped in DistributedDataParallel under torchrun (itself in one process). Built
    anew when the set of parameters that need gradients changes (a frozen encoder released).
    Inputs stay where they are (no device_ids): the batch is on the device already and its
    examples are read, not copied."""
    if not active():
        return module
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(module, device_ids=None)


def sync_batchnorm(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """On GPUs under torchrun, BatchNorm layers (the Conformer's convolution module) normalise
    over the whole global batch (SyncBatchNorm), as one process would; the same parameters and
    buffers, so weights load either way. PyTorch's SyncBatchNorm runs on GPUs only: on CPU each
    rank normalises its own share, and a Conformer's N-rank run differs from one process's."""
    if not active() or device.type != "cuda":
        return model
    import torch

    return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)


def shard(items: list, rank_: int | None = None, world: int | None = None) -> list:
    """This rank's share of a global batch: every world-th item from its rank on (disjoint
    across ranks, complete together, each share at most one item longer than another)."""
    rank_ = rank() if rank_ is None else rank_
    world = world_size() if world is None else world
    return items[rank_::world]


def chunk(items: list, rank_: int | None = None, world: int | None = None) -> list:
    """This rank's contiguous share of `items` (Kaldi's split: rank r of W takes the r-th of W
    nearly equal runs); `gather_chunks` of every rank's results restores the order."""
    rank_ = rank() if rank_ is None else rank_
    world = world_size() if world is None else world
    return items[len(items) * rank_ // world:len(items) * (rank_ + 1) // world]


def gather_chunks(part: list) -> list:
    """Every rank's list, concatenated in rank order (the whole, when each part is a `chunk`)."""
    return [x for piece in gather(part) for x in piece]


def sum_arrays(arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Element-wise sums over the ranks of float arrays (float64), in the same shapes."""
    if not active():
        return list(arrays)
    import torch
    import torch.distributed as dist

    out = []
    for array in arrays:
        tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float64))
        dist.all_reduce(tensor)
        out.append(tensor.numpy())
    return out


def broadcast(obj):
    """Rank 0's `obj` on every rank (a picklable value)."""
    if not active():
        return obj
    import torch.distributed as dist

    holder = [obj]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def gather(obj) -> list:
    """Every rank's `obj`, in rank order, on every rank."""
    if not active():
        return [obj]
    import torch.distributed as dist

    out = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def sum_over_ranks(values: list[float]) -> list[float]:
    """Element-wise sum of every rank's numbers."""
    if not active():
        return list(values)
    return sum_arrays([np.asarray(values, dtype=np.float64)])[0].tolist()


def barrier() -> None:
    if active():
        import torch.distributed as dist

        dist.barrier()


def finish() -> None:
    if "torch" not in sys.modules:
        return  # nothing here imported it: no process group to leave
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def launch(nproc: int, argv: list[str]) -> int:
    """Run `asr <argv>` in `nproc` processes on this machine, as `torchrun_command` would, with
    torchrun's launcher in this process; returns the exit status. A rank that fails has said why
    in one line (asr.cli); the launcher's own report of it (a log line and a traceback) is left out."""
    import logging

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # what torchrun sets (with a warning) when unset
    try:
        run(get_args_parser().parse_args(_torchrun_args(nproc, argv)))
    except ChildFailedError:
        return 1
    return 0


def lost_peer(error: BaseException) -> bool:
    """Whether `error` is this rank losing its connection to another rank (which failed)."""
    if not active():
        return False
    import torch.distributed as dist

    text = str(error)  # gloo's transport errors are plain RuntimeErrors: "Connection closed by peer" etc.
    return isinstance(error, dist.DistError) or "by peer" in text or "remote worker" in text


def torchrun_command(nproc: int, argv: list[str]) -> list[str]:
    """The command line that runs `asr <argv>` in `nproc` processes on this machine."""
    return [sys.executable, "-m", "torch.distributed.run", *_torchrun_args(nproc, argv)]


def _torchrun_args(nproc: int, argv: list[str]) -> list[str]:
    return ["--standalone", f"--nproc-per-node={nproc}", "-m", "asr.cli", *argv]
