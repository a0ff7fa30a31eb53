"""Training on several processes: torchrun, DistributedDataParallel, and one rank that writes.

Every trainer runs unchanged under

    torchrun --nproc_per_node N [--nnodes M --node_rank R --master_addr HOST --master_port PORT] \\
        -m ditto_live.cli train base ...

torchrun starts N processes per machine and describes them in the environment (RANK, WORLD_SIZE,
LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT); ``setup`` joins them into one process group
(NCCL on GPUs, gloo on CPUs) and gives each process its GPU. Without torchrun (WORLD_SIZE unset or 1)
nothing here does anything: one process trains exactly as it always did.

How a run is split (``docs/training.md``):

    global batch B  ->  B / W windows per rank, drawn from the rank's own block of the corpus rows
    gradients       ->  averaged over the W ranks by DDP, so one step is a step on the whole batch
    noise, times    ->  each rank's generator, seeded by ``rank_seed(seed, rank)`` (rank 0: the seed)
    writing         ->  rank 0 alone: checkpoints, logs, the card, the progress bar

Rank 0 of a run with W = 1 draws exactly what a single process draws, so a one-process run is
unchanged. A training state saved by W ranks holds each rank's generator state; a run resumed on
W' ranks gives rank r < W the state of rank r and seeds the others afresh (see ``CheckpointManager``).
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

log = logging.getLogger(__name__)

TIMEOUT = timedelta(minutes=30)  # how long a rank waits in a collective (rank 0 evaluating, saving)


@dataclass(frozen=True)
class Ranks:
    """Where this process stands among the processes of a run (torchrun's environment)."""

    rank: int = 0  # index of this process among all processes (RANK)
    world: int = 1  # number of processes (WORLD_SIZE)
    local_rank: int = 0  # index of this process on its machine, the GPU it drives (LOCAL_RANK)
    local_world: int = 1  # processes on this machine (LOCAL_WORLD_SIZE)

    @property
    def main(self) -> bool:
        """True on the one process that writes checkpoints, logs, cards and the progress bar."""
        return self.rank == 0

    @property
    def part(self) -> tuple[int, int]:
        """(index, count) of the block of corpus rows this rank reads (``dataset.part_rows``)."""
        return self.rank, self.world

    @property
    def nodes(self) -> int:
        return max(1, self.world // max(1, self.local_world))


def _env_ranks() -> Ranks:
    env = os.environ
    world = int(env.get("WORLD_SIZE", "1"))
    return Ranks(rank=int(env.get("RANK", "0")), world=world, local_rank=int(env.get("LOCAL_RANK", "0")),
                 local_world=int(env.get("LOCAL_WORLD_SIZE", str(world))))


def active() -> bool:
    """True inside a process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def ranks() -> Ranks:
    """This process's place in the run: the process group's when one is set up, else the single process."""
    if not active():
        return Ranks()
    env = _env_ranks()
    return Ranks(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=env.local_rank,
                 local_world=env.local_world)


def setup(device: torch.device) -> tuple[Ranks, torch.device]:
    """Join the process group torchrun describes, once per process; -> (ranks, this rank's device).

    NCCL when ``device`` is CUDA (the device becomes cuda:LOCAL_RANK), gloo otherwise. Without
    torchrun's environment (or with WORLD_SIZE=1) no group is made and ``device`` is returned as it is.
    """
    env = _env_ranks()
    if device.type == "cuda" and env.world > 1:
        device = torch.device("cuda", env.local_rank)
        torch.cuda.set_device(device)
    if env.world <= 1 or active():
        return ranks(), device
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, timeout=TIMEOUT)
    r = ranks()
    log.info("rank %d of %d (%s, local rank %d of %d)", r.rank, r.world, backend, r.local_rank, r.local_world)
    return r, device


def shutdown() -> None:
    """Leave the process group (the end of a command); nothing without one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def rank_seed(seed: int, rank: int) -> int:
    """The seed of a rank's generator and data order: the run's seed on rank 0, a hash of (seed, rank)
    elsewhere, so ranks draw independent noise and a one-process run is unchanged."""
    if rank == 0:
        return seed
    digest = hashlib.sha1(f"{seed}/{rank}".encode()).digest()
    return int.from_bytes(digest[:4], "big")  # 32 bits: batch_indices multiplies it by ~1e6


def local_batch(batch: int, world: int) -> int:
    """Examples per rank for a global batch of ``batch`` (which ``world`` must divide)."""
    if batch % world:
        raise ValueError(f"the batch ({batch}) must be a multiple of the number of processes ({world})")
    return batch // world


# ---------------------------------------------------------------------------------------------
# the model


class DDP(DistributedDataParallel):
    """DistributedDataParallel that answers the wrapped model's own attributes (``takes_w``, ``cfg``,
    ``downsample_factor``), so code written for the model (``predict_v``) runs on the wrapper."""

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


def wrap(model: nn.Module) -> nn.Module:
    """The module a trainer's loss calls: ``model`` in a DDP wrapper when several ranks train (the
    gradients of its backward are averaged over them), ``model`` itself otherwise. Buffers are not
    broadcast at each forward: the models hold only constant buffers (filterbanks, frequencies)."""
    if not active():
        return model
    device = next(model.parameters()).device
    ids = [device.index] if device.type == "cuda" else None
    newer = "forward_sync_buffers" in inspect.signature(DistributedDataParallel.__init__).parameters
    no_sync: dict[str, Any] = {"forward_sync_buffers" if newer else "broadcast_buffers": False}
    return DDP(model, device_ids=ids, **no_sync)


# ---------------------------------------------------------------------------------------------
# collectives (each the identity, or its one-process value, without a process group)


def _comm_device() -> torch.device:
    """Where collective tensors live: this rank's GPU under NCCL, the CPU under gloo."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def mean(value: Tensor) -> Tensor:
    """The mean over ranks of a tensor every rank holds (the logged loss). -> same shape, same device"""
    if not active():
        return value
    out = value.detach().float().to(_comm_device()).clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return (out / dist.get_world_size()).to(value.device)


def total(n: int) -> int:
    """The sum over ranks of an integer (windows read by each rank)."""
    if not active():
        return n
    out = torch.tensor([n], dtype=torch.long, device=_comm_device())
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return int(out.item())


def any_rank(flag: bool) -> bool:
    """True on every rank when it is true on one (a time budget that ran out somewhere)."""
    if not active():
        return flag
    out = torch.tensor([int(flag)], dtype=torch.long, device=_comm_device())
    dist.all_reduce(out, op=dist.ReduceOp.MAX)
    return bool(out.item())


def gather(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order, on every rank."""
    if not active():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def gather_with_grad(x: Tensor) -> Tensor:
    """Every rank's rows of ``x`` concatenated in rank order, differentiable: the gradient that flows
    back to a rank's rows is the sum over ranks of the gradients of their (identical) losses, and
    DDP's averaging turns that into the gradient of one loss over all rows. [b, ...] -> [W * b, ...]"""
    if not active():
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x))


def barrier() -> None:
    """Wait until every rank is here (rank 0 finished writing what the others read next)."""
    if active():
        dist.barrier()
