"""The paper's Table 6 columns: parameters, FLOPs per sample, seconds per epoch, peak memory."""

from __future__ import annotations

from collections.abc import Callable

import torch

from morec_core.run.cpu_memory import peak_rss_bytes, reset_peak_rss


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
    """Start the run's peak: CUDA's allocator stats on a GPU, the peak resident set on a CPU
    (Linux), so a run's memory is its own, not that of a larger run before it in the worker."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        reset_peak_rss()


def peak_memory_bytes(device: torch.device) -> int:
    """CUDA peak allocated on a GPU; on a CPU the peak resident set size since
    reset_peak_memory (the process's lifetime peak where the platform cannot reset it)."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return peak_rss_bytes()[0]
