"""Process-group setup for multi-process training with ``torchrun`` and DDP.

Launch, e.g. on one machine with two processes::

    torchrun --standalone --nproc-per-node 2 $(which crystalnet) train --data … --out …

``torchrun`` sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; :func:`init_distributed` reads
them, starts the process group (NCCL on GPUs, gloo on CPUs) and picks this process's device.
Without them it describes a single process and starts nothing.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from pymatgen_crystalnet.devices import resolve_device

__all__ = ["DistEnv", "init_distributed", "resolve_device", "shutdown_distributed"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistEnv:
    """Where this process stands in a (possibly single-process) run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, which validates, logs and writes checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether more than one process takes part."""
        return self.world_size > 1


def init_distributed(device: str | torch.device | None = "auto") -> DistEnv:
    """Start the process group if launched by ``torchrun`` (``WORLD_SIZE`` > 1).

    Returns
    -------
    DistEnv
        Rank, world size, local rank and the device this process should use.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if world > 1:
        if not dist.is_initialized():
            backend = "nccl" if dev.type == "cuda" else "gloo"
            if dev.type == "cuda":
                torch.cuda.set_device(dev)
            dist.init_process_group(backend=backend)
            logger.info("Process group started: rank %d of %d (%s)", rank, world, backend)
        rank, world = dist.get_rank(), dist.get_world_size()
    return DistEnv(rank=rank, world_size=world, local_rank=local_rank, device=dev)


def shutdown_distributed() -> None:
    """Destroy the process group if one is running."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
