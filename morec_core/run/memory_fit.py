"""Will one training step fit? The largest tensors of a step, estimated from the settings and
the catalogue before anything is allocated, against the memory free on the device.

An out-of-memory kill ends a process with no message and leaves its run `running` until the
next look; a setting no machine can hold (train.sampled_negatives=1000000000: a
(positions, K) logit tensor of terabytes) is refused here in one line instead, recorded as a
failed run with the reason. The estimate counts only the tensors that grow with the catalogue,
the candidates and the batch, so it is a lower bound: a refused configuration could not have
run, and one that passes may still need more (`morec plan` measures a real step).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from morec_core.config import ConfigError, RunSpec

FLOAT_BYTES = 4
"""Scores and vectors are float32 (autocast halves some activations; a lower bound is kept)."""
LOGIT_COPIES = 3
"""Logits, their log-softmax and their gradient live at once in the backward pass."""
INDEX_BYTES = 8


@dataclass(frozen=True)
class StepEstimate:
    bytes: int
    what: str
    """The dominant tensor, in words: '(2,944 positions x 1,000,000,001 candidates) logits'."""


def estimate_step(spec: RunSpec, *, num_items: int, positions_per_example: int) -> StepEstimate:
    """The largest of a training step's and an evaluation batch's dominant tensors, in bytes.

    positions_per_example: the window of a sequence backbone, 1 for a user-tower backbone."""
    train, evaluation = spec.train, spec.eval
    positions = train.batch_size * positions_per_example  # P
    dim = spec.backbone.embed_dim
    catalogue = num_items + 1  # row 0 is padding
    extra = 0
    if train.loss == "full_softmax":
        candidates = catalogue  # every item, for every position
        extra = catalogue * dim * FLOAT_BYTES * 2  # the item table and its gradient
    elif train.loss == "sampled_softmax":
        candidates = train.sampled_negatives + 1  # K shared negatives and the target
        # torch.randint's K indices, and torch.unique's sorted copy and inverse
        extra = train.sampled_negatives * INDEX_BYTES * 3
        extra += min(train.sampled_negatives + positions, catalogue) * dim * FLOAT_BYTES * 2
    elif train.loss == "softmax":
        candidates = positions  # in-batch: every position's target
    else:
        candidates = 2  # BCE: the target and one negative
    logits = positions * candidates * FLOAT_BYTES * LOGIT_COPIES
    training = logits + extra
    # Evaluation scores a batch of users against the whole catalogue, and ranks them.
    scoring = evaluation.batch_size * catalogue * FLOAT_BYTES * 2
    if scoring > training:
        return StepEstimate(scoring, f"({evaluation.batch_size:,} users x {catalogue:,} items) "
                                     "evaluation scores")
    return StepEstimate(training, f"({positions:,} positions x {candidates:,} candidates) "
                                  f"training logits under train.loss={train.loss}")


def free_memory(device: torch.device) -> tuple[int, str] | None:
    """Bytes free for this process on the device and what they are; None when unknown."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free), f"free on {torch.cuda.get_device_name(device)}"
    available = _meminfo_available()
    if available is None:
        return None
    limit = _cgroup_room()
    if limit is not None and limit < available:
        return limit, "free under this process's memory limit (cgroup)"
    return available, "available RAM"


def check_step_fits(spec: RunSpec, *, num_items: int, positions_per_example: int,
                    device: torch.device) -> None:
    """ConfigError, one line, for a step that cannot fit or negatives beyond the catalogue."""
    problems = []
    estimate = estimate_step(spec, num_items=num_items,
                             positions_per_example=positions_per_example)
    free = free_memory(device)
    if free is not None and estimate.bytes > free[0]:
        problems.append(f"one step needs at least {_size(estimate.bytes)} for its "
                        f"{estimate.what}, and this machine has {_size(free[0])} {free[1]}")
    if spec.train.loss == "sampled_softmax" and spec.train.sampled_negatives > num_items:
        problems.append(f"train.sampled_negatives={spec.train.sampled_negatives:,} is more than "
                        f"the catalogue's {num_items:,} items it draws from")
    if problems:
        raise ConfigError("; ".join(problems) + " (lower train.batch_size, "
                          "train.sampled_negatives or eval.batch_size)")


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if count < 1024 or unit == "PiB":
            return f"{count:,.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1024
    raise AssertionError("unreachable")


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room() -> int | None:
    """cgroup v2's memory.max less memory.current for this process's group, if bounded."""
    try:
        group = Path("/proc/self/cgroup").read_text().strip().split("::", 1)[1]
        folder = Path("/sys/fs/cgroup") / group.lstrip("/")
        limit = (folder / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int((folder / "memory.current").read_text()))
    except (OSError, ValueError, IndexError):
        return None


__all__ = ["StepEstimate", "check_step_fits", "estimate_step", "free_memory"]
