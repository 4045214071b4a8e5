"""The runs screen's seed groups: runs that differ only by seed on one line, with means and
95% intervals over their completed runs."""

from morec_core.config import RunSpec
from morec_core.run import events as ev
from morec_core.store import Store
from morec_tui.screens.run_detail import RunDetailScreen
from morec_tui.screens.runs import RunsScreen
from morec_tui.widgets.run_rows import seed_groups, visible_runs
from tests.tui.fill import PLANS, T0, app_on, drive, loaded

METRICS = ["hr@10", "ndcg@10"]
A1 = "a1" * 16


def record(store: Store, run_id: str, overrides: list[str], *, seed: int, valid: float,
           end: str = "completed", study: str = "mind-text", arm: str = "IDRec",
           seconds: float = 60.0, memory: int = 2**30, start: float = T0) -> None:
    """One run by hand: a validation epoch, then (completed) its test metrics and cost; hr@10
    on test is 2 x valid, ndcg@10 valid."""
    spec = RunSpec().with_overrides([*overrides, f"train.seed={seed}"])
    store.record(ev.RunStarted(run_id=run_id, spec=spec.to_dict(), spec_key=spec.spec_key,
                               selection_metric="ndcg@10", host="box", pid=1, device="cpu",
                               study=study, arm=arm, time=start))
    store.record(ev.EpochEnded(run_id=run_id, epoch=0, loss=1.0, learning_rates={"rest": 1e-3},
                               seconds=seconds, time=start + 1))
    store.record(ev.Evaluated(run_id=run_id, epoch=0, split="valid",
                              metrics={"ndcg@10": valid}, time=start + 2))
    if end == "completed":
        store.record(ev.Evaluated(run_id=run_id, epoch=0, split="test", metrics={
            "hr@10": 2 * valid, "ndcg@10": valid}, time=start + 3))
        store.record(ev.CostMeasured(run_id=run_id, trainable_params=10, total_params=10,
                                     seconds_per_epoch=seconds, peak_memory_bytes=memory,
                                     time=start + 4))
        store.record(ev.RunFinished(run_id=run_id, status="completed", best_epoch=0,
                                    time=start + 5))


def test_seed_groups_sum_up_the_runs_of_one_configuration(tmp_path):
    text = ["data.source=mind", "encoder.name=text"]
    with Store(tmp_path / "morec.db") as store:
        for seed, valid, seconds, memory in ((1, 0.10, 50.0, 2**30), (2, 0.11, 70.0, 3 * 2**30),
                                             (3, 0.12, 60.0, 2**30)):
            record(store, f"t{seed}" * 16, text, seed=seed, valid=valid, seconds=seconds,
                   memory=memory, arm="MiniLM", start=T0 + seed)
        # Still training, with a better validation so far: counted, but not in the means.
        record(store, "t4" * 16, text, seed=4, valid=0.5, end="running", arm="MiniLM",
               start=T0 + 4)
        record(store, "i1" * 16, ["data.source=mind", "encoder.name=id"], seed=1, valid=0.09)
        runs, tests = store.runs(), store.best_epoch_metrics("test")

    (key, minilm), (idrec_key, idrec) = seed_groups(runs, tests, METRICS)
    assert key == "t3" * 16 and idrec_key == "i1" * 16  # the best completed run of each
    assert [str(cell) for cell in minilm] == [
        # mean 0.11, 95% t-interval 0.11 ± 4.303 * 0.01 / sqrt(3); test in %
        "mind-text", "MiniLM", "mind (text)", "4", "0.1100±0.0248", "22.00±4.97", "11.00±2.48",
        "3 completed, 1 running", "60.0", "3.0G", "sasrec", "t3t3t3t3"]
    assert [str(cell) for cell in idrec[:7]] == [
        "mind-text", "IDRec", "mind (text)", "1", "0.0900±n/a", "18.00±n/a", "9.00±n/a"]
    assert str(idrec[7]) == "1 completed" and str(idrec[7].style) == "green"

    # The screen groups what its filters keep: here the completed runs only.
    completed = visible_runs(runs, tests, status="completed")
    assert [cells[3] for _, cells in seed_groups(completed, tests, METRICS)] == ["3", "1"]


def test_g_groups_the_runs_that_differ_only_by_seed(filled):
    a1 = next(plan for plan in PLANS if plan.run_id == A1)
    with Store(filled["store"]) as store:
        for seed, valid in ((1, 0.095), (2, 0.105)):  # two more seeds of run a1's configuration
            record(store, f"s{seed}" * 16, [f"data.source={a1.dataset}", *a1.encoder,
                                            f"train.lr={a1.lr}", "train.epochs=10"],
                   seed=seed, valid=valid, start=T0 - 100 * seed)
        assert len({run.spec_key for run in store.runs() if run.arm == "IDRec"
                    and run.study == "mind-text" and run.status == "completed"}) == 1

    async def body(app, pilot):
        screen = await loaded(app, pilot, RunsScreen)
        table = screen.query_one("#runs")
        assert len(table.keys) == len(PLANS) + 2
        await pilot.press("G")
        assert screen.grouped and len(table.keys) == len(PLANS)  # a1 and its seeds: one line
        assert [column.label for column in table.columns][:6] == [
            "study", "arm", "data", "N", "valid", "T hr@10 %"]
        group = table.cells("s2" * 16)  # the best validation of the three: the line's run
        # valid 0.101, 0.095, 0.105; test hr@10 20.2, 19.0, 21.0 %
        assert [str(cell) for cell in group[:6]] == [
            "mind-text", "IDRec", "mind (text)", "3", "0.1003±0.0125", "20.07±2.50"]
        cell = {column.key: value for column, value in zip(table.columns, group, strict=True)}
        assert str(cell["status"]) == "3 completed"
        # Grouped: the settings that differ besides the seed (the runs' lr), not the seed.
        assert "param:train.lr" in cell and "param:train.seed" not in cell
        assert cell["param:train.lr"] == "0.001"
        assert all(str(table.cells(key)[3]) == "1" for key in table.keys if key != "s2" * 16)
        bar = str(screen.query_one("#bar").render())
        assert f"{len(PLANS) + 2} of {len(PLANS) + 2} runs" in bar
        assert f"{len(PLANS)} seed groups" in bar
        await pilot.press("s", "s", "s")  # by validation: a group where its best run sorts
        assert table.keys[:3] == ["c1" * 16, "a3" * 16, "s2" * 16]
        await pilot.press("down", "down", "enter")
        detail = await loaded(app, pilot, RunDetailScreen)
        assert detail.run_id == "s2" * 16
        await pilot.press("escape", "G")
        assert not screen.grouped and len(table.keys) == len(PLANS) + 2

    drive(app_on(filled), body)


def test_every_run_status_has_a_style():
    from morec_core.run.events import RUN_STATUSES
    from morec_tui.widgets.run_rows import STATUS_STYLES

    assert set(STATUS_STYLES) == set(RUN_STATUSES)
