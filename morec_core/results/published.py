"""Published rows: numbers from papers and leaderboards, read from a CSV or TOML file, and each
`morec compare` arm labelled against them: `replicated`, `below`, `above`, or `not comparable:
<what differs>`.

A row names what was measured (dataset, arm, metric, value in % as printed, source) and what it
was measured on: a data fingerprint (`morec data fingerprint`) or the counts (users, items,
interactions), and the protocol as `key=value` pairs (k, history, ties, split, ranking). An arm
is labelled against the rows of its arm name (and study, backbone, loss where a row gives them)
whose dataset is the arm's; a row is comparable when its data and protocol match the arm's, and
then `replicated` when morec's mean lies within TOLERANCE of the published value.

TOML: `[[row]]` tables, with an optional `[defaults]` table whose keys every row starts from.
CSV: a header line with the same names. Unknown names, missing required ones and wrong types are
errors naming the file, the row and the name. The paper's own numbers are one such file
(`published_rows/yuan_sigir2023.toml`, `--published paper`).
"""

from __future__ import annotations

import csv
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from morec_core.data.fingerprint import NO_FINGERPRINT, NO_FINGERPRINT_WHY
from morec_core.results.compare import CompareRow
from morec_core.spec_labels import data_of_key

TOLERANCE = 0.05
"""Relative: morec's mean within +-5% of the published value is `replicated`. Relative, since
HR@10 differs by an order of magnitude between datasets (MIND 17.7%, Bili 3%): an absolute band
would be loose on one and strict on the other. 5% is the size of the paper's own headline gains
(+5.48% HR@10 on MIND): a replication off by more could flip the paper's reading."""
COUNT_TOLERANCE = 0.01
"""Relative, for users, items and interactions: papers print counts rounded (630K users)."""

PACKAGED = {"paper": Path(__file__).with_name("published_rows") / "yuan_sigir2023.toml"}
"""Short names of the files that come with morec (`--published paper`)."""

PROTOCOL_KEYS = ("k", "history", "ties", "split", "ranking")
REQUIRED = ("source", "dataset", "arm", "metric", "value")
TEXT_FIELDS = ("source", "dataset", "arm", "metric", "study", "backbone", "loss", "fingerprint",
               "protocol", "column", "question", "note")
COUNT_FIELDS = ("users", "items", "interactions")
KNOWN = (*TEXT_FIELDS, "value", *COUNT_FIELDS)
METRIC = re.compile(r"(cold |new )?(hr|ndcg)@\d+")


class PublishedError(ValueError):
    """A published-rows file that cannot be read; the message names the file, row and field."""


@dataclass(frozen=True, kw_only=True)
class PublishedRow:
    source: str
    """Where the number is printed, e.g. "Yuan et al., SIGIR 2023, Table 2, MIND, SASRec"."""
    dataset: str
    arm: str
    """The morec arm it stands for (a study's arm name, e.g. IDRec)."""
    metric: str
    """As morec names it: hr@10, ndcg@10, cold hr@10, new hr@10."""
    value: float
    """In %, as printed."""
    where: str
    """file:row, for messages."""
    study: str = ""
    backbone: str = ""
    loss: str = ""
    fingerprint: str = ""
    """A data fingerprint's digest (or its first 8+ hex digits)."""
    counts: dict[str, int] = field(default_factory=dict)
    """users / items / interactions, those given."""
    protocol: dict[str, str] = field(default_factory=dict)
    column: str = ""
    """The source table's column (e.g. BERT-base); the arm when empty."""
    question: str = ""
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class PublishedLabel:
    arm: str
    """study/arm."""
    metric: str
    measured: float | None
    """morec's mean in %; None when the arm has no such metric."""
    measured_ci: tuple[float, float] | None
    published: PublishedRow
    label: str
    """replicated (...), below (...), above (...) or not comparable: <what differs>."""


def resolve(name_or_path: str) -> Path:
    """A packaged short name (paper) or a file path."""
    return PACKAGED.get(name_or_path, Path(name_or_path).expanduser())


def read_published(path: Path) -> list[PublishedRow]:
    """The rows of a .toml or .csv file; PublishedError naming the file and row otherwise."""
    if not path.is_file():
        raise PublishedError(f"{path}: no such file")
    if path.suffix == ".toml":
        try:
            document = tomllib.loads(path.read_text("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise PublishedError(f"{path}: not TOML ({error})") from None
        unknown = sorted(set(document) - {"row", "defaults"})
        if unknown:
            raise PublishedError(f"{path}: unknown table {unknown[0]!r}; expected [[row]] and "
                                 "an optional [defaults]")
        defaults = document.get("defaults", {})
        rows = document.get("row", [])
        if not isinstance(defaults, dict) or not isinstance(rows, list):
            raise PublishedError(f"{path}: expected [[row]] tables and one [defaults] table")
        return [_row({**defaults, **raw}, f"{path}: row {index}")
                for index, raw in enumerate(rows, start=1)]
    if path.suffix == ".csv":
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                return [_row({key: value for key, value in raw.items() if value not in ("", None)},
                             f"{path}: line {reader.line_num}", from_text=True)
                        for raw in reader]
        except UnicodeDecodeError as error:
            raise PublishedError(f"{path}: not UTF-8 text ({error.reason})") from None
    raise PublishedError(f"{path}: expected a .toml or .csv file")


def _row(raw: Mapping[str, Any], where: str, *, from_text: bool = False) -> PublishedRow:
    if None in raw:  # csv: a line with more cells than the header
        raise PublishedError(f"{where}: more cells than the header names")
    unknown = sorted(set(raw) - set(KNOWN))
    if unknown:
        raise PublishedError(f"{where}: unknown field {unknown[0]!r}; known: {', '.join(KNOWN)}")
    missing = [name for name in REQUIRED if name not in raw]
    if missing:
        raise PublishedError(f"{where}: missing field {missing[0]!r}")
    for name in TEXT_FIELDS:
        if name in raw and not isinstance(raw[name], str):
            raise PublishedError(f"{where}: {name} must be text, got {raw[name]!r}")
    value = _number(raw["value"], where, "value", from_text)
    if not math.isfinite(value) or value < 0:
        raise PublishedError(f"{where}: value must be a finite number >= 0 (in %), got {value}")
    metric = raw["metric"].strip().lower()
    if not METRIC.fullmatch(metric):
        raise PublishedError(f"{where}: metric {raw['metric']!r}: expected hr@K or ndcg@K "
                             "(optionally prefixed cold or new)")
    counts = {}
    for name in COUNT_FIELDS:
        if name in raw:
            number = _number(raw[name], where, name, from_text)
            if number != int(number) or number < 0:
                raise PublishedError(f"{where}: {name} must be a whole number >= 0")
            counts[name] = int(number)
    return PublishedRow(
        source=raw["source"], dataset=raw["dataset"], arm=raw["arm"], metric=metric,
        value=value, where=where, study=raw.get("study", ""), backbone=raw.get("backbone", ""),
        loss=raw.get("loss", ""), fingerprint=raw.get("fingerprint", "").strip().lower(),
        counts=counts, protocol=_protocol(raw.get("protocol", ""), where),
        column=raw.get("column", ""), question=raw.get("question", ""),
        note=raw.get("note", ""))


def _number(value: Any, where: str, name: str, from_text: bool) -> float:
    if isinstance(value, bool):
        raise PublishedError(f"{where}: {name} must be a number, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if from_text and isinstance(value, str):
        try:
            return float(value.replace(",", ""))
        except ValueError:
            pass
    raise PublishedError(f"{where}: {name} must be a number, got {value!r}")


def _protocol(text: str, where: str) -> dict[str, str]:
    """"k=10, split=leave_one_out" -> {"k": "10", "split": "leave_one_out"}."""
    found = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        key, equals, value = part.partition("=")
        key = key.strip()
        if not equals or key not in PROTOCOL_KEYS:
            raise PublishedError(f"{where}: protocol {part!r}: expected key=value with key one "
                                 f"of {', '.join(PROTOCOL_KEYS)}")
        found[key] = value.strip()
    return found


# --- labels -----------------------------------------------------------------------------------


def _names(row: CompareRow) -> set[str]:
    """The names a published dataset may give this row's data: its raw folder's name (the
    label's first word: microlens-50k), its reader (mind) and the prepared folder's name, with
    "/warm-K" appended on a warm-K view (the paper's "MIND/warm-20" is not its "MIND")."""
    data = data_of_key(row.data_key) if row.data_key else None
    fingerprint = row.data
    bases = {row.dataset.split(" (")[0], data.source if data is not None else "",
             fingerprint.dataset if fingerprint is not None else ""}
    warm = data.warm_min_item_interactions if data is not None else 0
    suffix = f"/warm-{warm}" if warm else ""
    return {f"{base}{suffix}".lower() for base in bases if base}


def _matches(row: CompareRow, published: PublishedRow) -> bool:
    return (published.arm.lower() == row.arm.split(" [")[0].lower()
            and (not published.study or published.study == row.study)
            and (not published.backbone or published.backbone == row.backbone)
            and (not published.loss or published.loss == row.loss)
            and published.dataset.lower() in _names(row))


def row_protocol(row: CompareRow, metric: str) -> dict[str, str]:
    """The arm's protocol in the published rows' terms."""
    return {"k": metric.rsplit("@", 1)[1], "history": row.protocol_fields.get("history", ""),
            "ties": row.protocol_fields.get("ties", ""),
            "split": data_of_key(row.data_key or "{}").split, "ranking": "full"}


def _not_comparable(row: CompareRow, published: PublishedRow) -> str:
    """Why the two cannot be set side by side, or ''."""
    ours = row_protocol(row, published.metric)
    differing = [f"{key} {value} vs {ours[key]}" for key, value in published.protocol.items()
                 if value.lower() != ours[key].lower()]
    if differing:
        return f"protocol ({', '.join(differing)})"
    data = row.data
    if published.fingerprint:
        if data is None:
            return "no data fingerprint recorded for this arm's runs"
        if not data.digest.startswith(published.fingerprint):
            return f"data fingerprint {published.fingerprint[:8]} vs {data.short}"
        return ""
    if not published.counts:
        return "the published row gives neither counts nor a data fingerprint"
    if data is None:
        return f"counts unknown: {NO_FINGERPRINT}, {NO_FINGERPRINT_WHY}"
    ours_counts = {"users": data.users, "items": data.items, "interactions": data.interactions}
    off = [f"{name} {value:,} vs {ours_counts[name]:,}" for name, value in
           published.counts.items()
           if abs(ours_counts[name] - value) > COUNT_TOLERANCE * max(value, 1)]
    return f"counts ({', '.join(off)})" if off else ""


def label(measured: float, published: float, tolerance: float = TOLERANCE) -> str:
    """replicated / below / above, with the relative difference and the tolerance (values in %)."""
    if published == 0:
        return "replicated (both 0)" if measured == 0 else "above (published 0)"
    relative = (measured - published) / published
    said = f"{relative:+.1%}"
    if abs(relative) <= tolerance:
        return f"replicated ({said}, within ±{tolerance:.0%})"
    return f"{'below' if relative < 0 else 'above'} ({said}, beyond ±{tolerance:.0%})"


def label_rows(rows: Sequence[CompareRow], published: Sequence[PublishedRow],
               tolerance: float = TOLERANCE) -> list[PublishedLabel]:
    """Each (arm, published row of that arm and dataset) pair, labelled."""
    labels = []
    for row in rows:
        for entry in published:
            if not _matches(row, entry):
                continue
            mean = row.test.get(entry.metric)
            interval = row.test_ci.get(entry.metric)
            measured = None if mean is None else 100 * mean
            ci = None if interval is None else (100 * interval[0], 100 * interval[1])
            why = _not_comparable(row, entry)
            if measured is None:
                text = f"not comparable: morec measured no {entry.metric} for this arm"
            elif why:
                text = f"not comparable: {why}"
            else:
                text = label(measured, entry.value, tolerance)
            labels.append(PublishedLabel(arm=row.label, metric=entry.metric, measured=measured,
                                         measured_ci=ci, published=entry, label=text))
    return labels
