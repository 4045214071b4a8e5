"""`morec report`'s Markdown and HTML: the same blocks (headings, paragraphs, tables, images)
written twice, numbers formatted once. Metrics in %, with two decimals as the paper prints them;
every difference with its 95% interval and adjusted p-value."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from morec_core.results.compare import CompareRow, Comparison
from morec_core.results.compare_format import audit_notes, audit_table
from morec_core.results.formatting import (
    count_cell,
    difference_interval,
    hours_cell,
    markdown_table,
    mean_interval,
    memory_cell,
    p_value,
    relative_interval,
    seconds_cell,
)
from morec_core.results.report import Report, Section
from morec_core.results.tradeoff import cost_sentences, tradeoffs


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    body: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Image:
    path: str
    """Relative to the report file."""
    caption: str


Block = Heading | Paragraph | Bullets | Table | Image


def shown_store(url: str) -> str:
    """The store as a reader can find it: a SQLite file relative to the folder the report was
    written from (or its name, outside it); a server URL without its credentials."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return path.name
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"


def mean_cell(row: CompareRow, metric: str) -> str:
    if metric not in row.test:
        return ""
    return mean_interval(row.test[metric], row.test_ci.get(metric), one_seed=False)


def delta_cell(comparison: Comparison | None) -> str:
    if comparison is None:
        return ""
    return difference_interval(comparison.difference, comparison.difference_ci)


def relative_cell(comparison: Comparison | None) -> str:
    if comparison is None:
        return ""
    return relative_interval(comparison.relative, comparison.relative_ci)


def p_cell(comparison: Comparison | None) -> str:
    return "" if comparison is None else p_value(comparison.p_adjusted)


def blocks_of(report: Report, images: dict[str, list[Image]]) -> list[Block]:
    # The command comes first, so the file says on its first line how it was made.
    out: list[Block] = [Paragraph(f"`{report.command}`")] if report.command else []
    out += [
        Heading(1, "morec reproduction report: the paper's four questions"),
        Paragraph("Yuan et al., \"Where to Go Next for Recommender Systems? ID- vs. "
                  "Modality-based Recommender Models Revisited\", SIGIR 2023. Questions are "
                  "numbered as in the paper (its Q(iii) is the two-stage question). Every morec "
                  "number below was produced by `morec report` from the store named here; "
                  "regenerate this file with the command on its first line."),
        Bullets((f"store: `{shown_store(report.store_url)}`",
                 f"generated: {report.generated}",
                 f"verdicts: paired over users, 95% bootstrap CI, {report.settings.test} test, "
                 f"{report.settings.correction} correction across each table, alpha "
                 f"{report.settings.alpha}",
                 *[f"ran on: {machine}" for machine in report.machines],
                 *[f"note: {line}" for line in report.notes])),
        Heading(2, "Protocol"), Bullets(tuple(report.protocol)),
    ]
    for section in report.sections:
        out += _section_blocks(report, section, images.get(section.question, []))
    out += [Heading(2, "Cost per arm"),
            Paragraph("Means over each arm's selected runs, [min, max] over its seeds; the "
                      "paper's Table 6 beside them (its GPUs, its data). `planned` is the "
                      "study's last `morec plan` (a few timed steps before the study ran, on "
                      "the device named), and `measured / planned` the ratio of the two."),
            _cost_table(report)]
    out += _tradeoff_blocks(report, images.get("tradeoff", []))
    out += [Heading(2, "Tuning audit"),
            Paragraph("Per arm: the grid it was searched on (from the study definition, or the "
                      "values its runs had), the configurations and trials run, the "
                      "device-hours spent training every trial, what selected (validation "
                      "only), and the chosen values. Warnings below: a chosen value on the "
                      "edge of its grid, and budgets or epoch caps unequal between a MoRec arm "
                      "and its IDRec arm (above a ratio of 1.5, morec_core/results/audit.py says why)."),
            Table(*_table_of(audit_table(report.audits))),
            Bullets(tuple(line.removeprefix("audit: ") for line in audit_notes(report.audits))
                    or ("no warning",))]
    if report.unfinished:
        out += [Heading(2, "Arms without a completed run"),
                Paragraph("Every trial of these arms collapsed (the paper's Figure 5 rule, "
                          "morec_core/run/collapse.py), failed or was pruned; they have no row above "
                          "and no further seeds."),
                Bullets(tuple(report.unfinished))]
    out += [Heading(2, "Pending"),
            Paragraph("Arms of the reported studies that do not have all their seeds in this "
                      "store: not run yet (never filled in); in parentheses at the end, why, "
                      "where the report's author said (`--pending-reason`)."),
            Bullets(tuple(report.pending) if report.pending else ("nothing pending",))]
    return out


def _section_blocks(report: Report, section: Section, images: list[Image]) -> list[Block]:
    out: list[Block] = [Heading(2, f"{section.question} {section.title}"),
                        Paragraph(f"The paper: {section.paper_answer}")]
    if section.conclusions:
        out.append(Paragraph("What this store found, claim by claim (HR@10 unless named; "
                             "Improv. [95% CI], verdict, and whether it agrees with the paper):"))
        out.append(Bullets(tuple(section.conclusions)))
    for figure in section.paper_figures:
        columns = tuple(name for name, _ in figure.values)
        out.append(Paragraph(f"Paper, {figure.source} ({figure.metric.upper()} %)"
                             + (f": {figure.paper_says}" if figure.paper_says else "")))
        # As the paper prints them: two decimals, four for Table 9's cold and new items.
        decimals = 4 if figure.metric.startswith(("cold", "new")) else 2
        out.append(Table(columns, (tuple(f"{value:.{decimals}f}" for _, value in figure.values),)))
    if section.rows:
        out.append(Paragraph("morec, test split at the best validation epoch, mean [95% "
                             "t-interval over seeds]; Δ and Improv. against the best IDRec arm "
                             "of the same data, backbone and loss, with 95% paired-bootstrap "
                             "intervals of that comparison alone; the verdict reads the p-value "
                             "corrected across the whole table, so an interval clear of 0 can "
                             "still be on par:"))
        out.append(_rows_table(report, section))
    if section.contrasts:
        out.append(Paragraph("Contrasts between two MoRec arms (paired over users):"))
        out.append(_contrast_table(section))
    if section.findings:
        out.append(Paragraph("What this store says:"))
        out.append(Bullets(tuple(section.findings)))
    if section.missing:
        out.append(Paragraph("Not measured here:"))
        out.append(Bullets(tuple(section.missing)))
    out += images
    return out


def _rows_table(report: Report, section: Section) -> Table:
    metrics = [metric for metric in section.metrics
               if any(metric in row.test for row in section.rows)]
    header = ["data", "backbone", "loss", "arm", "kind", "seeds",
              *[f"{metric.upper()} %" for metric in metrics]]
    for metric in metrics:
        header += [f"Δ {metric} pp [95% CI]", f"Improv. {metric}", f"p adj. {metric}",
                   f"verdict {metric}"]
    body = []
    for row in section.rows:
        cells = [report.views[row.label], row.backbone, row.loss, row.label,
                 report.kinds[row.label], str(row.seeds),
                 *[mean_cell(row, metric) for metric in metrics]]
        for metric in metrics:
            comparison = row.comparisons.get(metric)
            cells += [delta_cell(comparison), relative_cell(comparison), p_cell(comparison),
                      "" if comparison is None else comparison.verdict]
        body.append(tuple(cells))
    return Table(tuple(header), tuple(body))


def _contrast_table(section: Section) -> Table:
    header = ("arm", "against", "what", "metric", "users", "Δ pp [95% CI]", "relative [95% CI]",
              "p adj.", "verdict")
    body = []
    for contrast in section.contrasts:
        for metric, comparison in sorted(contrast.comparisons.items()):
            if metric not in section.metrics:
                continue
            body.append((contrast.treated.label, contrast.control.label, contrast.what,
                         metric, str(comparison.users), delta_cell(comparison),
                         relative_cell(comparison), p_cell(comparison), comparison.verdict))
    return Table(header, tuple(body))


def _table_of(rows: list[list[str]]) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    header, *body = rows
    return tuple(header), tuple(tuple(cells) for cells in body)


def _tradeoff_blocks(report: Report, images: list[Image]) -> list[Block]:
    groups = tradeoffs(report.rows)
    if not groups:
        return []
    out: list[Block] = [
        Heading(2, "Accuracy against cost"),
        Paragraph("Per dataset, backbone and loss: each arm's test HR@10 (mean [95% t-interval "
                  "over seeds]) against the device-hours of one training run of its chosen "
                  "configuration (mean over seeds; training epochs only) and its s/epoch. "
                  "`front` marks the Pareto front on the means: no other arm is at least as "
                  "accurate for at most the cost. An arm off the front may still be "
                  "indistinguishable from one on it: read the intervals.")]
    for (dataset, backbone, loss), points in groups.items():
        out.append(Paragraph(f"{dataset}, {backbone}, loss {loss}:"))
        out.append(Table(("arm", "paradigm", "HR@10 % [95% CI]", "training device-h",
                          "s/epoch", "Pareto"), tuple(
            (point.label, point.paradigm, mean_interval(point.metric, point.metric_ci),
             hours_cell(point.device_hours), seconds_cell(point.seconds_per_epoch),
             "front" if point.pareto else "") for point in points)))
    sentences = cost_sentences(report.rows)
    if sentences:
        out += [Paragraph("Each MoRec arm's cost as a multiple of its IDRec arm's, for the "
                          "difference it bought (95% paired-bootstrap CI, verdict after the "
                          "table's correction):"), Bullets(tuple(sentences))]
    return out + images


def _planned_cells(report: Report, row: CompareRow) -> tuple[str, str]:
    """(planned s/epoch with its device, measured / planned) of a row; empty without a plan."""
    planned = report.planned.get(row.label)
    if planned is None or planned.measurement is None:
        return "", ""
    found = planned.measurement
    measured = row.cost.get("seconds_per_epoch")
    ratio = f"{measured / found.seconds_per_epoch:.2f}x" if measured and found.seconds_per_epoch \
        else ""
    return f"{seconds_cell(found.seconds_per_epoch)} ({found.device})", ratio


def _cost_table(report: Report) -> Table:
    from morec_core.results.paper_numbers import PAPER_COST

    def spread(label: str, name: str, cell: Callable[[float | None], str]) -> str:
        """The mean over the selected runs, then [min, max] where the seeds differ."""
        found = report.cost_ranges.get(label, {}).get(name)
        rows = [row for row in report.rows if row.label == label]
        if found is None or not rows:
            return ""
        low, high = found
        mean = cell(rows[0].cost.get(name))
        return mean if low == high else f"{mean} [{cell(low)}, {cell(high)}]"

    body = [(report.views[row.label], row.label, report.kinds[row.label],
             count_cell(row.cost.get("trainable_params")),
             spread(row.label, "seconds_per_epoch", seconds_cell),
             *_planned_cells(report, row),
             spread(row.label, "peak_memory_bytes", memory_cell)) for row in report.rows]
    body += [("paper, " + name.split(", ")[0], "Table 6: " + name.split(", ")[1], "", params,
              f"{epoch} ({gpus})", "", "", memory)
             for name, params, epoch, memory, gpus in PAPER_COST]
    return Table(("data", "arm", "kind", "trainable params", "s/epoch", "planned s/epoch",
                  "measured / planned", "peak memory"), tuple(body))


# --- writers ----------------------------------------------------------------------------------


def to_markdown(blocks: Sequence[Block]) -> str:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Paragraph):
            lines += [block.text, ""]
        elif isinstance(block, Bullets):
            lines += [f"- {item}" for item in block.items] + [""]
        elif isinstance(block, Table):
            lines += [*markdown_table(block.header, block.body), ""]
        else:
            lines += [f"![{block.caption}]({block.path})", ""]
    return "\n".join(lines).rstrip() + "\n"


def to_html(blocks: Sequence[Block]) -> str:
    parts = ["<!doctype html>", "<html><head><meta charset=\"utf-8\">",
             "<title>morec reproduction report</title>",
             "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}"
             "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #bbb;"
             "padding:2px 6px;font-size:90%}img{max-width:100%}</style></head><body>"]
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            parts.append(f"<p>{_code(block.text)}</p>")
        elif isinstance(block, Bullets):
            parts.append("<ul>" + "".join(f"<li>{_code(item)}</li>" for item in block.items)
                         + "</ul>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{html.escape(cell)}</th>" for cell in block.header)
            body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells)
                           + "</tr>" for cells in block.body)
            parts.append(f"<table><tr>{head}</tr>{body}</table>")
        else:
            parts.append(f"<figure><img src=\"{html.escape(block.path)}\" "
                         f"alt=\"{html.escape(block.caption)}\"><figcaption>"
                         f"{html.escape(block.caption)}</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _code(text: str) -> str:
    """Escape, then set `...` spans in <code>."""
    pieces = html.escape(text).split("`")
    return "".join(f"<code>{piece}</code>" if index % 2 else piece
                   for index, piece in enumerate(pieces))
