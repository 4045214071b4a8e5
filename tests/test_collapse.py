import math
import re

import pytest

from morec_core.run import events as ev
from morec_core.run.collapse import (
    CollapseDetector,
    CollapseRule,
    collapse_reason,
    random_expectation,
)

RANDOM = random_expectation("ndcg", 10, 2000)


def test_random_expectation_by_hand():
    assert random_expectation("hr", 10, 1000) == pytest.approx(0.01)
    assert random_expectation("hr", 10, 5) == pytest.approx(1.0)
    # NDCG@2 over 4 items: (1 + 1/log2(3)) / 4
    assert random_expectation("ndcg", 2, 4) == pytest.approx((1 + 1 / math.log2(3)) / 4)


def test_collapsed_from_the_start_is_flagged_after_warmup():
    valid = [RANDOM, RANDOM * 0.5, RANDOM * 1.2, RANDOM * 0.9, RANDOM * 1.1]
    for epochs in range(1, 5):
        assert collapse_reason([0.69] * epochs, valid[:epochs], random_level=RANDOM) is None
    reason = collapse_reason([0.69] * 5, valid, random_level=RANDOM)
    assert reason is not None and "never rose above" in reason


def test_a_slow_learner_that_leaves_random_level_is_not_flagged():
    valid = [RANDOM * (1 + 0.3 * epoch) for epoch in range(8)]
    for epochs in range(1, len(valid) + 1):
        assert collapse_reason([0.69] * epochs, valid[:epochs], random_level=RANDOM) is None


def test_collapse_after_a_peak_is_flagged_once_the_fall_lasts():
    valid = [0.05, 0.12, 0.16, 0.15, 0.004, 0.003, 0.002]
    for epochs in range(1, 7):
        assert collapse_reason([0.5] * epochs, valid[:epochs], random_level=RANDOM) is None
    reason = collapse_reason([0.5] * 7, valid, random_level=RANDOM)
    assert reason is not None and "fell to" in reason and "epoch 3" in reason
    assert "for 3 evaluations" in reason
    # The first rule stopped at the first evaluation under 10% of the best.
    first = collapse_reason([0.5] * 5, valid[:5], random_level=RANDOM, rule=CollapseRule.first())
    assert first is not None and "fell to" in first


def test_a_fall_from_a_handful_of_hits_is_noise_not_collapse():
    """610 users (movielens-small-posters): 7 hits at the best, then 0, is what the first rule
    stopped (an in-batch IDRec run of the first CPU reproduction); 40 hits falling to 0 is not
    noise."""
    users = 610
    valid = [0.005, 0.01148, 0.008, 0.0, 0.0, 0.0, 0.0]
    few = [value * users for value in valid]
    assert collapse_reason([0.5] * 7, valid, random_level=0.001, hits=few) is None
    assert collapse_reason([0.5] * 7, valid, random_level=0.001, hits=few,
                           rule=CollapseRule.first()) is not None
    many = [value * 6 for value in few]
    reason = collapse_reason([0.5] * 7, valid, random_level=0.001, hits=many)
    assert reason is not None and "fell to 0" in reason


def test_a_slow_starter_gets_the_time_early_stopping_gives_it():
    """At random level for 6 evaluations, then learning: the first rule stopped it at the 5th;
    with patience 7 the rule waits 14 evaluations mid-run, and the run leaves random level."""
    valid = [RANDOM * 1.1, RANDOM * 0.9, RANDOM, RANDOM * 1.2, RANDOM * 1.3, RANDOM * 1.6,
             RANDOM * 2.5, RANDOM * 4, RANDOM * 6]
    for epochs in range(1, len(valid) + 1):
        assert collapse_reason([0.69] * epochs, valid[:epochs], random_level=RANDOM,
                               patience=7) is None
    assert collapse_reason([0.69] * 5, valid[:5], random_level=RANDOM, patience=7,
                           rule=CollapseRule.first()) is not None


def test_a_run_that_never_left_random_level_is_collapsed_when_it_ends():
    flat = [RANDOM * (1 + 0.1 * (epoch % 3)) for epoch in range(20)]
    # Mid-run: not before 2 x patience evaluations...
    assert collapse_reason([0.69] * 13, flat[:13], random_level=RANDOM, patience=7) is None
    assert collapse_reason([0.69] * 14, flat[:14], random_level=RANDOM, patience=7) is not None
    # ...but a run that ends (patience, train.epochs) at random level is judged then,
    reason = collapse_reason([0.69] * 8, flat[:8], random_level=RANDOM, patience=7, ended=True)
    assert reason is not None and "never rose above 2x random" in reason and "8 epochs" in reason
    # The bound and the random level both named, the bound first.
    levels = re.search(r"random ranking \(([0-9.e-]+); random ranking ([0-9.e-]+)\)", reason)
    assert levels and float(levels[1]) == pytest.approx(2 * float(levels[2]), rel=1e-2)
    # after flat_warmup evaluations at least (a 3-epoch smoke run is not judged).
    assert collapse_reason([0.69] * 3, flat[:3], random_level=RANDOM, patience=7,
                           ended=True) is None


def test_nan_loss_is_flagged_at_once():
    reason = collapse_reason([0.6, float("nan")], [0.1], random_level=RANDOM)
    assert reason is not None and "nan" in reason


def test_a_healthy_noisy_curve_is_not_flagged():
    valid = [0.02, 0.06, 0.05, 0.09, 0.07, 0.1, 0.085, 0.095, 0.06, 0.1]
    for epochs in range(1, len(valid) + 1):
        assert collapse_reason([0.5] * epochs, valid[:epochs], random_level=RANDOM) is None


def test_detector_sink_stops_the_run_as_collapsed():
    detector = CollapseDetector()
    detector(ev.RunStarted(run_id="r", spec={}, spec_key="k", selection_metric="ndcg@10",
                           host="h", pid=1, device="cpu", num_items=2000))
    for epoch, value in enumerate([0.1, 0.2, 0.0, 0.0]):
        detector(ev.EpochEnded(run_id="r", epoch=epoch, loss=0.5, learning_rates={}, seconds=1))
        detector(ev.Evaluated(run_id="r", epoch=epoch, split="valid",
                              metrics={"ndcg@10": value, "hr@10": value * 2, "users": 1000}))
    detector(ev.EpochEnded(run_id="r", epoch=4, loss=0.5, learning_rates={}, seconds=1))
    with pytest.raises(ev.StopRun) as stopped:
        detector(ev.Evaluated(run_id="r", epoch=4, split="valid",
                              metrics={"ndcg@10": 0.0, "hr@10": 0.0, "users": 1000}))
    assert stopped.value.status == "collapsed"


def test_detector_judges_a_flat_run_when_it_completes_and_leaves_pruned_runs_alone():
    def flat_run(epochs: int) -> CollapseDetector:
        detector = CollapseDetector()
        detector(ev.RunStarted(run_id="r", spec={"train": {"patience": 7}}, spec_key="k",
                               selection_metric="hr@10", host="h", pid=1, device="cpu",
                               num_items=1000))
        for epoch in range(epochs):
            detector(ev.EpochEnded(run_id="r", epoch=epoch, loss=0.69, learning_rates={},
                                   seconds=1))
            detector(ev.Evaluated(run_id="r", epoch=epoch, split="valid",
                                  metrics={"hr@10": 0.01, "users": 500}))
        return detector

    detector = flat_run(8)  # patience 7: not judged mid-run before 14 evaluations
    detector(ev.RunFinished(run_id="r", status="pruned"))
    with pytest.raises(ev.StopRun, match="never rose above 2x random ranking .* in 8 epochs"):
        detector(ev.RunFinished(run_id="r", status="completed"))


def test_an_exploding_loss_is_flagged_though_ranking_stays_above_random():
    losses, valid = [1.3, 0.9, 0.8, 1e5], [0.05, 0.08, 0.09, 0.085]
    for epochs in range(1, 4):
        assert collapse_reason(losses[:epochs], valid[:epochs], random_level=RANDOM) is None
    reason = collapse_reason(losses, valid, random_level=RANDOM)
    assert reason is not None and "exploded to 1e+05 at epoch 4" in reason
    assert "100x its first epoch's 1.3" in reason


def test_the_explosion_threshold_is_a_multiple_of_the_first_epoch_loss():
    valid = [0.05, 0.08]
    assert collapse_reason([2.0, 199.0], valid, random_level=RANDOM) is None
    assert collapse_reason([2.0, 201.0], valid, random_level=RANDOM) is not None


def test_a_loss_exploded_within_the_first_epoch_is_measured_by_the_catalogue():
    """The demo data at lr 100 (3,910 items): 2e5 in epoch 1 and falling, ranking at 2.5x random;
    ln(3910) = 8.3 bounds what constant scores cost under any loss here."""
    random_level = random_expectation("ndcg", 10, 3910)
    losses = [187278.1, 152295.2, 138400.6, 102492.9, 75084.0, 62257.6]
    valid = [2.5 * random_level] * len(losses)
    reason = collapse_reason(losses[:1], valid[:1], random_level=random_level, num_items=3910)
    assert reason is not None and "exploded to 1.873e+05 at epoch 1" in reason
    assert "ln(3910 items) = 8.271" in reason
    for epochs in range(1, len(losses) + 1):  # what let it complete: nothing else holds
        assert collapse_reason(losses[:epochs], valid[:epochs], random_level=random_level) is None
    # A full-softmax run starts at about ln(num_items), and falls: never flagged.
    healthy = [9.9, 8.1, 7.2, 7.5, 6.8]
    for epochs in range(1, len(healthy) + 1):
        assert collapse_reason(healthy[:epochs], [0.05] * epochs, random_level=RANDOM,
                               num_items=17000) is None


def test_healthy_loss_curves_with_spikes_are_not_flagged():
    """A falling BCE loss from 2 ln 2, a spike to three times its low (a high learning rate,
    then recovery), and a softmax loss that starts at ln(K + 1) and wobbles."""
    valid = [0.02, 0.06, 0.05, 0.09, 0.07, 0.1, 0.085, 0.095, 0.06, 0.1]
    for losses in ([1.386, 0.9, 0.7, 2.1, 0.8, 0.6, 0.62, 0.55, 0.58, 0.5],
                   [9.8, 7.5, 6.9, 7.4, 6.2, 6.8, 6.0, 6.1, 5.9, 6.3]):
        for epochs in range(1, len(valid) + 1):
            assert collapse_reason(losses[:epochs], valid[:epochs], random_level=RANDOM) is None


def test_detector_stops_a_run_whose_loss_explodes():
    detector = CollapseDetector()
    detector(ev.RunStarted(run_id="r", spec={}, spec_key="k", selection_metric="ndcg@10",
                           host="h", pid=1, device="cpu", num_items=2000))
    detector(ev.EpochEnded(run_id="r", epoch=0, loss=1.3, learning_rates={}, seconds=1))
    detector(ev.Evaluated(run_id="r", epoch=0, split="valid", metrics={"ndcg@10": 0.05}))
    with pytest.raises(ev.StopRun) as stopped:
        detector(ev.EpochEnded(run_id="r", epoch=1, loss=1e5, learning_rates={}, seconds=1))
    assert stopped.value.status == "collapsed" and "exploded" in stopped.value.reason
    # Exploded within its first epoch: measured by the catalogue the run started with.
    detector = CollapseDetector()
    detector(ev.RunStarted(run_id="r", spec={}, spec_key="k", selection_metric="ndcg@10",
                           host="h", pid=1, device="cpu", num_items=2000))
    with pytest.raises(ev.StopRun, match="ln.2000 items."):
        detector(ev.EpochEnded(run_id="r", epoch=0, loss=1e5, learning_rates={}, seconds=1))


def test_a_recorded_curve_is_replayed_epoch_by_epoch():
    """The replay stops where the detector would have: the first rule at the slow starter's
    5th evaluation, the current one never; a flat run at its end."""
    from morec_core.run.collapse import RecordedCurve, first_collapse

    slow = [RANDOM * 1.1, RANDOM * 0.9, RANDOM, RANDOM * 1.2, RANDOM * 1.3, RANDOM * 3,
            RANDOM * 5, RANDOM * 6]
    curve = RecordedCurve(losses=[0.69] * len(slow), valid=slow)
    assert first_collapse(curve, random_level=RANDOM, rule=CollapseRule(), patience=7) is None
    stopped = first_collapse(curve, random_level=RANDOM, rule=CollapseRule.first(), patience=7)
    assert stopped is not None and stopped[0] == 5
    flat = RecordedCurve(losses=[0.69] * 9, valid=[RANDOM] * 9)
    ended = first_collapse(flat, random_level=RANDOM, rule=CollapseRule(), patience=7)
    assert ended is not None and ended[0] == 9
