"""`morec compare`'s tables as text: table, markdown and latex print two tables (the arms, then
the verdicts of every MoRec arm against its IDRec arm) and the notes that say how to read them;
csv is one wide line per arm (for scripts); json holds everything, unrounded.

Metrics and differences are in % and percentage points, as in the paper's tables; every mean
of several seeds carries its 95% interval and every difference its 95% paired-bootstrap CI.

About 400 lines on purpose: each table (arms, verdicts, cost, audit, published, the dashboard's)
is built once here, with its cells and the notes that explain its columns, and every format
is written from it; split, a column's header, its cell and its note would sit in different
files. The dashboard and the report import its cells from here.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from morec_core.data.fingerprint import NO_FINGERPRINT, NO_FINGERPRINT_WHY
from morec_core.results.compare import (
    COST_FIELDS,
    DEFAULT_SETTINGS,
    FORMATS,
    CompareRow,
    Comparison,
    Settings,
)
from morec_core.results.formatting import (
    ONE_SEED,
    count_cell,
    difference_interval,
    hours_cell,
    markdown_cell,
    markdown_table,
    mean_interval,
    memory_cell,
    p_value,
    percent,
    relative_interval,
    seconds_cell,
)
from morec_core.safe_text import csv_cell, latex_text, terminal_text

if TYPE_CHECKING:
    from morec_core.results.audit import ArmAudit
    from morec_core.results.published import PublishedLabel



def render(rows: Sequence[CompareRow], output_format: str,
           settings: Settings = DEFAULT_SETTINGS, audits: Sequence[ArmAudit] = (),
           published: Sequence[PublishedLabel] = ()) -> str:
    """audits: the tuning audit of each row (morec_core.results.audit), printed as a table and its
    warnings as notes; published: the labels of `--published` (morec_core.results.published)."""
    if output_format not in FORMATS:
        raise ValueError(f"unknown format {output_format!r}; known: {', '.join(FORMATS)}")
    text_notes = [*notes(rows, settings), *audit_notes(audits), *published_notes(published)]
    if output_format == "json":
        return json.dumps({"settings": asdict(settings), "rows": [_json_row(row) for row in rows],
                           "audit": [asdict(audit) for audit in audits],
                           "published": [asdict(label) for label in published],
                           "notes": text_notes}, indent=2, default=str)
    if output_format == "csv":
        return _csv(rows, audits)
    arms = arm_table(rows)
    verdicts = verdict_table(rows, settings)
    lines = _formatted(arms, output_format)
    if len(verdicts) > 1:
        title = "MoRec vs IDRec, paired over users:"
        lines += ["", title if output_format != "latex" else f"% {title}",
                  *_formatted(verdicts, output_format)]
    costs = cost_table(rows)
    if len(costs) > 1:
        title = "Cost per arm (means over the selected runs):"
        lines += ["", title if output_format != "latex" else f"% {title}",
                  *_formatted(costs, output_format)]
    for title, table in (("Tuning audit (per arm):", audit_table(audits)),
                         ("Published numbers:", published_table(published))):
        if len(table) > 1:
            lines += ["", title if output_format != "latex" else f"% {title}",
                      *_formatted(table, output_format)]
    if output_format == "latex":
        return "\n".join(lines + [f"% {terminal_text(note)}" for note in text_notes])
    # Notes hold names too: in Markdown they are escaped as table cells are (no raw HTML).
    escape = markdown_cell if output_format == "markdown" else terminal_text
    return "\n".join([*lines, "", *map(escape, text_notes)])


def metrics_of(rows: Sequence[CompareRow]) -> list[str]:
    """Regular test metrics first, then the cold and new item subsets."""
    return sorted({name for row in rows for name in row.test},
                  key=lambda name: (name.count(" "), name))


def _varying(rows: Sequence[CompareRow], value: str) -> bool:
    return len({getattr(row, value) for row in rows}) > 1


def arm_table(rows: Sequence[CompareRow]) -> list[list[str]]:
    """Header and one line per arm: means over seeds with their 95% intervals."""
    metrics = metrics_of(rows)
    show_loss = _varying(rows, "loss")
    by_keys = list(rows[0].by) if rows else []
    protocols = {row.protocol for row in rows}
    header = ["study", "dataset", "backbone", *(["loss"] if show_loss else []), *by_keys, "arm",
              "paradigm", "seeds", *metrics, "valid", "configs", "trials", "collapsed",
              "failed", "pruned", *(["protocol"] if len(protocols) > 1 else [])]
    body = [[row.study, row.dataset, row.backbone, *([row.loss] if show_loss else []),
             *[row.by[key] for key in by_keys], row.arm, row.paradigm, str(row.seeds),
             *[metric_cell(row, metric) for metric in metrics],
             "" if row.valid is None else f"{row.valid:.4f}", str(row.configurations),
             str(row.trials), *[str(row.outcomes.get(status, 0))
                                for status in ("collapsed", "failed", "pruned")],
             *([row.protocol] if len(protocols) > 1 else [])] for row in rows]
    return [header, *body]


def cost_table(rows: Sequence[CompareRow]) -> list[list[str]]:
    """Header and one line per arm that recorded a cost: trainable parameters, seconds per
    epoch and peak memory (the paper's Table 6, without FLOPs)."""
    header = ["study", "arm", "trainable params", "s/epoch", "peak memory", "training device-h"]
    body = [[row.study, row.arm, count_cell(row.cost.get("trainable_params")),
             seconds_cell(row.cost.get("seconds_per_epoch")),
             memory_cell(row.cost.get("peak_memory_bytes")),
             hours_cell(None if row.training_seconds is None else row.training_seconds / 3600)]
            for row in rows if row.cost]
    return [header, *body]


def audit_table(audits: Sequence[ArmAudit]) -> list[list[str]]:
    """Header and one line per arm: grid size, what was run, device-hours, the chosen values."""
    header = ["arm", "grid", "configs run", "trials", "seeds", "device-h spent", "selected on",
              "chosen"]
    body = [[audit.label, f"{audit.grid_size}" + ("" if audit.grid_from == "study definition"
                                                  else " (from runs)"),
             str(audit.configurations), str(audit.trials), str(audit.seeds),
             hours_cell(audit.device_hours), audit.selection,
             ", ".join(f"{key.split('.')[-1]} {_value(value)}"
                       for key, value in audit.chosen.items())
             if audit.seeds else "none: no completed run"] for audit in audits]
    return [header, *body]


def _value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def audit_lines(audits: Sequence[ArmAudit]) -> list[str]:
    """The audit table as one line per arm, then its warnings (a narrow screen's notes)."""
    _header, *body = audit_table(audits)
    return [f"audit: {arm}: grid {grid}, {configs} configs run, {trials} trials, {seeds} seeds, "
            f"{hours or '0 s'} spent, selected on {selection}" + (f", chosen {chosen}"
                                                                 if chosen else "")
            for arm, grid, configs, trials, seeds, hours, selection, chosen in body
            ] + audit_notes(audits)


def audit_notes(audits: Sequence[ArmAudit]) -> list[str]:
    return [f"audit: {audit.label}: {warning}" for audit in audits for warning in audit.warnings]


def published_table(labels: Sequence[PublishedLabel]) -> list[list[str]]:
    header = ["arm", "metric", "morec % [95% CI]", "published %", "source", "label"]
    body = [[label.arm, label.metric, _measured_cell(label), f"{label.published.value:g}",
             label.published.source, label.label] for label in labels]
    return [header, *body]


def _measured_cell(label: PublishedLabel) -> str:
    if label.measured is None:
        return "-"
    if label.measured_ci is None:
        return f"{label.measured:.2f} [{ONE_SEED}]"
    low, high = label.measured_ci
    return f"{label.measured:.2f} [{low:.2f}, {high:.2f}]"


def published_notes(labels: Sequence[PublishedLabel]) -> list[str]:
    if not labels:
        return []
    from morec_core.results.published import COUNT_TOLERANCE, TOLERANCE

    return [f"published: replicated = morec's mean within ±{TOLERANCE:.0%} (relative) of the "
            f"published value, else below or above; comparable only where the data (fingerprint, "
            f"or counts within ±{COUNT_TOLERANCE:.0%}) and the protocol given match"]


def verdict_table(rows: Sequence[CompareRow], settings: Settings) -> list[list[str]]:
    """Header and one line per (MoRec arm, metric) with a comparison."""
    show_loss = _varying(rows, "loss")
    by_keys = list(rows[0].by) if rows else []
    adjusted = f"p adj. ({settings.correction}, {_test_label(settings.test)})"
    header = ["dataset", "backbone", *(["loss"] if show_loss else []), *by_keys, "MoRec",
              "IDRec", "metric", "users", "Δ pp [95% CI]", "Improv. [95% CI]", "p t",
              "p rand.", *(["p Wilcoxon"] if settings.wilcoxon else []), adjusted, "verdict"]
    body = []
    for row in rows:
        for metric in metrics_of([row]):
            comparison = row.comparisons.get(metric)
            if comparison is None:
                continue
            body.append([row.dataset, row.backbone, *([row.loss] if show_loss else []),
                         *[row.by[key] for key in by_keys], row.label, comparison.control,
                         metric, str(comparison.users), difference_cell(comparison),
                         relative_cell(comparison), p_cell(comparison.p_t),
                         p_cell(comparison.p_randomization),
                         *([p_cell(comparison.p_wilcoxon)] if settings.wilcoxon else []),
                         p_cell(comparison.p_adjusted), comparison.verdict])
    return [header, *body]


def dashboard_table(rows: Sequence[CompareRow]) -> list[list[str]]:
    """The arms table with, on each MoRec line, its verdict against IDRec per metric right after
    the paradigm (in view on an 80-column screen), then the means, then each difference's CI and
    adjusted p-value: the compare screen's one table (a line per arm: Enter opens its best run)."""
    header, *body = arm_table(rows)
    metrics = metrics_of(rows)
    cut = header.index("paradigm") + 1
    verdicts = [f"verdict {metric}" for metric in metrics]
    details = [column for metric in metrics
               for column in (f"Δ {metric} pp [95% CI]", f"p adj. {metric}")]
    table = [header[:cut] + verdicts + header[cut:] + details]
    for row, cells in zip(rows, body, strict=True):
        found = [row.comparisons.get(metric) for metric in metrics]
        table.append(cells[:cut] + ["" if item is None else item.verdict for item in found]
                     + cells[cut:]
                     + [cell for item in found for cell in (
                         ("", "") if item is None else
                         (difference_cell(item), p_cell(item.p_adjusted)))])
    return table


def notes(rows: Sequence[CompareRow], settings: Settings) -> list[str]:
    """How to read the tables, then what the table cannot say and why."""
    lines = ["arms: test-split % at the best validation epoch of the best-by-validation "
             "configuration, mean over its seeds [95% t-interval over seeds, within 0-100]"]
    if any(row.seeds == 1 for row in rows):
        lines.append(f"{ONE_SEED}: one seed gives no interval over seeds; `morec tune --study "
                     "NAME --seeds 3` runs each arm's selected configuration on more seeds")
    compared = sum(len(row.comparisons) for row in rows)
    if compared:
        wilcoxon = ", Wilcoxon signed-rank on request" if settings.wilcoxon else ""
        lines.append(
            "verdicts: each MoRec arm against the best IDRec arm (by validation) of the same "
            "dataset, backbone and loss; each user's metric averaged over the arm's seeds; "
            f"Δ = MoRec - IDRec in percentage points, 95% paired-bootstrap CI "
            f"({settings.resamples} resamples of users); p: paired t-test and paired "
            f"randomization test, two-sided{wilcoxon}; verdict at α = {settings.alpha:g} on the "
            f"{_test_label(settings.test)} p after {_correction_label(settings.correction)} "
            f"over the {compared} comparisons of this table. The intervals count the users as "
            "the sample; seed-to-seed variation shows in the arms' intervals")
    for row in rows:
        if row.paradigm == "MoRec" and row.verdict_note:
            lines.append(f"{row.label}: {row.verdict_note}")
    for row in rows:
        if row.ties is not None and row.ties >= 0.001:
            constant = " (scores look constant)" if row.ties >= 0.5 else ""
            lines.append(f"{row.label}: {row.ties:.1%} of test targets tied with another item"
                         f"{constant}; tie rule {row.protocol_fields.get('ties')}")
    missing = sum(len(row.missing_user_results) for row in rows)
    if missing:
        lines.append(f"{missing} selected runs have no per-user results (recorded by an older "
                     "morec): re-run `morec compare --recompute` for their verdicts")
    lines += [note for row in rows for note in row.notes]
    protocols = {row.protocol for row in rows}
    data = fingerprint_lines(rows)
    if len(protocols) == 1 and (protocol := protocols.pop()):
        lines.append(f"protocol: {protocol}" + (f"; {data[0]}" if len(data) == 1 else ""))
        data = data if len(data) > 1 else []
    return lines + data


def fingerprint_lines(rows: Sequence[CompareRow]) -> list[str]:
    """One line when every row trained on the same data, else one per row: its fingerprint,
    or why it has none."""
    described = {row.label: (row.data.describe() if row.data is not None else
                             f"{NO_FINGERPRINT} ({NO_FINGERPRINT_WHY})")
                 for row in rows}
    if len(set(described.values())) == 1:
        return list(set(described.values()))
    return [f"{label}: {text}" for label, text in described.items()]


def _json_row(row: CompareRow) -> dict[str, Any]:
    """The row, its fingerprint as an object (null for none) rather than a JSON string."""
    data = row.data
    return {**asdict(row), "fingerprint": None if data is None else asdict(data)}


def _configurations(count: int) -> str:
    return f"{count} configuration{'s' * (count != 1)}"


def _test_label(test: str) -> str:
    return {"randomization": "randomization", "t": "t-test"}[test]


def _correction_label(correction: str) -> str:
    return {"holm": "Holm's correction", "bh": "Benjamini-Hochberg's correction",
            "none": "no correction"}[correction]


# --- cells --------------------------------------------------------------------------------


def metric_cell(row: CompareRow, metric: str) -> str:
    if metric not in row.test:
        return "-"
    return mean_interval(row.test[metric], row.test_ci.get(metric), one_seed=row.seeds == 1)


def difference_cell(comparison: Comparison) -> str:
    return difference_interval(comparison.difference, comparison.difference_ci)


def relative_cell(comparison: Comparison) -> str:
    return relative_interval(comparison.relative, comparison.relative_ci)


def p_cell(p: float | None) -> str:
    return p_value(p)


# --- output formats -----------------------------------------------------------------------


def _formatted(table: list[list[str]], output_format: str) -> list[str]:
    header, *body = table
    if output_format == "markdown":
        return markdown_table(header, body)
    if output_format == "latex":
        return ["\\begin{tabular}{" + "l" * len(header) + "}", "\\toprule",
                " & ".join(_latex(cell) for cell in header) + " \\\\", "\\midrule",
                *[" & ".join(_latex(cell) for cell in cells) + " \\\\" for cells in body],
                "\\bottomrule", "\\end{tabular}"]
    # A terminal's table: names from a (shared) store lose their escape sequences here.
    table = [[terminal_text(cell) for cell in cells] for cells in table]
    widths = [max(len(cells[i]) for cells in table) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
            for cells in table]


def _csv(rows: Sequence[CompareRow], audits: Sequence[ArmAudit] = ()) -> str:
    """One line per arm: every number unrounded in its own column, in % for metrics."""
    metrics = metrics_of(rows)
    by_keys = list(rows[0].by) if rows else []
    header = ["study", "dataset", "backbone", "loss", *by_keys, "arm", "paradigm", "seeds"]
    for metric in metrics:
        header += [metric, f"{metric} ci low", f"{metric} ci high"]
    header += ["valid", "configs", "trials", "collapsed", "failed", "pruned", "protocol",
               "IDRec", *COST_FIELDS, "training seconds", "spent seconds", "data fingerprint"]
    audited = {audit.label: audit for audit in audits}
    if audits:
        header += ["grid size", "audit warnings"]
    for metric in metrics:
        header += [f"Δ {metric}", f"Δ {metric} ci low", f"Δ {metric} ci high",
                   f"Improv. {metric}", f"Improv. {metric} ci low", f"Improv. {metric} ci high",
                   f"p t {metric}", f"p randomization {metric}", f"p wilcoxon {metric}",
                   f"p adjusted {metric}", f"verdict {metric}"]
    header.append("note")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        cells = [*map(csv_cell, (row.study, row.dataset, row.backbone, row.loss,
                                 *[row.by[key] for key in by_keys], row.label.split("/", 1)[1],
                                 row.paradigm)), row.seeds]
        for metric in metrics:
            low, high = row.test_ci.get(metric, (None, None))
            cells += [_percent(row.test.get(metric)), _percent(low), _percent(high)]
        controls = {comparison.control for comparison in row.comparisons.values()}
        cells += ["" if row.valid is None else row.valid, row.configurations, row.trials,
                  *[row.outcomes.get(status, 0) for status in ("collapsed", "failed", "pruned")],
                  csv_cell(row.protocol), csv_cell(", ".join(sorted(controls))),
                  *[row.cost.get(name, "") for name in COST_FIELDS],
                  "" if row.training_seconds is None else row.training_seconds,
                  row.spent_seconds, "" if row.data is None else row.data.digest]
        if audits:
            audit = audited.get(row.label)
            cells += (["", ""] if audit is None
                      else [audit.grid_size, csv_cell("; ".join(audit.warnings))])
        for metric in metrics:
            comparison = row.comparisons.get(metric)
            if comparison is None:
                cells += [""] * 11
                continue
            relative_low, relative_high = comparison.relative_ci or (None, None)
            cells += [_percent(comparison.difference), _percent(comparison.difference_ci[0]),
                      _percent(comparison.difference_ci[1]), _percent(comparison.relative),
                      _percent(relative_low), _percent(relative_high), comparison.p_t,
                      comparison.p_randomization,
                      "" if comparison.p_wilcoxon is None else comparison.p_wilcoxon,
                      comparison.p_adjusted, comparison.verdict]
        cells.append(csv_cell(row.verdict_note))
        writer.writerow(cells)
    return out.getvalue()


def _percent(value: float | None) -> str:
    return percent(value, digits=4)


def _latex(cell: str) -> str:
    """Every LaTeX special escaped (a name cannot open a group or a command), then Δ and α."""
    return latex_text(cell).replace("Δ", "$\\Delta$").replace("α", "$\\alpha$")
