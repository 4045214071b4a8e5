"""Fixed data for the dashboard's tests and snapshots: two studies of one group, a run without a
study, every run status, per-user test results (so the compare screen has verdicts), and a jobs
file. Timestamps are fixed; nothing shown depends on the clock or the machine."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from morec_core.config import RunSpec
from morec_core.run import events as ev
from morec_core.run.user_results import UserResults
from morec_core.store import Store
from morec_tui.app import MorecApp, make_app
from morec_tui.jobs import Job

T0 = 1_700_000_000.0  # 2023-11-14 22:13 UTC
USERS = 1000
"""Test users of every dataset: runs of one dataset are paired over the same users."""

STUDY_MODULE = '''
from morec_core.study.studies import Arm, Study

STUDIES = [
    Study(name="mind-text", description="", group="table2",
          arms=(Arm(name="IDRec"), Arm(name="MiniLM E2E", overrides=("encoder.name=text",)))),
    Study(name="hm-vision", description="", group="table2",
          arms=(Arm(name="IDRec"), Arm(name="MobileNetV2 E2E", overrides=("encoder.name=vision",)))),
]
'''


@dataclasses.dataclass(frozen=True)
class Plan:
    run_id: str
    study: str | None
    arm: str
    dataset: str
    encoder: tuple[str, ...]
    valid: tuple[float, ...]
    end: str
    """completed | pruned | collapsed | failed | running | interrupted."""
    reason: str = ""
    lr: float = 1e-3


PLANS = (
    Plan("a1" * 16, "mind-text", "IDRec", "mind", ("encoder.name=id",),
         (0.050, 0.081, 0.094, 0.101, 0.099), "completed"),
    Plan("a2" * 16, "mind-text", "IDRec", "mind", ("encoder.name=id",), (0.020, 0.031), "pruned",
         "trial 2 pruned at epoch 2", lr=1e-4),
    Plan("a3" * 16, "mind-text", "MiniLM E2E", "mind",
         ("encoder.name=text", "encoder.model=minilm-l6"),
         (0.061, 0.092, 0.108, 0.113, 0.117, 0.116), "completed"),
    Plan("a4" * 16, "mind-text", "MiniLM E2E", "mind",
         ("encoder.name=text", "encoder.model=minilm-l6"), (0.040, 0.0011, 0.0009), "collapsed",
         "validation ndcg@10 0.0009 is at random level (0.0010) at epoch 3", lr=5e-4),
    Plan("a5" * 16, "mind-text", "MiniLM E2E", "mind",
         ("encoder.name=text", "encoder.model=minilm-l6"), (0.051,), "failed",
         "OutOfMemoryError: CUDA out of memory", lr=1e-5),
    Plan("b1" * 16, "hm-vision", "IDRec", "hm", ("encoder.name=id",),
         (0.031, 0.042, 0.047, 0.046), "completed"),
    Plan("b2" * 16, "hm-vision", "MobileNetV2 E2E", "hm",
         ("encoder.name=vision", "encoder.model=mobilenetv2"), (0.029, 0.041, 0.049), "running"),
    Plan("b3" * 16, "hm-vision", "MobileNetV2 E2E", "hm",
         ("encoder.name=vision", "encoder.model=mobilenetv2"), (0.033,), "interrupted", lr=5e-5),
    Plan("c1" * 16, None, "", "demo", ("encoder.name=id",), (0.11, 0.14, 0.15), "completed"),
)


def fill_store(store: Store) -> None:
    for index, plan in enumerate(PLANS):
        _record(store, plan, T0 + 1000 * index)
    # The interrupted run: its heartbeat stopped; reaped at a fixed time for a fixed reason.
    store.reap_dead_runs(stale_after_s=300, now=T0 + 1000 * len(PLANS))


def _record(store: Store, plan: Plan, start: float) -> None:
    spec = RunSpec().with_overrides([f"data.source={plan.dataset}", *plan.encoder,
                                     f"train.lr={plan.lr}", "train.epochs=10"])
    host = "gpu-box-2" if plan.end == "running" else "gpu-box-1"
    store.record(ev.RunStarted(
        run_id=plan.run_id, spec=spec.to_dict(), spec_key=spec.spec_key,
        selection_metric="ndcg@10", host=host, pid=4242, device="cuda:0 (NVIDIA H100), bf16",
        study=plan.study, arm=plan.arm or None, trial_number=0, time=start))
    modality = "encoder.name=id" not in plan.encoder
    store.record(ev.CostMeasured(run_id=plan.run_id, trainable_params=2_400_000 if modality
                                 else 900_000, total_params=24_000_000 if modality else 900_000,
                                 flops_per_sample=3.1e9 if modality else 2.2e6, time=start + 1))
    best = max(range(len(plan.valid)), key=lambda epoch: plan.valid[epoch])
    clock = start + 2
    for epoch, value in enumerate(plan.valid):
        clock += 60
        store.record(ev.EpochEnded(run_id=plan.run_id, epoch=epoch,
                                   loss=round(1.2 - 0.15 * epoch + 0.01 * len(plan.run_id), 4),
                                   learning_rates={"rest": plan.lr}, seconds=60.0, time=clock))
        store.record(ev.Evaluated(run_id=plan.run_id, epoch=epoch, split="valid",
                                  metrics={"hr@10": round(2.1 * value, 4), "ndcg@10": value},
                                  time=clock + 1))
    if plan.end == "completed":
        per_user = user_results(round(2.0 * plan.valid[best], 4), round(0.95 * plan.valid[best], 4))
        metrics = per_user.metrics("expected")
        store.record(ev.Evaluated(
            run_id=plan.run_id, epoch=best, split="test", per_user=per_user,
            # hr@10 and ndcg@10 only, as before: the snapshots show every test metric.
            metrics={name: round(metrics[name], 4) for name in ("hr@10", "ndcg@10")},
            time=clock + 2))
        store.record(ev.CostMeasured(
            run_id=plan.run_id, trainable_params=2_400_000 if modality else 900_000,
            total_params=24_000_000 if modality else 900_000, seconds_per_epoch=60.0,
            peak_memory_bytes=(9 if modality else 2) * 2**30, time=clock + 3))
    if plan.end in ("completed", "pruned", "collapsed"):
        store.record(ev.RunFinished(run_id=plan.run_id, status=plan.end, reason=plan.reason,
                                    best_epoch=best, time=clock + 4))
    elif plan.end == "failed":
        store.record(ev.RunFailed(run_id=plan.run_id, error=plan.reason, time=clock + 4))
    elif plan.end == "running":
        # Alive on another machine: a fresh heartbeat (never shown) keeps it from being reaped.
        store.record(ev.Heartbeat(run_id=plan.run_id, time=time.time() + 3600))


def user_results(hr: float, ndcg: float, k: int = 10) -> UserResults:
    """Per-user counts whose HR@k and NDCG@k are `hr` and `ndcg` to 4 decimals. The first
    round(hr * USERS) users are the hits, so a run with the higher HR hits every user a lower
    one hits (a clear paired verdict); each hit's rank is picked so that the running NDCG sum
    stays closest to its share of the target (error diffusion: off by under half a rank step)."""
    hits = round(hr * USERS)
    gains = 1.0 / np.log2(np.arange(k) + 2.0)  # (k,) NDCG of a hit at rank 0 .. k-1
    greater = np.full(USERS, k, dtype=np.int64)  # k: a miss
    total = 0.0
    for user in range(hits):
        goal = ndcg * USERS * (user + 1) / hits
        rank = int(np.argmin(np.abs(total + gains - goal)))
        greater[user], total = rank, total + gains[rank]
    return UserResults(users=np.arange(USERS, dtype=np.int64), greater=greater,
                       equal=np.zeros(USERS, dtype=np.int64), k=k)


def write_jobs(runs_dir: Path, host: str) -> None:
    """Finished jobs only: a snapshot must not depend on live processes."""
    logs = runs_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    jobs = [
        Job(id=1, kind="study", label="study mind-text", argv=("morec", "tune"),
            candidates=("cpu",), status="completed", study="mind-text", host=host,
            created_at=T0, started_at=T0 + 5, finished_at=T0 + 3725, returncode=0),
        Job(id=2, kind="run", label="demo id sasrec train.epochs=3", argv=("morec", "run"),
            candidates=("cpu",), status="failed", host=host, created_at=T0 + 4000,
            started_at=T0 + 4001, finished_at=T0 + 4013, returncode=2, note="exit code 2"),
        Job(id=3, kind="run", label="demo id sasrec", argv=("morec", "run"), candidates=("cpu",),
            status="cancelled", host=host, created_at=T0 + 5000, started_at=T0 + 5001,
            finished_at=T0 + 5090, returncode=-15, cancel_requested=True,
            note="killed by signal 15", run_id="c1" * 16),
    ]
    raw = []
    for job in jobs:
        log = logs / f"job-{job.id}.log"
        log.write_text(f"job {job.id}: started on CPU: {' '.join(job.argv)}\n"
                       + (f"run {'c1' * 16}: id item encoder, sasrec backbone, demo data\n"
                          if job.id == 3 else "")
                       + f"job {job.id}: {job.status}\n")
        raw.append({key: list(value) if isinstance(value, tuple) else value
                    for key, value in dataclasses.asdict(dataclasses.replace(
                        job, log=str(log))).items()})
    (runs_dir / "jobs.json").write_text(json.dumps({"next_id": 4, "jobs": raw}))


def app_on(places: dict[str, Path], *, poll_s: float = 60.0, reap_s: float = 60.0) -> MorecApp:
    """The app as `morec tui` makes it, with no GPU and a chosen polling rate."""
    return make_app(str(places["store"]), runs_dir=places["runs"], studies_dir=places["studies"],
                    gpus=[], poll_s=poll_s, reap_s=reap_s)


async def wait_for(pilot, condition, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await pilot.pause(0.1)


async def loaded(app, pilot, screen_type, loads: int = 1, timeout: float = 10.0):
    """Wait until `screen_type` is on top and has loaded its data `loads` times (a screen
    without loads, such as a form, counts as loaded once it is up); return it."""
    await wait_for(pilot, lambda: isinstance(app.screen, screen_type)
                   and getattr(app.screen, "loads", 1) >= loads,
                   timeout=timeout, what=f"{screen_type.__name__} to load")
    return app.screen


def drive(app, body, size=(100, 30)):
    """Run `body(app, pilot)` inside the app at a fixed terminal size."""
    async def main():
        async with app.run_test(size=size) as pilot:
            await body(app, pilot)

    asyncio.run(main())
