"""Subprocess entry points for the store tests (run as `python -m tests.store_worker ...`)."""

import os
import sys
import time

from morec_core.config import RunSpec
from morec_core.run import events as ev
from morec_core.store import Store


def started(run_id: str) -> ev.RunStarted:
    spec = RunSpec()
    return ev.RunStarted(run_id=run_id, spec=spec.to_dict(), spec_key=spec.spec_key,
                         selection_metric="ndcg@10", host=os.uname().nodename, pid=os.getpid(),
                         device="cpu", study="concurrency")


def write_many(url: str, run_id: str, count: int) -> None:
    """Record one run start plus `count - 1` epoch events, one transaction each."""
    store = Store(url)
    store.record(started(run_id))
    for epoch in range(count - 1):
        store.record(ev.EpochEnded(run_id=run_id, epoch=epoch, loss=1.0 / (epoch + 1),
                                   learning_rates={"rest": 1e-3}, seconds=0.01))


def start_and_hang(url: str, run_id: str) -> None:
    store = Store(url)
    store.record(started(run_id))
    print("started", flush=True)
    time.sleep(600)


if __name__ == "__main__":
    command, url, run_id, *rest = sys.argv[1:]
    if command == "write_many":
        write_many(url, run_id, int(rest[0]))
    elif command == "hang":
        start_and_hang(url, run_id)
