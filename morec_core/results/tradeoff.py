"""Accuracy against cost: each arm's test metric (with its interval over seeds) against what one
training run of its chosen configuration cost (device-hours, and s/epoch), per dataset and loss,
with the Pareto front marked; and, per MoRec arm, its cost as a multiple of its IDRec arm's
beside the difference it bought (Δ with its paired 95% CI).

The front is read on the means: an arm is on it when no other arm of its group is at least as
accurate for at most its cost, and strictly better in one of the two. The intervals stay beside
the means, since an arm just off the front may be indistinguishable from one on it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from morec_core.results.compare import CompareRow


@dataclass(frozen=True, kw_only=True)
class TradeoffPoint:
    label: str
    paradigm: str
    metric: float
    """Test metric, mean over seeds (a fraction)."""
    metric_ci: tuple[float, float] | None
    device_hours: float | None
    """Training device-hours of one run of the chosen configuration (mean over its seeds)."""
    seconds_per_epoch: float | None
    pareto: bool
    """On the front of its dataset and loss (False where the cost was not recorded)."""


def pareto_flags(points: Sequence[tuple[float, float]]) -> list[bool]:
    """(cost, value) pairs -> whether each is on the front (lower cost, higher value better)."""
    flags = []
    for index, (cost, value) in enumerate(points):
        dominated = any(other_cost <= cost and other_value >= value
                        and (other_cost < cost or other_value > value)
                        for other_index, (other_cost, other_value) in enumerate(points)
                        if other_index != index)
        flags.append(not dominated)
    return flags


def tradeoffs(rows: Sequence[CompareRow], metric: str = "hr@10"
              ) -> dict[tuple[str, str, str], list[TradeoffPoint]]:
    """(dataset, backbone, loss) -> the arms with `metric`, cheapest first."""
    groups: dict[tuple[str, str, str], list[CompareRow]] = defaultdict(list)
    for row in rows:
        if metric in row.test:
            groups[(row.dataset, row.backbone, row.loss)].append(row)
    found = {}
    for key, members in sorted(groups.items()):
        costed = [row for row in members if row.training_seconds is not None]
        flags = dict(zip([row.label for row in costed],
                         pareto_flags([(row.training_seconds or 0.0, row.test[metric])
                                       for row in costed]), strict=True))
        points = [TradeoffPoint(
            label=row.label, paradigm=row.paradigm, metric=row.test[metric],
            metric_ci=row.test_ci.get(metric),
            device_hours=None if row.training_seconds is None else row.training_seconds / 3600,
            seconds_per_epoch=row.cost.get("seconds_per_epoch"),
            pareto=flags.get(row.label, False)) for row in members]
        found[key] = sorted(points, key=lambda point: (point.device_hours is None,
                                                       point.device_hours or 0.0))
    return found


def cost_sentences(rows: Sequence[CompareRow], metric: str = "hr@10") -> list[str]:
    """Per MoRec arm compared with IDRec: "X: 3.2x IDRec's s/epoch (2.1x its training
    device-hours) for Δ HR@10 +0.52 pp [-0.31, +1.40] (on par)"."""
    by_label = {row.label: row for row in rows}
    lines = []
    for row in rows:
        comparison = row.comparisons.get(metric)
        control = by_label.get(comparison.control) if comparison else None
        if comparison is None or control is None:
            continue
        ratios = []
        mine, theirs = row.cost.get("seconds_per_epoch"), control.cost.get("seconds_per_epoch")
        if mine and theirs:
            ratios.append(f"{mine / theirs:.3g}x IDRec's s/epoch")
        if row.training_seconds and control.training_seconds:
            ratios.append(f"{row.training_seconds / control.training_seconds:.3g}x its training "
                          "device-hours")
        if not ratios:
            continue
        low, high = comparison.difference_ci
        cost = ratios[0] + (f" ({ratios[1]})" if len(ratios) > 1 else "")
        lines.append(f"{row.label}: {cost} for Δ {metric.upper()} "
                     f"{100 * comparison.difference:+.2f} pp [{100 * low:+.2f}, "
                     f"{100 * high:+.2f}] against {control.label} ({comparison.verdict})")
    return lines


def tradeoff_lines(rows: Sequence[CompareRow], metric: str = "hr@10") -> list[str]:
    """Accuracy against cost as text lines (the dashboard's compare screen): per dataset,
    backbone and loss, the arms cheapest first, `*` on the Pareto front; then the cost
    sentences."""
    lines = []
    for (dataset, backbone, loss), points in tradeoffs(rows, metric).items():
        cells = []
        for point in points:
            interval = ("n/a (1 seed)" if point.metric_ci is None else
                        f"{100 * point.metric_ci[0]:.2f}, {100 * point.metric_ci[1]:.2f}")
            hours = "cost not recorded" if point.device_hours is None else (
                f"{point.device_hours:.3g} device-h")
            cells.append(f"{point.label}{'*' if point.pareto else ''} "
                         f"{100 * point.metric:.2f} [{interval}] at {hours}")
        lines.append(f"accuracy vs cost, {dataset}, {backbone}, {loss} ({metric.upper()} % "
                     f"against one training run; * Pareto front): " + "; ".join(cells))
    return lines + [f"cost: {line}" for line in cost_sentences(rows, metric)]
