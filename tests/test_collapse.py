import math

import pytest

from morec_core import events as ev
from morec_core.collapse import CollapseDetector, collapse_reason, random_expectation

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


def test_collapse_after_a_peak_is_flagged():
    valid = [0.05, 0.12, 0.16, 0.15, 0.004]
    reason = collapse_reason([0.5] * 5, valid, random_level=RANDOM)
    assert reason is not None and "fell to" in reason and "epoch 3" in reason
    assert collapse_reason([0.5] * 4, valid[:4], random_level=RANDOM) is None


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
    for epoch, value in enumerate([0.1, 0.2]):
        detector(ev.EpochEnded(run_id="r", epoch=epoch, loss=0.5, learning_rates={}, seconds=1))
        detector(ev.Evaluated(run_id="r", epoch=epoch, split="valid", metrics={"ndcg@10": value}))
    detector(ev.EpochEnded(run_id="r", epoch=2, loss=0.5, learning_rates={}, seconds=1))
    with pytest.raises(ev.StopRun) as stopped:
        detector(ev.Evaluated(run_id="r", epoch=2, split="valid", metrics={"ndcg@10": 0.0}))
    assert stopped.value.status == "collapsed"
