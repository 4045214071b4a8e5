"""The paper's Table 6 columns: parameters, FLOPs per sample, seconds per epoch, peak memory."""

from __future__ import annotations

import resource
import sys
from collections.abc import Callable

import torch


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts; shared tensors counted once."""
    seen: dict[int, torch.nn.Parameter] = {id(p): p for p in model.parameters()}
    total = sum(p.numel() for p in seen.values())
    trainable = sum(p.numel() for p in seen.values() if p.requires_grad)
    return trainable, total


def flops_of(step: Callable[[], object]) -> float | None:
    """FLOPs of one call of `step` (a forward pass on one sample), via torch's flop counter."""
    from torch.utils.flop_counter import FlopCounterMode

    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            step()
    except (RuntimeError, NotImplementedError, TypeError, AssertionError):
        # An op the counter cannot trace: the column stays empty rather than wrong. (The
        # counter's module tracker asserts on a parameter used directly under no_grad, as
        # DSSM's item tower over the whole ID table in a full softmax: that failed the run.)
        return None
    return float(counter.get_total_flops())


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_bytes(device: torch.device) -> int:
    """CUDA peak allocated on a GPU; the process's peak resident set size on a CPU."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # Linux reports KiB
