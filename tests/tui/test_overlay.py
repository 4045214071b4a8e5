"""Overlaid curves of marked runs: one plot per metric, each run's best epoch marked, the legend
outside the plots, smoothing, and the settings that differ side by side."""

import pytest
from textual.widgets import Static

from morec_tui.screens.overlay import OverlayScreen
from morec_tui.screens.runs import RunsScreen
from morec_tui.widgets.curves import CurvePlot, smoothed
from tests.tui.fill import PLANS, app_on, drive, loaded, wait_for

A1, A3 = "a1" * 16, "a3" * 16


def test_smoothing_is_an_exponential_moving_average():
    assert smoothed([1.0, 0.0, 0.0], weight=0.5) == [1.0, 0.5, 0.25]
    assert smoothed([]) == []


def test_marked_runs_are_overlaid_with_their_best_epochs(filled):
    plans = {plan.run_id: plan for plan in PLANS}

    async def body(app, pilot):
        screen = await loaded(app, pilot, RunsScreen)
        table = screen.query_one("#runs")
        for run_id in (A1, A3):
            table._put_cursor(table.keys.index(run_id))
            await pilot.press("space")
        assert table.marked == {A1, A3}
        assert "2 marked" in str(screen.query_one("#bar", Static).render())
        await pilot.press("o")
        overlay = await loaded(app, pilot, OverlayScreen)
        ndcg = overlay.query_one("#overlay-ndcg", CurvePlot)
        assert ndcg.points == len(plans[A1].valid) + len(plans[A3].valid)
        for run_id in (A1, A3):
            valid = plans[run_id].valid
            best = max(range(len(valid)), key=lambda epoch: valid[epoch])
            assert ndcg.marked[run_id] == (best + 1, valid[best])
        assert overlay.query_one("#overlay-hr", CurvePlot).points == ndcg.points
        legend = str(overlay.query_one("#legend", Static).render()).splitlines()
        assert len(legend) == 2 and legend[0].startswith("━━ ")
        assert any("a3a3a3a3 mind-text/MiniLM E2E" in line for line in legend)
        await pilot.press("m")
        assert overlay.smooth and "smoothed" in str(overlay.query_one("#bar", Static).render())
        await pilot.press("2")
        diff = str(overlay.query_one("#spec-diff", Static).render())
        assert "encoder.name" in diff and "train.seed" not in diff  # both on the same seed

    drive(app_on(filled), body, size=(120, 40))


def test_a_seed_band_is_the_mean_and_its_t_interval_per_epoch():
    from morec_core.store import CurvePoint
    from morec_core.study_view import seed_band

    curves = [[CurvePoint(epoch=0, value=v), CurvePoint(epoch=1, value=v)] for v in (1.0, 2.0)]
    curves.append([CurvePoint(epoch=0, value=3.0)])  # a seed that stopped after one epoch
    band = seed_band(curves)
    assert band.seeds == 3 and [point.epoch for point in band.mean] == [0, 1]
    assert band.mean[0].value == pytest.approx(2.0)
    half = 4.302653 / 3**0.5  # t(0.975, 2 df) x sd 1 / sqrt(3)
    assert (band.low[0].value, band.high[0].value) == pytest.approx((2 - half, 2 + half), rel=1e-5)
    assert band.mean[1].value == pytest.approx(1.5)  # two seeds at epoch 2


def test_b_draws_the_seeds_of_one_configuration_as_a_band(filled):
    from morec_core.store import Store
    from tests.tui.test_grouping import record

    a1 = next(plan for plan in PLANS if plan.run_id == A1)
    with Store(filled["store"]) as store:
        for seed, valid in ((1, 0.095), (2, 0.105)):
            record(store, f"s{seed}" * 16, [f"data.source={a1.dataset}", *a1.encoder,
                                            f"train.lr={a1.lr}", "train.epochs=10"],
                   seed=seed, valid=valid)

    async def body(app, pilot):
        screen = await loaded(app, pilot, RunsScreen)
        table = screen.query_one("#runs")
        await wait_for(pilot, lambda: "s1" * 16 in table.keys, what="the seeds")
        for run_id in (A1, "s1" * 16, "s2" * 16, A3):
            table._put_cursor(table.keys.index(run_id))
            await pilot.press("space")
        await pilot.press("o")
        overlay = await loaded(app, pilot, OverlayScreen)
        await pilot.press("b")
        ndcg = overlay.query_one("#overlay-ndcg", CurvePlot)
        labels = [label for label, _ in ndcg._shown[0]]
        group = next(label.split()[0] for label in labels if label.endswith(" mean"))
        assert sorted(labels) == sorted([A3, f"{group} mean", f"{group} low", f"{group} high"])
        mean = dict(ndcg._shown[0])[f"{group} mean"]
        assert [point.epoch for point in mean] == [0]  # the only epoch all three reached
        assert mean[0].value == pytest.approx((0.050 + 0.095 + 0.105) / 3)
        legend = str(overlay.query_one("#legend", Static).render())
        assert "3 seeds: mean and its 95% interval" in legend

    drive(app_on(filled), body, size=(120, 40))
