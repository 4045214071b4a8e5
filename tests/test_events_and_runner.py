import pytest

from morec_core.run import events as ev
from morec_core.run.runner import drive


def _started(run_id="r1"):
    return ev.RunStarted(run_id=run_id, spec={}, spec_key="k", selection_metric="ndcg@10",
                         host="h", pid=1, device="cpu")


def test_stop_run_from_a_sink_ends_the_run_with_that_status_and_closes_the_generator():
    closed = []

    def events():
        try:
            yield _started()
            for epoch in range(10):
                yield ev.EpochEnded(run_id="r1", epoch=epoch, loss=1.0, learning_rates={},
                                    seconds=0.1)
        finally:
            closed.append(True)

    seen = []

    def pruner(event):
        seen.append(event)
        if isinstance(event, ev.EpochEnded) and event.epoch == 2:
            raise ev.StopRun("pruned", "below median")

    status = drive(events(), [pruner], run_id="r1")
    assert status == "pruned"
    assert closed == [True]
    assert isinstance(seen[-1], ev.RunFinished)
    assert seen[-1].status == "pruned" and seen[-1].reason == "below median"
    assert [e.epoch for e in seen if isinstance(e, ev.EpochEnded)] == [0, 1, 2]


def test_an_error_is_recorded_as_run_failed_and_re_raised():
    def events():
        yield _started()
        raise RuntimeError("CUDA out of memory")

    seen = []
    with pytest.raises(RuntimeError, match="out of memory"):
        drive(events(), [seen.append], run_id="r1")
    assert isinstance(seen[-1], ev.RunFailed)
    assert "RuntimeError: CUDA out of memory" == seen[-1].error


def test_finished_status_must_be_known():
    with pytest.raises(ValueError, match="status"):
        ev.RunFinished(run_id="r", status="exploded")
