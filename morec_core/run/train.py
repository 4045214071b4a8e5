"""One run: build data, item encoder and backbone from a RunSpec, train, evaluate; yield events.

`iter_run` never prints and never touches SQL, Optuna or a UI: it yields frozen events and the
run driver (`runner.drive`) hands them to sinks. The best epoch is chosen on the validation split
only; test metrics are computed once, on the best epoch's weights.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from morec_core.config import RunSpec
from morec_core.processes import host_label
from morec_core.run import checkpoint, cost, distributed, preemption
from morec_core.run import events as ev
from morec_core.run.devices import Placement, place
from morec_core.run.faults import pause_point
from morec_core.run.run_context import RunContext
from morec_core.run.user_results import UserResults

if TYPE_CHECKING:
    from morec_core.data.batches import TrainBatch
    from morec_core.run.build import BuiltRun

LAST_CHECKPOINT_KEYS = ("model", "optimizer", "scaler", "rng", "epoch", "best", "epoch_seconds")
"""What `last.pt` holds (written at the end of `_main_epoch`, read on resume). One written on
preemption mid-epoch also holds `partial` (see `_Partial`): `epoch` is then the last whole one."""


@dataclass(frozen=True)
class _Partial:
    """Where a preempted epoch stopped: its next step, the loss summed so far, its seconds."""
    epoch: int
    step: int
    loss_sum: float
    seconds: float


class _StopAtStep(Exception):  # noqa: N818 - a control signal inside the training loop
    def __init__(self, partial: _Partial) -> None:
        super().__init__(f"preempted at epoch {partial.epoch} step {partial.step}")
        self.partial = partial


@dataclass
class _Best:
    epoch: int | None = None
    value: float = -math.inf
    evaluations_without_gain: int = 0


def iter_run(spec: RunSpec, context: RunContext) -> Iterator[ev.Event]:
    """The run's events. Under torchrun, every rank trains and rank 0 alone yields events."""
    placement = place(spec.train.device, spec.train.precision)
    group, device = distributed.from_environment(placement.device)
    try:
        yield from _iter_run(spec, context, dataclasses.replace(placement, device=device), group)
    finally:
        group.close()


def _iter_run(spec: RunSpec, context: RunContext, placement: Placement,
              group: distributed.Distributed) -> Iterator[ev.Event]:
    from morec_core.run.build import build_run

    checkpoint.seed_everything(spec.train.seed)
    built = build_run(spec, placement.device)
    model, dataset, optimizer = built.model, built.dataset, built.optimizer
    scaler = torch.amp.GradScaler(placement.device.type, enabled=placement.needs_scaler)
    run_id = context.run_id
    last_path, best_path = context.run_dir / "last.pt", context.run_dir / "best.pt"

    trainable, total = cost.count_parameters(model)
    flops_per_sample = built.flops_per_sample()

    best, start_epoch, epoch_seconds = _Best(), 0, []
    partial: _Partial | None = None
    if context.resume and last_path.exists():
        state = checkpoint.load(last_path, required=LAST_CHECKPOINT_KEYS)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        # Last, so that nothing above changes the random streams the next epoch starts from.
        checkpoint.restore_rng_states(state["rng"])
        best = _Best(**state["best"])
        start_epoch, epoch_seconds = state["epoch"] + 1, state["epoch_seconds"]
        if "partial" in state:  # preempted mid-epoch: the epoch continues at its next step
            partial = _Partial(**state["partial"])

    train_model = group.wrap(model, placement.device)
    if not group.is_main:
        yield from _follow(spec, context, built, train_model, placement, scaler, group,
                           start_epoch)
        return

    yield ev.RunStarted(
        run_id=run_id, spec=spec.to_dict(), spec_key=spec.spec_key,
        selection_metric=spec.eval.selection_metric, host=host_label(), pid=os.getpid(),
        device=placement.describe(), study=context.study, arm=context.arm,
        trial_number=context.trial_number,
        num_users=dataset.num_users, num_items=dataset.num_items,
        data_fingerprint=built.fingerprint.to_json())
    yield ev.CostMeasured(run_id=run_id, trainable_params=trainable, total_params=total,
                          flops_per_sample=flops_per_sample)
    cost.reset_peak_memory(placement.device)

    for epoch in range(start_epoch, spec.train.epochs):
        if not group.broadcast(best.evaluations_without_gain < spec.train.patience):
            break
        if not group.enabled:
            # Asked to stop while evaluating: the epoch's last.pt is written, resume from it.
            preemption.raise_if_requested()
        try:
            best = yield from _main_epoch(built, train_model, placement, scaler, spec, context,
                                          epoch, group, best, epoch_seconds,
                                          partial if partial and partial.epoch == epoch else None)
        except GeneratorExit:
            # A sink stopped the run: release the other ranks, waiting for the next epoch.
            if group.enabled:
                group.broadcast(False)
            raise

    if best.epoch is not None:
        model.load_state_dict(checkpoint.load_weights(best_path)["model"])
        # One item table for the test split and its cold/new subsets: with an end-to-end
        # encoder each table is a pass of the whole catalogue through it.
        with placement.autocast():
            item_table = built.item_table()
        for split in built.test_splits():
            results = _evaluate(built, placement, split, item_table)
            yield ev.Evaluated(run_id=run_id, epoch=best.epoch, split=split,
                               metrics=results.metrics(spec.eval.ties), per_user=results,
                               protocol=built.protocol)
    yield ev.CostMeasured(
        run_id=run_id, trainable_params=trainable, total_params=total,
        seconds_per_epoch=float(np.mean(epoch_seconds)) if epoch_seconds else None,
        flops_per_sample=flops_per_sample,
        peak_memory_bytes=cost.peak_memory_bytes(placement.device))
    yield ev.RunFinished(run_id=run_id, status="completed", best_epoch=best.epoch,
                         best_value=best.value if best.epoch is not None else None)


def _main_epoch(built: BuiltRun, train_model: torch.nn.Module, placement: Placement,
                scaler: torch.amp.GradScaler, spec: RunSpec, context: RunContext, epoch: int,
                group: distributed.Distributed, best: _Best, epoch_seconds: list[float],
                partial: _Partial | None = None) -> Generator[ev.Event, None, _Best]:
    """Rank 0's epoch: train, evaluate on validation, checkpoint; returns the updated best.
    partial: where a preempted run stopped in this epoch. Preempted itself (a signal recorded by
    `preemption`), it writes last.pt at the step it reached and raises `Preempted`."""
    model, optimizer, run_id = built.model, built.optimizer, context.run_id
    last_path, best_path = context.run_dir / "last.pt", context.run_dir / "best.pt"
    started = time.perf_counter() - (partial.seconds if partial else 0.0)
    try:
        loss = yield from _train_epoch(built, train_model, placement, scaler, spec, context,
                                       epoch, group, partial)
    except _StopAtStep as stop:
        checkpoint.save_atomic({
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict(), "rng": checkpoint.rng_states(), "epoch": epoch - 1,
            "best": vars(best).copy(), "epoch_seconds": epoch_seconds,
            "partial": dataclasses.asdict(dataclasses.replace(
                stop.partial, seconds=time.perf_counter() - started))}, last_path)
        yield ev.CheckpointSaved(run_id=run_id, epoch=epoch - 1, path=str(last_path))
        signum = preemption.requested()
        assert signum is not None
        raise preemption.Preempted(signum) from None
    seconds = time.perf_counter() - started
    epoch_seconds.append(seconds)
    yield ev.EpochEnded(run_id=run_id, epoch=epoch, loss=loss, seconds=seconds,
                        learning_rates={param_group["name"]: param_group["lr"]
                                        for param_group in optimizer.param_groups})
    pause_point("validation")
    results = _evaluate(built, placement, "valid")
    metrics = results.metrics(spec.eval.ties)
    yield ev.Evaluated(run_id=run_id, epoch=epoch, split="valid", metrics=metrics,
                       per_user=results, protocol=built.protocol)
    value = metrics[spec.eval.selection_metric]
    if value > best.value:
        best = _Best(epoch=epoch, value=value, evaluations_without_gain=0)
        checkpoint.save_atomic({"model": model.state_dict(), "epoch": epoch}, best_path)
    else:
        best.evaluations_without_gain += 1
    # Tensors and plain types only: resuming reads it with torch's weights_only unpickler.
    checkpoint.save_atomic({
        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict(), "rng": checkpoint.rng_states(), "epoch": epoch,
        "best": vars(best).copy(), "epoch_seconds": epoch_seconds}, last_path)
    yield ev.CheckpointSaved(run_id=run_id, epoch=epoch, path=str(last_path))
    return best


def _evaluate(built: BuiltRun, placement: Placement, split: str,
              item_table: torch.Tensor | None = None) -> UserResults:
    """Validation and test alike under the training precision: on a GPU the item table (an E2E
    encoder over the whole catalogue) is most of an evaluation's cost. Scores stay float32
    (Recommender.score_all), so ranks do not tie on bf16 rounding."""
    with placement.autocast():
        return built.evaluate(split, item_table)


def _follow(spec: RunSpec, context: RunContext, built: BuiltRun, train_model: torch.nn.Module,
            placement: Placement, scaler: torch.amp.GradScaler, group: distributed.Distributed,
            start_epoch: int) -> Iterator[ev.Event]:
    """A rank other than 0: train its share of each epoch while rank 0 says to go on."""
    for epoch in range(start_epoch, spec.train.epochs):
        if not group.broadcast(None):
            return
        yield from _train_epoch(built, train_model, placement, scaler, spec, context, epoch,
                                group)


def _train_epoch(built: BuiltRun, train_model: torch.nn.Module, placement: Placement,
                 scaler: torch.amp.GradScaler, spec: RunSpec, context: RunContext, epoch: int,
                 group: distributed.Distributed,
                 partial: _Partial | None = None) -> Generator[ev.Event, None, float]:
    """One pass over this rank's training batches; returns the mean loss (NaN stays NaN).
    partial: the steps a preempted run did already are skipped (their batches drawn, not
    trained on: the numpy stream of the epoch stays the same). Raises _StopAtStep after a step
    when preemption is requested (one process only; DDP ranks stop at their epoch's end).

    Under DDP, no event is yielded mid-epoch: a sink stopping the run between two gradient
    all-reduces would leave the other ranks waiting."""
    model, optimizer = built.model, built.optimizer
    model.train()
    # Negatives and order depend on (seed, epoch) only, so a resumed run sees the same batches,
    # and every rank cuts the same epoch into its own share.
    rng = np.random.default_rng([spec.train.seed, epoch])
    batches = built.train_batches(rng).shard(group.rank, group.world_size)
    total_steps = len(batches)
    # Summed on the device: reading a GPU scalar every step would synchronise every step.
    loss_sum = torch.zeros((), device=placement.device)
    if partial is not None:
        loss_sum += partial.loss_sum
    last_progress = time.monotonic()
    for step, batch in enumerate(batches):
        if partial is not None and step < partial.step:
            continue
        loss = train_step(train_model, model, optimizer, scaler, placement,
                          batch.to(placement.device), spec.train.grad_clip)
        loss_sum += loss.detach().float()
        pause_point("mid-epoch")
        if not group.enabled and preemption.requested() is not None:
            raise _StopAtStep(_Partial(epoch=epoch, step=step + 1, loss_sum=float(loss_sum),
                                       seconds=0.0))
        now = time.monotonic()
        if not group.enabled and (now - last_progress >= context.progress_every_s
                                  or step + 1 == total_steps):
            last_progress = now
            yield ev.Progress(run_id=context.run_id, epoch=epoch, step=step + 1,
                              total_steps=total_steps, loss=float(loss.detach()))
    return float(loss_sum) / max(total_steps, 1)


def train_step(train_model: torch.nn.Module, model: torch.nn.Module,
               optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
               placement: Placement, batch: TrainBatch, grad_clip: float) -> torch.Tensor:
    """One optimizer step on `batch` (on the device already); returns the loss. The one step
    every epoch takes, and `morec plan` times (morec_core/study/plan_measure.py)."""
    with placement.autocast():
        loss = train_model(batch)  # Recommender.forward is its loss; DDP syncs through it
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    if grad_clip > 0:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    scaler.step(optimizer)
    scaler.update()
    return loss
