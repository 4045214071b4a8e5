"""`morec report`'s figures (matplotlib, PNG): per question, each arm's test HR@10 with its
95% interval over seeds, and the validation curves of the selected runs (first seed), best epoch
marked. Written with the Agg backend: no display is needed."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from morec_core.results.report import Report, Section
from morec_core.results.report_render import Image
from morec_core.store import Store


def figure_steps(report: Report) -> int:
    """The times write_figures calls its `step`: once per question with rows, once for the
    trade-off figure."""
    return sum(1 for section in report.sections if section.rows) + 1


def write_figures(report: Report, store: Store, folder: Path, link_prefix: str,
                  step: Callable[[], None] = lambda: None) -> dict[str, list[Image]]:
    """Question -> the images written for it into `folder`, linked as `link_prefix/<file>`
    (the folder's name beside the report, once it is renamed into place). `step` is called
    after each question's figures and after the trade-off figure (figure_steps times)."""
    import matplotlib

    matplotlib.use("Agg")
    folder.mkdir(parents=True, exist_ok=True)
    images: dict[str, list[Image]] = {}
    for section in report.sections:
        if not section.rows:
            continue
        slug = section.question.strip("Q()").lower()
        found = []
        metric = next((name for name in section.metrics
                       if any(name in row.test for row in section.rows)), None)
        if metric is not None:
            path = folder / f"q{slug}-bars.png"
            _bars(section, report, metric, path)
            found.append(Image(path=f"{link_prefix}/{path.name}",
                               caption=f"{section.question}: test {metric.upper()} (%) per arm, "
                                       "95% interval over seeds"))
        path = folder / f"q{slug}-curves.png"
        if _curves(section, store, path):
            found.append(Image(path=f"{link_prefix}/{path.name}",
                               caption=f"{section.question}: validation curves of the selected "
                                       "runs (first seed); the dot marks the best epoch"))
        images[section.question] = found
        step()
    path = folder / "tradeoff.png"
    if _tradeoff(report, path):
        images["tradeoff"] = [Image(path=f"{link_prefix}/{path.name}",
                                    caption="Accuracy against cost: test HR@10 (%) with its 95% "
                                            "interval over seeds against the training "
                                            "device-hours of one run (log axis), per dataset, "
                                            "backbone and loss; the Pareto front joined")]
    step()
    return images


def _tradeoff(report: Report, path: Path) -> bool:
    """One panel per (dataset, backbone, loss) with at least one arm's cost recorded."""
    import matplotlib.pyplot as plt

    from morec_core.results.tradeoff import tradeoffs

    groups = {key: [point for point in points if point.device_hours]
              for key, points in tradeoffs(report.rows).items()}
    groups = {key: points for key, points in groups.items() if points}
    if not groups:
        return False
    figure, axes = plt.subplots(len(groups), 1, figsize=(8, 3.2 * len(groups)), squeeze=False)
    for axis, ((dataset, backbone, loss), points) in zip(axes[:, 0], groups.items(),
                                                         strict=True):
        for point in points:
            low, high = point.metric_ci or (point.metric, point.metric)
            colour = "#4c72b0" if point.paradigm == "IDRec" else "#dd8452"
            axis.errorbar([point.device_hours], [100 * point.metric],
                          yerr=[[100 * (point.metric - low)], [100 * (high - point.metric)]],
                          fmt="o", color=colour, capsize=3)
            axis.annotate(point.label.split("/", 1)[-1], (point.device_hours, 100 * point.metric),
                          fontsize=6, xytext=(4, 2), textcoords="offset points")
        front = sorted((point.device_hours, 100 * point.metric) for point in points
                       if point.pareto and point.device_hours)
        if len(front) > 1:
            axis.plot(*zip(*front, strict=True), "--", color="grey", linewidth=0.8)
        axis.set_xscale("log")
        axis.set_title(f"{dataset}, {backbone}, {loss}", fontsize=8)
        axis.set_xlabel("training device-hours of one run (blue: IDRec, orange: MoRec)")
        axis.set_ylabel("test HR@10 (%)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def _bars(section: Section, report: Report, metric: str, path: Path) -> None:
    import matplotlib.pyplot as plt

    rows = [row for row in section.rows if metric in row.test]
    labels = [f"{row.label} ({row.loss})" for row in rows]
    means = [100 * row.test[metric] for row in rows]
    errors = [[100 * (row.test[metric] - row.test_ci.get(metric, (row.test[metric],) * 2)[0])
               for row in rows],
              [100 * (row.test_ci.get(metric, (row.test[metric],) * 2)[1] - row.test[metric])
               for row in rows]]
    colours = ["#4c72b0" if row.paradigm == "IDRec" else "#dd8452" for row in rows]
    figure, axis = plt.subplots(figsize=(9, 0.35 * len(rows) + 1.2))
    axis.barh(range(len(rows)), means, xerr=errors, color=colours, capsize=3)
    axis.set_yticks(range(len(rows)), labels, fontsize=7)
    axis.invert_yaxis()
    axis.set_xlabel(f"test {metric.upper()} (%)  (blue: IDRec, orange: MoRec)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _curves(section: Section, store: Store, path: Path) -> bool:
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 4))
    # 20 distinct colours: the default cycle of 10 gave two curves one colour.
    palette = plt.get_cmap("tab20")
    axis.set_prop_cycle(color=[palette(index) for index in range(20)])
    drawn = 0
    for row in section.rows:
        if not row.run_ids:
            continue
        run = store.run(row.run_ids[0])
        points = store.curves(run.id).get(("valid", run.selection_metric), [])
        points = [point for point in points if math.isfinite(point.value)]
        if not points:
            continue
        line, = axis.plot([point.epoch + 1 for point in points],
                          [100 * point.value for point in points],
                          label=f"{row.label} ({row.loss})", linewidth=1)
        if run.best_epoch is not None and run.best_value is not None:
            axis.plot([run.best_epoch + 1], [100 * run.best_value], "o", color=line.get_color())
        drawn += 1
    if drawn:
        axis.set_xlabel("epoch")
        axis.set_ylabel("validation metric (%)")
        # The legend beside the plot, never over the curves.
        axis.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        figure.tight_layout()
        figure.savefig(path, dpi=110)
    plt.close(figure)
    return drawn > 0
