"""What a report found, per question, in sentences a reader can quote: the paper's claim, the
store's measurement with its interval, and whether it agrees, disagrees or could not be measured
here (and why), per loss and data view.

Each claim names what would agree with it as verdicts of `morec compare` (MoRec vs IDRec: "MoRec
better", "on par", "IDRec better") or of a contrast between two MoRec arms ("better", "on par",
"worse", the first arm against the second). "On par" agrees with a claim of comparability, and
neither agrees nor disagrees with a claim that one side is better: the data could not tell.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from morec_core.results.compare import CompareRow, Comparison
from morec_core.results.formatting import difference_interval, relative_interval
from morec_core.spec_labels import data_of_key

METRIC = "hr@10"
WEAK_ENCODERS = ("glove",)
"""Static word vectors, whichever vectors are loaded: the paper's weakest text encoder (Figure 4:
GloVe last)."""


def weak_encoder(row: CompareRow) -> bool:
    """An arm of static word vectors (GloVe), trained end to end or not: the paper's claims
    about end-to-end MoRec are about strong pretrained encoders ("equipped with strong modality
    encoders", 100-1000x an IDRec epoch), so such an arm answers Q(ii)'s ranking, not those."""
    # The store's encoder label: `glove`, `glove:vectors-folder`, `id+glove:.../add`.
    return row.encoder.removeprefix("id+").split(":")[0].split("/")[0] in WEAK_ENCODERS


@dataclass(frozen=True)
class Claim:
    text: str
    """The paper's claim, as this report quotes it."""
    agrees: tuple[str, ...]
    """Verdicts that agree with it."""
    disagrees: tuple[str, ...]
    """Verdicts that contradict it (the rest: the data could not tell)."""


def interval(comparison: Comparison) -> str:
    """Improv. [95% CI] where IDRec's (or the control's) mean is not 0, else Δ pp [95% CI]."""
    relative, bounds = comparison.relative, comparison.relative_ci
    if relative is not None and bounds is not None and all(
            math.isfinite(value) for value in (relative, *bounds)):
        return relative_interval(relative, bounds)
    return difference_interval(comparison.difference, comparison.difference_ci, unit=" pp")


def judge(claim: Claim, verdict: str) -> str:
    if verdict in claim.agrees:
        return "agrees"
    if verdict in claim.disagrees:
        return "disagrees"
    return "cannot tell (on par)"


def view_of(row: CompareRow) -> str:
    data = data_of_key(row.data_key)
    parts = [data.source]
    if data.modality == "image":
        parts.append("images")
    if data.warm_min_item_interactions:
        parts.append(f"warm-{data.warm_min_item_interactions}")
    parts.append(f"{data.user_sample:,} users" if data.user_sample else "every user")
    return ", ".join(parts)


def measured(claim: Claim, rows: Sequence[CompareRow], metric: str, what: str) -> list[str]:
    """One sentence per row: its verdict against IDRec on `metric`, with the interval."""
    out = []
    for row in sorted(rows, key=lambda row: (row.loss, view_of(row), row.arm)):
        comparison = row.comparisons.get(metric)
        if comparison is None:
            continue
        out.append(f"{what}: {row.arm} ({view_of(row)}, {row.backbone}, {row.loss}) against "
                   f"IDRec, {metric.upper()} {interval(comparison)}, {comparison.verdict}: "
                   f"{judge(claim, comparison.verdict)}")
    return out


def contrasted(claim: Claim, contrasts: Sequence[Any], metric: str, what: str) -> list[str]:
    out = []
    for contrast in contrasts:
        comparison = contrast.comparisons.get(metric)
        if comparison is None:
            continue
        treated, control = contrast.treated, contrast.control
        out.append(f"{what}: {treated.arm} against {control.arm} ({view_of(treated)}, "
                   f"{treated.backbone}, {treated.loss}), {metric.upper()} "
                   f"{interval(comparison)}, {comparison.verdict}: "
                   f"{judge(claim, comparison.verdict)}")
    return out


def not_measured(claim: Claim, why: str) -> str:
    return f"{claim.text}: not measured here ({why})"


def conclude(question: str, rows: Sequence[CompareRow], kinds: dict[str, str],
             contrasts: Sequence[Any], pending: Sequence[str]) -> list[str]:
    """The claims of `question` (Q(i)...Q(iv)) each with what this store measured."""
    builders: dict[str, Callable[..., list[str]]] = {
        "Q(i)": _regular, "Q(ii)": _encoders, "Q(iii)": _two_stage, "Q(iv)": _challenges}
    return builders[question](rows, kinds, contrasts, pending)


def _kind(kinds: dict[str, str], *wanted: str) -> Callable[[CompareRow], bool]:
    return lambda row: kinds.get(row.label) in wanted


def _why_no_end_to_end(pending: Sequence[str]) -> str:
    waiting = [line for line in pending if "E2E" in line]
    if waiting:
        return ("no end-to-end arm of a strong pretrained encoder has a completed run; the "
                "reported studies' end-to-end arms are pending (see Pending)")
    return ("no end-to-end arm of a strong pretrained encoder (every layer trained; static word "
            "vectors do not count) in this store")


def _regular(rows: Sequence[CompareRow], kinds: dict[str, str], contrasts: Sequence[Any],
             pending: Sequence[str]) -> list[str]:
    sasrec = Claim("With SASRec, end-to-end MoRec is comparable to or better than IDRec",
                   ("MoRec better", "on par"), ("IDRec better",))
    dssm = Claim("With DSSM, MoRec is much worse than IDRec", ("IDRec better",),
                 ("MoRec better",))
    warm = Claim("In warm-start views (warm-20) MoRec and IDRec stay comparable",
                 ("MoRec better", "on par"), ("IDRec better",))
    regular = [row for row in rows if row.paradigm == "MoRec" and "warm" not in view_of(row)]
    e2e = [row for row in regular if row.backbone == "sasrec" and kinds.get(row.label) == "E2E"
           and not weak_encoder(row)]
    out = measured(sasrec, e2e, METRIC, sasrec.text)
    if not out:
        out.append(not_measured(sasrec, _why_no_end_to_end(pending)))
        proxy = [row for row in regular if row.backbone == "sasrec"
                 and kinds.get(row.label) in ("TS", "TS-DNN", "adapter", "fusion")]
        out += measured(sasrec, proxy, METRIC, "nearest measured (not end to end)")
    lines = measured(dssm, [row for row in regular if row.backbone == "dssm"], METRIC,
                     dssm.text + " (the paper's DSSM arms are end to end; here as named)")
    out += lines or [not_measured(dssm, "no DSSM MoRec arm with a verdict")]
    warm_rows = [row for row in rows if row.paradigm == "MoRec" and "warm" in view_of(row)]
    out += (measured(warm, warm_rows, METRIC, warm.text + " (here as named)")
            or [not_measured(warm, "no warm-K view with a MoRec verdict")])
    return out


def _encoders(rows: Sequence[CompareRow], kinds: dict[str, str], contrasts: Sequence[Any],
              pending: Sequence[str]) -> list[str]:
    pretrained = Claim("Pretrained encoders beat the same network trained from random weights",
                       ("better",), ("worse",))
    stronger = Claim("A stronger encoder gives a better MoRec (GloVe below pretrained "
                     "transformers)", ("better",), ("worse",))
    out = (contrasted(pretrained, contrasts, METRIC, pretrained.text)
           or [not_measured(pretrained, "no arm from random weights beside its pretrained twin")])
    # Encoders compared through their verdicts against the same IDRec: intervals that do not
    # overlap order them; overlapping ones cannot.
    weak = [row for row in rows if weak_encoder(row) and METRIC in row.comparisons]
    for row in weak:
        peers = [other for other in rows if other.paradigm == "MoRec" and other is not row
                 and other.data_key == row.data_key and other.loss == row.loss
                 and other.backbone == row.backbone and METRIC in other.comparisons
                 and kinds.get(other.label) in ("TS", "E2E") and not weak_encoder(other)]
        for peer in peers:
            mine, theirs = row.comparisons[METRIC], peer.comparisons[METRIC]
            verdict = ("better" if theirs.difference_ci[0] > mine.difference_ci[1] else
                       "worse" if theirs.difference_ci[1] < mine.difference_ci[0] else "on par")
            out.append(f"{stronger.text}: {peer.arm} {interval(theirs)} and {row.arm} "
                       f"{interval(mine)} against IDRec ({view_of(row)}, {row.loss}, "
                       f"{METRIC.upper()}), intervals {'apart' if verdict != 'on par' else 'overlapping'}"
                       f": {judge(stronger, verdict)}")
    if not weak:
        out.append(not_measured(stronger, "no static word-vector arm beside a transformer arm"))
    return out


def _two_stage(rows: Sequence[CompareRow], kinds: dict[str, str], contrasts: Sequence[Any],
               pending: Sequence[str]) -> list[str]:
    vs_e2e = Claim("Two-stage MoRec is much worse than end-to-end MoRec", ("worse",), ("better",))
    vs_id = Claim("Two-stage MoRec is much worse than IDRec", ("IDRec better",), ("MoRec better",))
    dnn = Claim("Dense layers on the frozen features (TS-DNN) close part of the gap",
                ("better",), ("worse",))
    against_e2e = [contrast for contrast in contrasts if contrast.what == "against end to end"]
    out = (contrasted(vs_e2e, against_e2e, METRIC, vs_e2e.text)
           or [not_measured(vs_e2e, _why_no_end_to_end(pending))])
    out += (measured(vs_id, [row for row in rows if kinds.get(row.label) == "TS"], METRIC,
                     vs_id.text) or [not_measured(vs_id, "no two-stage arm with a verdict")])
    deeper = [contrast for contrast in contrasts if contrast.what == "TS-DNN against TS"]
    out += (contrasted(dnn, deeper, METRIC, dnn.text)
            or [not_measured(dnn, "no TS-DNN arm beside a TS arm of the same encoder")])
    return out


def _challenges(rows: Sequence[CompareRow], kinds: dict[str, str], contrasts: Sequence[Any],
                pending: Sequence[str]) -> list[str]:
    cold = Claim("MoRec beats IDRec by far on cold items", ("MoRec better",), ("IDRec better",))
    new = Claim("MoRec beats IDRec by far on new items", ("MoRec better",), ("IDRec better",))
    fusion = Claim("Adding ID features to MoRec does not help", ("on par", "worse"), ("better",))
    morec = [row for row in rows if row.paradigm == "MoRec" and kinds.get(row.label) != "fusion"]
    out = (measured(cold, morec, "cold hr@10", cold.text)
           or [not_measured(cold, "no MoRec arm with a verdict on cold items")])
    out += (measured(new, morec, "new hr@10", new.text)
            or [not_measured(new, "no MoRec arm with a verdict on new items")])
    alone = [contrast for contrast in contrasts if contrast.what == "against the modality arm alone"]
    out += (contrasted(fusion, alone, METRIC, fusion.text)
            or [not_measured(fusion, "no ID + modality fusion arm beside its modality arm")])
    out += _cost(rows, kinds, pending)
    return out


def _cost(rows: Sequence[CompareRow], kinds: dict[str, str], pending: Sequence[str]) -> list[str]:
    claim = "End-to-end MoRec costs 100-1000x an IDRec epoch"
    out = []
    for row in rows:
        kind = kinds.get(row.label)
        seconds = row.cost.get("seconds_per_epoch")
        if row.paradigm != "MoRec" or seconds is None:
            continue
        idrec = [other for other in rows if other.paradigm == "IDRec"
                 and other.data_key == row.data_key and other.loss == row.loss
                 and other.backbone == row.backbone and other.cost.get("seconds_per_epoch")]
        if not idrec:
            continue
        ratio = seconds / idrec[0].cost["seconds_per_epoch"]
        comparison = row.comparisons.get(METRIC)
        gain = f" for {interval(comparison)} {METRIC.upper()}" if comparison else ""
        if kind == "E2E" and not weak_encoder(row):
            verdict = "agrees" if ratio >= 100 else "disagrees (cheaper here)"
            out.append(f"{claim}: {row.arm} ({view_of(row)}, {row.loss}) {ratio:.1f}x IDRec's "
                       f"s/epoch{gain}: {verdict}; devices differ from the paper's")
        else:
            what = f"{kind}, static word vectors" if weak_encoder(row) else kind
            out.append(f"cost: {row.arm} ({what}, {view_of(row)}, {row.loss}) {ratio:.1f}x "
                       f"IDRec's s/epoch{gain}")
    if not any(line.startswith(claim) for line in out):
        out.insert(0, f"{claim}: not measured here ({_why_no_end_to_end(pending)})")
    return out
