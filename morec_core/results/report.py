"""`morec report`: a store's answers to the paper's four questions, beside the paper's own.

Every number comes from `compare_rows` (the rows and MoRec-vs-IDRec verdicts of `morec compare
--cold-new`, same settings) or from `contrast_rows` (two-stage vs end to end, pretrained vs from
scratch, fusion vs the modality arm alone). Rows are sorted into questions by their specs, not by
study names, so the report reads any store: a question no row speaks to is listed with the
reason, and every arm of the named groups' studies without all its seeds is listed as pending.
"""

from __future__ import annotations

import fnmatch
import json
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from morec_core.config import RunSpec
from morec_core.data.labels import dataset_label
from morec_core.results.audit import ArmAudit, audit_rows
from morec_core.results.compare import (
    DEFAULT_SETTINGS,
    CompareRow,
    Comparison,
    Settings,
    compare_rows,
    contrast_rows,
)
from morec_core.results.compare_format import fingerprint_lines
from morec_core.results.paper_numbers import PAPER_ANSWERS, QUESTIONS, PaperFigure, figures_of
from morec_core.results.report_findings import conclude, weak_encoder
from morec_core.spec_labels import (
    arm_identity,
    arm_kind,
    data_key,
    data_of_key,
    data_view,
    encoder_identity,
)
from morec_core.store import RunRecord, Store
from morec_core.study.plan import Plan, PlanRow, cost_key
from morec_core.study.studies import Study

SPLITS = ("test", "test_cold", "test_new")


@dataclass(frozen=True, kw_only=True)
class Contrast:
    treated: CompareRow
    control: CompareRow
    comparisons: dict[str, Comparison]
    what: str
    """e.g. "two-stage vs end to end"."""


@dataclass(kw_only=True)
class Section:
    question: str
    title: str
    paper_answer: str
    paper_figures: list[PaperFigure]
    rows: list[CompareRow] = field(default_factory=list)
    contrasts: list[Contrast] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    """What this store says, one line each, from the verdicts."""
    conclusions: list[str] = field(default_factory=list)
    """Each of the paper's claims for this question: the store's measurement with its interval
    and whether it agrees (morec_core/results/report_findings.py)."""
    missing: list[str] = field(default_factory=list)
    """Why part of the question has no measurement here."""
    metrics: tuple[str, ...] = ("hr@10", "ndcg@10")


@dataclass(kw_only=True)
class Report:
    command: str
    store_url: str
    generated: str
    settings: Settings
    sections: list[Section]
    rows: list[CompareRow]
    kinds: dict[str, str]
    """Row label -> arm kind (IDRec, E2E, TS, TS-DNN, top-k, scratch, fusion, adapter...)."""
    views: dict[str, str]
    """Row label -> dataset view (source, warm-K, user sample)."""
    machines: list[str]
    protocol: list[str]
    pending: list[str]
    cost_ranges: dict[str, dict[str, tuple[float, float]]]
    """Row label -> cost field -> (min, max) over its selected runs."""
    notes: list[str] = field(default_factory=list)
    """The caller's lines for the header (machines, sampling)."""
    unfinished: list[str] = field(default_factory=list)
    """Arms with runs but none completed: what happened to their trials."""
    audits: list[ArmAudit] = field(default_factory=list)
    """The tuning audit of each row (morec_core/results/audit.py)."""
    planned: dict[str, PlanRow] = field(default_factory=dict)
    """Row label -> its configuration's row in the study's last `morec plan`."""


def build_report(store: Store, studies: Sequence[str], definitions: Sequence[Study], *,
                 settings: Settings = DEFAULT_SETTINGS, command: str = "",
                 notes: Sequence[str] = (), plans: Mapping[str, Plan] | None = None,
                 pending_reasons: Sequence[tuple[str, str]] = ()) -> Report:
    """plans: study name -> its last `morec plan` (morec_core.study.plan.load_plan), for the cost
    table's planned against measured. pending_reasons: (study name pattern, why), the author's
    word on why the matching studies' arms are pending (a GPU never lent, a budget spent); the
    first matching pattern is the one used."""
    every_row = compare_rows(store, studies, SPLITS, settings)
    rows = [row for row in every_row if row.best_run]
    # Arms none of whose runs completed (every trial collapsed, failed or was pruned): no
    # numbers to show, but what happened to them is a finding.
    unfinished = [f"{row.label} ({row.loss}): no completed run; "
                  + ", ".join(f"{count} {status}" for status, count in sorted(row.outcomes.items()))
                  + (f" ({row.notes[0]})" if row.notes else "")
                  for row in every_row if not row.best_run]
    runs = {row.label: [store.run(run_id) for run_id in row.run_ids] for row in rows}
    specs = {row.label: runs[row.label][0].run_spec for row in rows}
    kinds = {label: arm_kind(spec) for label, spec in specs.items()}
    every_run = {run.id: run for name in studies for run in store.runs(study=name)}
    audits = audit_rows(rows, every_run, {definition.name: definition
                                          for definition in definitions})
    sections = [_regular(rows, kinds, specs), _encoders(store, rows, kinds, specs, settings),
                _two_stage(store, rows, kinds, specs, settings),
                _challenges(store, rows, kinds, specs, settings)]
    pending = _pending(rows, definitions, pending_reasons)
    for section in sections:
        section.conclusions = conclude(section.question, rows, kinds, section.contrasts, pending)
    return Report(
        command=command, store_url=store.url, settings=settings, sections=sections, rows=rows,
        generated=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), kinds=kinds,
        views={label: data_view(spec) for label, spec in specs.items()},
        machines=_machines([run for found in runs.values() for run in found]),
        protocol=_protocol(rows, specs), pending=pending,
        unfinished=unfinished, notes=list(notes),
        cost_ranges={label: _ranges(found) for label, found in runs.items()},
        audits=audits, planned=_planned(rows, specs, plans or {}))


def _planned(rows: Sequence[CompareRow], specs: Mapping[str, RunSpec],
             plans: Mapping[str, Plan]) -> dict[str, PlanRow]:
    """Each row's configuration in its study's plan: the same arm and cost key (the settings
    that decide a step's cost), or the arm's only plan row."""
    found = {}
    for row in rows:
        plan = plans.get(row.study)
        if plan is None:
            continue
        arm = row.arm.split(" [")[0]
        candidates = [planned for planned in plan.rows if planned.arm == arm]
        key = cost_key(specs[row.label])
        match = [planned for planned in candidates if planned.cost_key == key]
        if match or len(candidates) == 1:
            found[row.label] = (match or candidates)[0]
    return found


def _section(question: str) -> Section:
    return Section(question=question, title=QUESTIONS[question],
                   paper_answer=PAPER_ANSWERS[question], paper_figures=figures_of(question))


def _verdict_counts(rows: Sequence[CompareRow], metric: str) -> str:
    counts = Counter(row.comparisons[metric].verdict for row in rows if metric in row.comparisons)
    return ", ".join(f"{count} {verdict}" for verdict, count in sorted(counts.items()))


def _per_loss_findings(rows: Sequence[CompareRow], metric: str = "hr@10") -> list[str]:
    """Per data view, backbone and loss: how the MoRec arms' verdicts against IDRec fell (the loss
    changes the size of MoRec's gain, and a sample or a warm-K view is another question, so
    neither is counted together with another)."""
    views: dict[tuple[str, str, str], list[CompareRow]] = {}
    for row in rows:
        if row.paradigm == "MoRec":
            views.setdefault((row.data_key, row.backbone, row.loss), []).append(row)
    lines = []
    for (key, backbone, loss), morec in sorted(views.items()):
        counted = _verdict_counts(morec, metric)
        if counted:
            lines.append(f"{dataset_label(data_of_key(key))}, {backbone}, loss {loss}: {counted} "
                         f"({metric.upper()}, {len(morec)} MoRec arm"
                         f"{'s' * (len(morec) > 1)} against IDRec)")
    return lines


def _loss_effect(rows: Sequence[CompareRow], metric: str = "hr@10") -> list[str]:
    """For each MoRec arm measured under several losses: its Improv. over IDRec under each (the
    size of MoRec's gain moves with the loss)."""
    by_arm: dict[tuple[str, str, str], list[CompareRow]] = {}
    for row in rows:
        if metric in row.comparisons:
            # One dataset view: a warm-K view or a user sample is another data section.
            by_arm.setdefault((row.arm, row.data_key, row.backbone), []).append(row)
    lines = []
    for (arm, key, backbone), found in sorted(by_arm.items()):
        dataset = dataset_label(data_of_key(key))
        if len({row.loss for row in found}) < 2:
            continue
        parts = []
        for row in sorted(found, key=lambda row: row.loss):
            comparison = row.comparisons[metric]
            if comparison.relative is None or comparison.relative_ci is None:
                continue
            low, high = comparison.relative_ci
            parts.append(f"{100 * comparison.relative:+.1f}% [{100 * low:+.1f}%, "
                         f"{100 * high:+.1f}%] under {row.loss} ({comparison.verdict})")
        if len(parts) > 1:
            lines.append(f"{arm} ({dataset}, {backbone}) against IDRec, {metric.upper()}: "
                         + "; ".join(parts))
    return lines


def _regular(rows: list[CompareRow], kinds: dict[str, str],
             specs: dict[str, RunSpec]) -> Section:
    section = _section("Q(i)")
    section.rows = [row for row in rows if kinds[row.label] in ("IDRec", "E2E")]
    if not any(kinds[row.label] == "E2E" and not weak_encoder(row) for row in section.rows):
        section.missing.append("no end-to-end MoRec arm of a strong pretrained encoder (every "
                               "layer trained; static word vectors do not count) has a "
                               "completed run in this store")
    if not any(row.backbone == "dssm" for row in section.rows):
        section.missing.append("no DSSM run: the DSSM half of Table 2 is not measured")
    if not any("warm" in data_view(specs[row.label]) for row in section.rows):
        section.missing.append("no warm-K view (data.warm_min_item_interactions): Table 3 is "
                               "not measured")
    section.findings = _per_loss_findings(section.rows) + _loss_effect(section.rows)
    return section


def _encoders(store: Store, rows: list[CompareRow], kinds: dict[str, str],
              specs: dict[str, RunSpec], settings: Settings) -> Section:
    section = _section("Q(ii)")
    section.rows = [row for row in rows if row.paradigm == "MoRec"
                    and kinds[row.label] not in ("fusion",)]
    by_identity = {arm_identity(specs[row.label], without=("pretrained",)): row for row in rows
                   if specs[row.label].encoder.pretrained}
    pairs = [(by_identity[key], row) for row in rows
             if not specs[row.label].encoder.pretrained
             and (key := arm_identity(specs[row.label], without=("pretrained",))) in by_identity]
    section.contrasts = _contrasts(store, pairs, settings, "pretrained vs random weights")
    models = {specs[row.label].encoder.model for row in section.rows}
    if len(models) < 2:
        section.missing.append("fewer than two pretrained encoders measured: no ranking of "
                               "encoders")
    if not pairs:
        section.missing.append("no arm trained from random weights next to its pretrained "
                               "twin (encoder.pretrained=false): Table 4 is not measured")
    for contrast in section.contrasts:
        if "hr@10" in contrast.comparisons:
            section.findings.append(f"{contrast.treated.label} against "
                                    f"{contrast.control.label}: "
                                    f"{contrast.comparisons['hr@10'].verdict} (HR@10)")
    return section


def _two_stage(store: Store, rows: list[CompareRow], kinds: dict[str, str],
               specs: dict[str, RunSpec], settings: Settings) -> Section:
    section = _section("Q(iii)")
    cheaper = ("TS", "TS-DNN", "top-k", "frozen", "adapter")
    section.rows = [row for row in rows if kinds[row.label] in (*cheaper, "E2E", "IDRec")]
    end_to_end = {encoder_identity(specs[row.label]): row for row in rows
                  if kinds[row.label] == "E2E"}
    pairs = [(row, end_to_end[key]) for row in rows if kinds[row.label] in cheaper
             and (key := encoder_identity(specs[row.label])) in end_to_end]
    # TS-DNN against TS of the same encoder (Table 5: dense layers close part of the gap).
    plain = {arm_identity(specs[row.label], without=("mlp_layers",)): row for row in rows
             if kinds[row.label] == "TS"}
    deeper = [(row, plain[key]) for row in rows if kinds[row.label] == "TS-DNN"
              and (key := arm_identity(specs[row.label], without=("mlp_layers",))) in plain]
    section.contrasts = (_contrasts(store, pairs, settings, "against end to end")
                         + _contrasts(store, deeper, settings, "TS-DNN against TS"))
    if not any(kinds[row.label] in ("TS", "TS-DNN") for row in rows):
        section.missing.append("no two-stage arm (encoder.mode=two_stage) has completed runs")
    if not pairs:
        section.missing.append("no end-to-end run of the same encoder, data and loss to set the "
                               "two-stage arms against: only their verdicts against IDRec")
    cheaper_rows = [row for row in section.rows if kinds[row.label] != "E2E"]
    section.findings = _per_loss_findings(cheaper_rows) + _loss_effect(cheaper_rows)
    return section


def _challenges(store: Store, rows: list[CompareRow], kinds: dict[str, str],
                specs: dict[str, RunSpec], settings: Settings) -> Section:
    section = _section("Q(iv)")
    section.metrics = ("cold hr@10", "new hr@10", "hr@10")
    section.rows = [row for row in rows if kinds[row.label] in ("IDRec", "fusion")
                    or any(name.startswith(("cold", "new")) for name in row.test)]
    alone = {arm_identity(specs[row.label], without=("fusion", "fusion_mlp_layers")): row
             for row in rows if kinds[row.label] != "fusion" and row.paradigm == "MoRec"}
    pairs = [(row, alone[key]) for row in rows if kinds[row.label] == "fusion"
             and (key := arm_identity(specs[row.label],
                                  without=("fusion", "fusion_mlp_layers"))) in alone]
    section.contrasts = _contrasts(store, pairs, settings, "against the modality arm alone")
    if not any(name.startswith("cold") for row in rows for name in row.test):
        section.missing.append("no test user's target is a cold item in these data views")
    if not any(kinds[row.label] == "fusion" for row in rows):
        section.missing.append("no ID + modality fusion arm (encoder.fusion): Table 7 is not "
                               "measured")
    for metric in ("cold hr@10", "new hr@10"):
        counted = _verdict_counts([row for row in section.rows if row.paradigm == "MoRec"],
                                  metric)
        if counted:
            section.findings.append(f"{metric.upper()} against IDRec: {counted}")
    fusion = _verdict_counts([row for row in rows if kinds[row.label] == "fusion"], "hr@10")
    if fusion:
        section.findings.append(f"fusion arms against IDRec: {fusion} (HR@10)")
    return section


def _contrasts(store: Store, pairs: list[tuple[CompareRow, CompareRow]], settings: Settings,
               what: str) -> list[Contrast]:
    found = contrast_rows(store, pairs, SPLITS, settings)
    return [Contrast(treated=treated, control=control, comparisons=comparisons, what=what)
            for (treated, control), comparisons in zip(pairs, found, strict=True)]


def _machines(runs: list[RunRecord]) -> list[str]:
    counts = Counter((run.host, run.device) for run in runs)
    return [f"{host} ({device or 'device not recorded'}): {count} selected run"
            f"{'s' * (count > 1)}" for (host, device), count in sorted(counts.items())]


def _protocol(rows: list[CompareRow], specs: dict[str, RunSpec]) -> list[str]:
    lines = []
    for protocol in sorted({row.protocol for row in rows}):
        lines.append(f"ranking: {protocol}")
    for fields in sorted({json.dumps(row.protocol_fields, sort_keys=True) for row in rows}):
        values = json.loads(fields)
        lines.append(f"HR@{values['k']} / NDCG@{values['k']}, history {values['history']}, "
                     f"ties ranked {values['ties']}")
    for spec in {data_key(spec): spec for spec in specs.values()}.values():
        data = spec.data
        # The dataset's folder name, not a path of the machine that ran it.
        folder = PurePath(data.path).name if data.path else "packaged"
        lines.append(f"data {data_view(spec)}: folder {folder}; users with >= "
                     f"{data.min_user_interactions} interactions, latest "
                     f"{data.max_seq_len} kept, split {data.split}")
    lines += fingerprint_lines(rows)
    selection = sorted({spec.eval.selection_metric for spec in specs.values()})
    blocks = sorted({f"{spec.backbone.name} {spec.backbone.block}" for spec in specs.values()})
    lines.append(f"selection on validation {', '.join(selection)}; backbones: {', '.join(blocks)}")
    return lines


def _pending(rows: list[CompareRow], definitions: Sequence[Study],
             reasons: Sequence[tuple[str, str]] = ()) -> list[str]:
    seeds = {(row.study, row.arm.split(" [")[0]): row.seeds for row in rows}
    lines = []
    for study in definitions:
        wanted = len(study.seed_values)
        why = next((f" ({reason})" for pattern, reason in reasons
                    if fnmatch.fnmatchcase(study.name, pattern)), "")
        if not any(seeds.get((study.name, arm.name)) for arm in study.arms):
            lines.append(f"{study.name} ({study.description}): not run; {len(study.arms)} arms "
                         f"x {wanted} seeds: {', '.join(arm.name for arm in study.arms)}{why}")
            continue
        for arm in study.arms:
            done = seeds.get((study.name, arm.name), 0)
            if done < wanted:
                kind = arm_kind(study.spec_of(arm, _first_point(study, arm),
                                              study.seed_values[0]))
                lines.append(f"{study.name} / {arm.name} ({kind}): {done} of {wanted} seeds "
                             f"completed{why}")
    return lines


def pending_reason(text: str) -> tuple[str, str]:
    """`STUDY_PATTERN=WHY` (`morec report --pending-reason`) -> (pattern, why); ValueError
    naming what is wrong."""
    pattern, separator, why = text.partition("=")
    if not separator or not pattern.strip() or not why.strip():
        raise ValueError(f"--pending-reason {text!r}: expected STUDY_PATTERN=WHY, e.g. "
                         "'gpu_*=no GPU was lent'")
    return pattern.strip(), why.strip()


def _first_point(study: Study, arm: Any) -> dict[str, object]:
    return {name: values[0] for name, values in study.grid_of(arm).items()}


def _ranges(runs: list[RunRecord]) -> dict[str, tuple[float, float]]:
    out = {}
    for name in ("seconds_per_epoch", "peak_memory_bytes", "trainable_params"):
        values = [float(value) for run in runs if (value := getattr(run, name)) is not None]
        if values:
            out[name] = (min(values), max(values))
    return out
