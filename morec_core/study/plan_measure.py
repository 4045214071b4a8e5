"""Measure one run spec's cost on this machine without running it: build the real model on the
real data (`build.build_run`, as a run does), time a few training steps after warm-up ones and
one evaluation batch, read the peak memory. Nothing is recorded anywhere.

`morec plan` calls `measure` in a fresh process per spec (`plan.measure_in_process`): on a CPU
the peak memory is the process's peak resident set, as a run's is, so each spec needs a process
of its own to read its own peak; and a crash or an out-of-memory kill ends that process, not
the plan.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True)
class Measurement:
    device: str
    """Where it was measured, e.g. "cpu, fp32" or "cuda:0 (NVIDIA H100 80GB HBM3), bf16"."""
    seconds_per_step: float
    """Mean over the timed steps: the batch drawn, moved, forward, backward, optimizer step."""
    steps_per_epoch: int
    seconds_per_epoch: float
    """seconds_per_step x steps_per_epoch: training only, as a run's recorded s/epoch."""
    evaluation_seconds: float
    """One validation pass: the item table plus one user batch's time x the batches."""
    setup_seconds: float
    """Data and content caches, model and optimizer (two-stage features and side-network caches
    are built here when this machine has none yet; loaded when it has)."""
    peak_memory_bytes: int
    """CUDA peak allocated on a GPU; the process's peak resident set on a CPU (as a run's)."""
    device_memory_bytes: int
    """What the device has: the GPU's memory, or this machine's RAM."""
    trainable_params: int
    steps_timed: int


def _synchronize(device: object) -> None:
    import torch

    if getattr(device, "type", "") == "cuda":
        torch.cuda.synchronize(device)  # type: ignore[arg-type]


def _device_memory(device: object) -> int:
    import torch

    if getattr(device, "type", "") == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)  # type: ignore[arg-type]
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def measure(spec_json: str, *, warmup: int = 2, steps: int = 5) -> Measurement:
    """Build `spec_json`'s run and time `steps` training steps after `warmup` untimed ones (the
    first steps pay allocations and lazy initialisation), then the item table and one user
    batch of validation."""
    import torch

    from morec_core.config import RunSpec
    from morec_core.run import checkpoint, cost
    from morec_core.run.build import build_run
    from morec_core.run.devices import place
    from morec_core.run.evaluate import compute_item_table, evaluate_users
    from morec_core.run.train import train_step

    spec = RunSpec.from_json(spec_json)
    placement = place(spec.train.device, spec.train.precision)
    device = placement.device
    started = time.perf_counter()
    checkpoint.seed_everything(spec.train.seed)
    built = build_run(spec, device)
    _synchronize(device)
    setup = time.perf_counter() - started
    cost.reset_peak_memory(device)
    scaler = torch.amp.GradScaler(device.type, enabled=placement.needs_scaler)
    model = built.model
    model.train()
    # The batches of the run's first epoch, in its order (train.py draws them so).
    batches = built.train_batches(np.random.default_rng([spec.train.seed, 0]))
    timings: list[float] = []
    iterator = iter(batches)
    for _ in range(warmup + steps):
        begun = time.perf_counter()
        batch = next(iterator, None)
        if batch is None:  # a tiny dataset: fewer batches than steps asked for
            iterator = iter(batches)
            batch = next(iterator)
        train_step(model, model, built.optimizer, scaler, placement, batch.to(device),
                   spec.train.grad_clip)
        _synchronize(device)
        timings.append(time.perf_counter() - begun)
    timed = timings[warmup:] or timings
    per_step = float(np.mean(timed))

    # Validation: the item table (an end-to-end encoder over the catalogue: most of the cost),
    # then one batch of users against it.
    begun = time.perf_counter()
    with placement.autocast():
        table = compute_item_table(model)
    _synchronize(device)
    table_seconds = time.perf_counter() - begun
    users = np.arange(min(spec.eval.batch_size, built.dataset.num_users))
    begun = time.perf_counter()
    with placement.autocast():
        evaluate_users(model, built.dataset, "valid", k=spec.eval.k,
                       mask_history=spec.eval.mask_history, batch_size=spec.eval.batch_size,
                       device=device, user_subset=users, item_table=table)
    _synchronize(device)
    batch_seconds = time.perf_counter() - begun
    user_batches = math.ceil(built.dataset.num_users / spec.eval.batch_size)
    trainable, _total = cost.count_parameters(model)
    return Measurement(
        device=placement.describe(), seconds_per_step=per_step, steps_per_epoch=len(batches),
        seconds_per_epoch=per_step * len(batches),
        evaluation_seconds=table_seconds + batch_seconds * user_batches, setup_seconds=setup,
        peak_memory_bytes=cost.peak_memory_bytes(device),
        device_memory_bytes=_device_memory(device), trainable_params=trainable,
        steps_timed=len(timed))


def measure_or_problem(spec_json: str, warmup: int, steps: int,
                       visible_gpu: str | None) -> Measurement | str:
    """`measure` in a plan's child process: the GPU it may see, and an error as one line (an
    exception would have to be pickled back, which not every exception type survives)."""
    if visible_gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = visible_gpu  # before torch sees CUDA
    try:
        return measure(spec_json, warmup=warmup, steps=steps)
    except Exception as error:  # noqa: BLE001 - reported to the plan as what it could not measure
        text = " ".join(str(error).split()) or type(error).__name__
        return f"{type(error).__name__}: {text}"
