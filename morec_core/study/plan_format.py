"""`morec plan`'s table: one line per cost configuration, then the study's totals and what could
not be measured. Cells are formatted by compare_format's helpers, as every other cost."""

from __future__ import annotations

from morec_core.results.formatting import count_cell, hours_cell, memory_cell, seconds_cell
from morec_core.study.plan import Plan, PlanRow


def _epochs(row: PlanRow) -> str:
    expected = "?" if row.epochs_expected is None else f"{row.epochs_expected:.1f}"
    return f"{row.epochs_upper} / {expected}"


def _hours(row: PlanRow, expected: bool) -> str:
    epochs = row.epochs_expected if expected else row.epochs_upper
    seconds = None if epochs is None else row.trial_seconds(epochs)
    if seconds is None:
        return "?"
    return hours_cell((row.search_trials + row.seed_trials) * seconds / 3600)


def _memory(row: PlanRow) -> str:
    found = row.measurement
    if found is None:
        return ""
    fits = "" if row.fits else ", does NOT fit"
    return f"{memory_cell(found.peak_memory_bytes)} of {memory_cell(found.device_memory_bytes)}{fits}"


def plan_table(plan: Plan) -> list[list[str]]:
    header = ["arm", "measured on", "params", "s/epoch", "eval s", "peak memory", "setup",
              "trials", "epochs max / expected", "device-h max", "device-h expected"]
    body = []
    for row in plan.rows:
        name = row.arm + (f" ({row.variant})" if row.variant else "")
        found = row.measurement
        if found is None:
            body.append([name, "not measured", "", "", "", "", "",
                         str(row.search_trials + row.seed_trials), _epochs(row), "?", "?"])
            continue
        body.append([name, found.device, count_cell(found.trainable_params),
                     seconds_cell(found.seconds_per_epoch), seconds_cell(found.evaluation_seconds),
                     _memory(row), seconds_cell(found.setup_seconds),
                     f"{row.search_trials} + {row.seed_trials}", _epochs(row),
                     _hours(row, expected=False), _hours(row, expected=True)])
    return [header, *body]


def plan_lines(plan: Plan) -> list[str]:
    """The table as aligned text, then the totals and the notes."""
    table = plan_table(plan)
    widths = [max(len(cells[i]) for cells in table) for i in range(len(table[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
             .rstrip() for cells in table]
    upper, expected = plan.device_hours(False), plan.device_hours(True)
    wall_upper, wall_expected = plan.wall_hours(False), plan.wall_hours(True)
    searched = sum(row.search_trials for row in plan.rows)
    lines += [
        "",
        f"total: {plan.trials()} trials ({searched} searched on the first seed, "
        f"{plan.trials() - searched} on further seeds of each arm's winner); trials are "
        "'searched + seeds', epochs at most train.epochs, expected from the study's finished "
        "runs",
        f"device-hours: at most {_total(upper)}, expected {_total(expected)} (training epochs "
        "plus one validation each, plus each configuration's setup once)",
        f"wall time on {_workers(plan)}: at most {_total(wall_upper)}, expected "
        f"{_total(wall_expected)} (trials longest first on the first free worker)",
        f"measured in {plan.measured_in_seconds:.0f} s; store read: {plan.store}",
    ]
    lines += [f"note: {note}" for note in plan.notes]
    return lines


def _workers(plan: Plan) -> str:
    """e.g. "1 local worker", "4 GPUs"."""
    kind = plan.worker_kind.removesuffix("s") if plan.workers == 1 else plan.worker_kind
    return f"{plan.workers} {kind}"


def _total(hours: float | None) -> str:
    return "? (see the notes)" if hours is None else hours_cell(hours)


def plan_summary(plan: Plan) -> list[str]:
    """A few lines for a narrow place (the dashboard's new-job form): each configuration's
    s/epoch and peak memory, then the totals."""
    lines = []
    for row in plan.rows:
        name = row.arm + (f" ({row.variant})" if row.variant else "")
        found = row.measurement
        lines.append(f"{name}: not measured ({row.problem})" if found is None else
                     f"{name}: {seconds_cell(found.seconds_per_epoch)}/epoch, eval "
                     f"{seconds_cell(found.evaluation_seconds)}, {_memory(row)}, setup "
                     f"{seconds_cell(found.setup_seconds)}")
    lines.append(f"{plan.trials()} trials; device-hours at most "
                 f"{_total(plan.device_hours(False))} (expected "
                 f"{_total(plan.device_hours(True))}); wall time at most "
                 f"{_total(plan.wall_hours(False))} on {_workers(plan)}")
    return lines + [f"note: {note}" for note in plan.notes]
