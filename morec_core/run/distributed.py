"""One run on several GPUs (or CPU processes, for tests) through torchrun and DDP.

torchrun starts one process per device and sets RANK / WORLD_SIZE / LOCAL_RANK. Every process
trains on its share of each epoch's batches (DDP averages the gradients); rank 0 alone evaluates,
saves checkpoints and emits events. Decisions rank 0 takes (the validation value, whether to go
on) are broadcast at fixed points, so that a sink stopping the run on rank 0 never leaves the
other ranks waiting in a collective.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def broadcast(self, value: Any) -> Any:
        """Rank 0's `value` on every rank."""
        if not self.enabled:
            return value
        box = [value]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        if not self.enabled:
            return model
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=device_ids)

    def close(self) -> None:
        if self.enabled and torch.distributed.is_initialized():
            # Every rank tears down together: a rank that destroyed its gloo group while rank 0
            # was still evaluating the test split was, now and then, aborted at exit
            # ("terminate called without an active exception").
            with contextlib.suppress(RuntimeError):  # a peer gone already: nothing to wait for
                torch.distributed.barrier()
            torch.distributed.destroy_process_group()


def from_environment(device: torch.device) -> tuple[Distributed, torch.device]:
    """Join the process group torchrun describes (if any); returns this rank's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed(), device
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend=backend)
    return Distributed(rank=rank, world_size=world_size, local_rank=local_rank), device


def is_main_process() -> bool:
    """True outside torchrun and on rank 0 inside it (before the group is joined too)."""
    return int(os.environ.get("RANK", "0")) == 0
