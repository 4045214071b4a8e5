"""Overlaid curves of marked runs: one plot per metric, each run's best epoch marked, the legend
outside the plots, smoothing, and the settings that differ side by side."""

import pytest
from textual.widgets import Static

from morec_tui.screens.overlay import OverlayScreen
from morec_tui.screens.runs import RunsScreen
from morec_tui.widgets.curves import CurvePlot, smoothed
from tests.tui.fill import PLANS, T0, app_on, drive, loaded, wait_for

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
    from morec_core.study.study_view import seed_band

    curves = [[CurvePoint(epoch=0, value=v), CurvePoint(epoch=1, value=v)] for v in (1.0, 2.0)]
    curves.append([CurvePoint(epoch=0, value=3.0)])  # a seed that stopped after one epoch
    band = seed_band(curves)
    # Only the epoch all three seeds reached (issue 24: epoch 2's interval over the two left,
    # t(0.975, 1 df) = 12.7, swamped the plot).
    assert band.seeds == 3 and [point.epoch for point in band.mean] == [0]
    assert band.reached == (1, 1, 0)
    assert band.mean[0].value == pytest.approx(2.0)
    half = 4.302653 / 3**0.5  # t(0.975, 2 df) x sd 1 / sqrt(3)
    assert (band.low[0].value, band.high[0].value) == pytest.approx((2 - half, 2 + half), rel=1e-5)


def test_a_seed_band_is_clipped_to_the_metric_range():
    from morec_core.store import CurvePoint
    from morec_core.study.study_view import seed_band

    curves = [[CurvePoint(epoch=0, value=v)] for v in (0.105, 0.0, 0.0)]
    assert seed_band(curves).low[0].value < 0  # the t interval alone: a negative hit rate
    band = seed_band(curves, bounds=(0.0, 1.0))
    assert band.low[0].value == 0.0 and band.high[0].value <= 1.0
    assert band.mean[0].value == pytest.approx(0.035)


def record_curve(store, run_id, *, seed, valid, end="completed"):
    """A run of A1's configuration on another seed, with a validation curve (ndcg@10 = valid,
    hr@10 = 2 x valid) that ends after len(valid) epochs."""
    from morec_core.config import RunSpec
    from morec_core.run import events as ev

    a1 = next(plan for plan in PLANS if plan.run_id == A1)
    spec = RunSpec().with_overrides([f"data.source={a1.dataset}", *a1.encoder,
                                     f"train.lr={a1.lr}", "train.epochs=10",
                                     f"train.seed={seed}"])
    start = T0 + 50_000 + seed
    store.record(ev.RunStarted(run_id=run_id, spec=spec.to_dict(), spec_key=spec.spec_key,
                               selection_metric="ndcg@10", host="box", pid=1, device="cpu",
                               study=a1.study, arm=a1.arm, time=start))
    for epoch, value in enumerate(valid):
        store.record(ev.EpochEnded(run_id=run_id, epoch=epoch, loss=1.0 - 0.1 * epoch,
                                   learning_rates={"rest": a1.lr}, seconds=60.0,
                                   time=start + 2 * epoch + 1))
        store.record(ev.Evaluated(run_id=run_id, epoch=epoch, split="valid",
                                  metrics={"hr@10": 2 * value, "ndcg@10": value},
                                  time=start + 2 * epoch + 2))
    best = max(range(len(valid)), key=lambda epoch: valid[epoch])
    store.record(ev.RunFinished(run_id=run_id, status=end, best_epoch=best,
                                time=start + 2 * len(valid) + 1))


EARLY_STOPPED = ("e1" * 16, "e2" * 16)
"""A1's configuration on two more seeds; the second stopped (pruned) after two epochs."""


def add_seeds_one_stopping_early(store) -> None:
    # Epoch 1's hit rates 0.105 (A1), 0 and 0: the t interval alone runs below 0.
    record_curve(store, EARLY_STOPPED[0], seed=1, valid=(0.0, 0.079, 0.090, 0.098, 0.097))
    record_curve(store, EARLY_STOPPED[1], seed=2, valid=(0.0, 0.072), end="pruned")


async def overlay_of_seeds(app, pilot, run_ids=(A1, *EARLY_STOPPED, A3)):
    """The runs screen, `run_ids` marked, `o`, then `b`: the seed bands."""
    screen = await loaded(app, pilot, RunsScreen)
    table = screen.query_one("#runs")
    await wait_for(pilot, lambda: all(run_id in table.keys for run_id in run_ids),
                   what="the seeds")
    for run_id in run_ids:
        table._put_cursor(table.keys.index(run_id))
        await pilot.press("space")
    await pilot.press("o")
    overlay = await loaded(app, pilot, OverlayScreen)
    await pilot.press("b")
    await pilot.pause()
    return overlay


def test_a_seed_stopping_early_ends_the_band_inside_the_metric_range(filled):
    from morec_core.store import Store

    with Store(filled["store"]) as store:
        add_seeds_one_stopping_early(store)

    async def body(app, pilot):
        overlay = await overlay_of_seeds(app, pilot)
        hr = overlay.query_one("#overlay-hr", CurvePlot)
        shown = dict(hr._shown[0])
        group = next(label.split()[0] for label in shown if label.endswith(" mean"))
        # Epochs 1 and 2, which all three seeds reached; none below 0 or above 1.
        assert [point.epoch for point in shown[f"{group} mean"]] == [0, 1]
        assert all(0.0 <= point.value <= 1.0 for part in ("low", "high")
                   for point in shown[f"{group} {part}"])
        assert shown[f"{group} low"][0].value == 0.0  # clipped: the t interval ran below 0
        legend = str(overlay.query_one("#legend", Static).render())
        assert "N=3 seeds" in legend and "epochs 1-2, which all 3 seeds reached" in legend

    drive(app_on(filled), body, size=(120, 40))


def test_legend_colours_are_the_lines_colours_and_twelve_runs_get_twelve(filled):
    from rich.style import Style
    from rich.text import Text

    from morec_tui.widgets.palette import PALETTE

    assert len(set(PALETTE)) >= 12
    run_ids = [plan.run_id for plan in PLANS]

    async def body(app, pilot):
        screen = await loaded(app, pilot, RunsScreen)
        table = screen.query_one("#runs")
        for run_id in run_ids:
            table._put_cursor(table.keys.index(run_id))
            await pilot.press("space")
        await pilot.press("o")
        overlay = await loaded(app, pilot, OverlayScreen)
        await pilot.pause(0.2)
        legend = Text.from_markup(overlay._texts["#legend"])
        # Each legend line's swatch colour, as a truecolor triplet.
        swatches = [Style.parse(str(span.style)).color.get_truecolor() for span in legend.spans]
        assert len(swatches) == len(run_ids) == len(set(swatches))
        # The plot draws each run in its legend's colour: the same RGB, not a named colour a
        # theme maps elsewhere.
        ndcg = overlay.query_one("#overlay-ndcg", CurvePlot)
        drawn = {tuple(color) for color in dict(ndcg._shown[2]).values()}
        assert drawn == {tuple(swatch) for swatch in swatches}
        # More lines than room at 80x24: the legend scrolls.
        scroll = overlay.query_one("#legend-scroll")
        assert scroll.max_scroll_y > 0
        scroll.focus()
        await pilot.press("end")
        # "end" scrolls with an animation: wait for it to finish, not for one frame (on a busy
        # machine one frame left the legend 0.08 of a line short of its end).
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        assert scroll.scroll_y == scroll.max_scroll_y

    drive(app_on(filled), body, size=(80, 24))


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
