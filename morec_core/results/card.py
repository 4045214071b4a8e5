"""Best-configuration cards (`morec compare --card FOLDER`): per arm, one Markdown and one JSON
file for a paper's appendix: the chosen settings beside the grid they were chosen from, every
other setting, the test metrics with their intervals, the budget, the data fingerprint, the
protocol and the tuning audit's warnings. Each file is written whole (a temporary name, then a
rename)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from morec_core.data.atomic import atomic_file
from morec_core.data.fingerprint import NO_FINGERPRINT, NO_FINGERPRINT_WHY
from morec_core.results.audit import ArmAudit, flatten
from morec_core.results.compare import CompareRow
from morec_core.results.formatting import markdown_table, mean_interval
from morec_core.store import RunRecord


def card_of(row: CompareRow, audit: ArmAudit, runs: Mapping[str, RunRecord]) -> dict[str, Any]:
    """Everything the card says, as plain data (the JSON file)."""
    selected = [runs[run_id] for run_id in row.run_ids if run_id in runs]
    spec = flatten(selected[0].run_spec.to_dict()) if selected else {}
    data = row.data
    return {
        "arm": row.label, "paradigm": row.paradigm, "dataset": row.dataset,
        "backbone": row.backbone, "loss": row.loss,
        "selected_on": audit.selection, "runs": list(row.run_ids),
        "seeds": sorted(run.seed for run in selected),
        "test": {metric: {"mean": value, "ci95": row.test_ci.get(metric)}
                 for metric, value in row.test.items()},
        "valid": row.valid,
        "chosen": audit.chosen, "grid": {key: list(values) for key, values in audit.grid.items()},
        "grid_from": audit.grid_from,
        "settings": {key: value for key, value in spec.items() if key != "train.seed"},
        "budget": {"grid_size": audit.grid_size, "configurations_run": audit.configurations,
                   "trials": audit.trials, "outcomes": row.outcomes,
                   "device_hours_spent": audit.device_hours,
                   "training_hours_per_run": (None if row.training_seconds is None
                                              else row.training_seconds / 3600)},
        "data_fingerprint": None if data is None else asdict(data),
        "protocol": row.protocol, "protocol_fields": row.protocol_fields,
        "audit_warnings": list(audit.warnings),
    }


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(map(_text, value))
    return str(value)


def card_markdown(card: dict[str, Any]) -> str:
    lines = [f"# {card['arm']}: best configuration", "",
             f"{card['paradigm']} on {card['dataset']}, {card['backbone']}, loss {card['loss']}. "
             f"Selected on {card['selected_on']} among {card['budget']['configurations_run']} "
             f"configurations (grid of {card['budget']['grid_size']}, from the "
             f"{card['grid_from']}); the test split at the best validation epoch, mean over "
             f"{len(card['seeds'])} seed(s) ({_text(card['seeds'])}) [95% t-interval over seeds].",
             ""]
    lines += markdown_table(("metric", "test % [95% CI]"), [
        (metric, mean_interval(found["mean"],
                               tuple(found["ci95"]) if found["ci95"] else None))
        for metric, found in card["test"].items()])
    lines += ["", "## Chosen settings", ""]
    lines += markdown_table(("setting", "chosen", "grid"), [
        (key, _text(card["chosen"].get(key)), _text(values))
        for key, values in card["grid"].items()] or [("(nothing searched)", "", "")])
    lines += ["", "## Every setting", ""]
    lines += [f"- `{key} = {_text(value)}`" for key, value in sorted(card["settings"].items())
              if key not in card["grid"]]
    budget = card["budget"]
    outcomes = ", ".join(f"{count} {status}" for status, count in sorted(budget["outcomes"].items()))
    per_run = budget["training_hours_per_run"]
    lines += ["", "## Budget", "", f"- grid: {budget['grid_size']} configurations",
              f"- configurations run: {budget['configurations_run']}; trials: {budget['trials']} "
              f"({outcomes})",
              f"- device-hours spent training, every trial: {budget['device_hours_spent']:.3g}",
              "- one training run of the chosen configuration: "
              + ("not recorded" if per_run is None else f"{per_run:.3g} device-hours")]
    data = card["data_fingerprint"]
    lines += ["", "## Data", ""]
    if data is None:
        lines.append(f"- {NO_FINGERPRINT}: {NO_FINGERPRINT_WHY}")
    else:
        lines += [f"- fingerprint {data['digest']} ({data['dataset']}, item content: "
                  f"{data['modality']})",
                  f"- {data['users']:,} users, {data['items']:,} items, "
                  f"{data['interactions']:,} interactions",
                  *[f"- {part}: {digest}" for part, digest in data["parts"].items()]]
    lines += ["", "## Protocol", "", f"- {card['protocol'] or 'not recorded'}",
              *[f"- {key}: {value}" for key, value in card["protocol_fields"].items()],
              "", "## Tuning audit", ""]
    lines += [f"- {warning}" for warning in card["audit_warnings"]] or ["- no warning"]
    return "\n".join(lines) + "\n"


def file_stem(label: str) -> str:
    """study/arm -> a file name: study_arm, anything but letters, digits, . _ - replaced."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("._") or "arm"


def write_cards(folder: Path, rows: Sequence[CompareRow], audits: Sequence[ArmAudit],
                runs: Mapping[str, RunRecord]) -> list[Path]:
    """<folder>/<study_arm>.md and .json per arm; returns the paths written."""
    written: list[Path] = []
    stems: set[str] = set()
    for row, audit in zip(rows, audits, strict=True):
        stem = file_stem(row.label)
        while stem in stems:  # two labels that differ only in replaced characters
            stem += "_"
        stems.add(stem)
        card = card_of(row, audit, runs)
        for suffix, text in ((".md", card_markdown(card)),
                             (".json", json.dumps(card, indent=2, default=str) + "\n")):
            path = folder / f"{stem}{suffix}"
            with atomic_file(path) as temporary:
                temporary.write_text(text, "utf-8")
            written.append(path)
    return written
