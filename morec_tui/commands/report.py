"""`morec report`: the paper's four questions answered from a store, as Markdown and HTML."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from morec_tui.commands.study import STORE_HELP
from morec_tui.console import fail, store_for_reading


def report_command(
    group: Annotated[list[str] | None, typer.Option(
        help="A group of studies to report (repeatable), e.g. reproduction_cpu.")] = None,
    study: Annotated[list[str] | None, typer.Option(
        help="A study to report (repeatable): a study module's, or any study of the store "
             "(such as one `morec tune --name NAME` made).")] = None,
    output: Annotated[Path, typer.Option(
        help="The Markdown file to write; the HTML file and the figures' folder "
             "(<name>_files/) go beside it.")] = Path("reports/reproduction.md"),
    html: Annotated[bool, typer.Option("--html/--no-html",
                                       help="Also write <name>.html.")] = True,
    figures: Annotated[bool, typer.Option("--figures/--no-figures",
                                          help="Draw the bar charts and curves (PNG).")] = True,
    correction: Annotated[str, typer.Option(help="holm | bh | none, as `morec compare`.")] = "holm",
    test: Annotated[str, typer.Option(help="randomization | t, as `morec compare`.")] = "randomization",
    alpha: Annotated[float, typer.Option(help="Significance level of the verdicts.")] = 0.05,
    note: Annotated[list[str] | None, typer.Option(
        help="A line for the report's header (repeatable), e.g. which machine ran which part "
             "and why the data were sampled.")] = None,
    pending_reason: Annotated[list[str] | None, typer.Option(
        help="STUDY_PATTERN=WHY (repeatable): why the pending arms of the studies that match the "
             "shell-style pattern are pending, printed beside each, e.g. 'gpu_*=no GPU was "
             "lent'; the first matching pattern is used.")] = None,
    storage: Annotated[str | None, typer.Option(help=STORE_HELP)] = None,
) -> None:
    """Write a report with one section per question of the paper (regular and warm settings;
    encoders and pretraining; two-stage vs end to end; cold and new items, fusion, cost): the
    paper's numbers (table and row cited) beside the store's, with 95% intervals and the
    verdicts of `morec compare --cold-new`, the cost per arm, the protocol, the machines the runs
    ran on, and every arm of the named studies still pending; the cost per arm beside the
    study's last `morec plan` (<runs>/plans/<study>.json), accuracy against cost with the
    Pareto front, each MoRec arm's cost as a multiple of IDRec's for its Δ, and the tuning
    audit."""
    from morec_core import paths
    from morec_core.config import ConfigError
    from morec_core.results.compare import Settings
    from morec_core.results.report import build_report
    from morec_core.results.report import pending_reason as parse_reason
    from morec_core.results.report_files import write_report
    from morec_core.safe_text import terminal_text
    from morec_core.store.damage import damage_lines
    from morec_core.study.plan import load_plan, plan_path
    from morec_core.study.studies import find_study, group_studies

    if output.suffix != ".md":
        fail(f"--output {output}: expected a .md file (the .html goes beside it)")
    try:
        settings = Settings(alpha=alpha, correction=correction, test=test)
    except ValueError as error:
        fail(str(error))
    if not group and not study:
        fail("name what to report: --group NAME or --study NAME")
    try:
        reasons = [parse_reason(text) for text in pending_reason or ()]
    except ValueError as error:
        fail(str(error))
    store = store_for_reading(storage)
    stored = {record.name for record in store.studies()}
    names: list[str] = []
    try:
        definitions = [definition for name in group or () for definition in group_studies(name)]
        names += [definition.name for definition in definitions]
        for name in study or ():
            try:
                definitions.append(find_study(name))
            except ConfigError as error:
                # A study of the store without a module: `morec tune --name NAME` made it.
                # Its runs are reported; without a definition no arm can be listed as pending.
                if name not in stored:
                    raise ConfigError(f"{error}; the store {store.url} has no study {name!r} "
                                      f"either") from error
            names.append(name)
    except ConfigError as error:
        fail(str(error))
    # The command that regenerates the file, from the options (not sys.argv: the same call
    # from a script or a test must print the same line).
    arguments = [*[part for name in group or () for part in ("--group", name)],
                 *[part for name in study or () for part in ("--study", name)],
                 *(["--storage", storage] if storage else []), "--output", str(output),
                 *([] if html else ["--no-html"]), *([] if figures else ["--no-figures"]),
                 *([] if correction == "holm" else ["--correction", correction]),
                 *([] if test == "randomization" else ["--test", test]),
                 *([] if alpha == 0.05 else ["--alpha", str(alpha)]),
                 *[part for line in note or () for part in ("--note", line)],
                 *[part for text in pending_reason or ()
                   for part in ("--pending-reason", text)]]
    plans = {name: plan for name in dict.fromkeys(names)
             if (plan := load_plan(plan_path(paths.runs_dir(), name)))}
    report = build_report(store, list(dict.fromkeys(names)), definitions,
                          settings=settings, command=shlex.join(["morec", "report", *arguments]),
                          notes=tuple(note or ()), plans=plans, pending_reasons=reasons)
    for line in damage_lines(store.damaged):
        typer.echo(line, err=True)
    if not report.rows:
        fail(f"no completed runs of {', '.join(map(terminal_text, dict.fromkeys(names)))} in "
             f"{store.url}", code=1)
    written = write_report(report, store, output, html=html, figures=figures)
    typer.echo(f"report: {', '.join(map(str, written))} ({len(report.rows)} arms, "
               f"{len(report.pending)} pending)", err=True)
