"""Collapse detection (paper Figure 5: a MoRec run whose validation metric falls to about zero).

The rule, checked after every epoch; the first clause that holds names the collapse:
1. the training loss is NaN or infinite;
2. the training loss exceeds `loss_explosion` times the loss of constant scores: scores blown
   up, not slow learning. Constant scores (what a model that knows nothing pays, and where
   Figure 5's collapsed runs sit) cost 2 ln 2 under BCE and ln C under a softmax over C
   candidates; ln(num_items) bounds both (C is at most the catalogue, as long as a sampled
   softmax draws fewer negatives than it has items). The first epoch, starting from near-zero
   scores, pays at most about that, unless its scores blew up within it, so the measure is the
   first epoch's loss or ln(num_items), whichever is lower. Healthy curves fall below it and
   noisy ones come nowhere near 100 times it, while an exploded run can keep ranking above
   random (the scale of its scores exploded, not their order), which clauses 3 and 4 let pass:
   on the demo data (3,910 items) at lr 100 the loss is 2e5 in epoch 1 and 6e4 in epoch 6,
   with ranking at up to 3x random.
   After a resume the detector starts afresh: its first epoch is the first one since, whose
   loss is lower, so the clause only gets stricter;
3. after `warmup` evaluations, the validation metric has stayed below `fraction_of_best` of the
   run's own best for the last `sustain` evaluations, and that best was clearly above random
   ranking: above `random_multiple` times it and, where the number of validation users is known,
   at least `min_best_hits` hits (HR@k x users), so that a tenth of it is a fall and not the
   noise of a few users (a run that learned, then fell apart: Figure 5a at gamma = 1e-4 for
   both). The first rule stopped at the first evaluation under the fraction: on the 610 users of
   movielens-small-posters an in-batch IDRec run went from 7 hits (epoch 2) to 0 (epoch 7), and
   was stopped, as one of the slow starters issue 23 measured;
4. the best validation metric is still within `random_multiple` times the expectation of random
   ranking (a run collapsed from the start: Figure 5a at gamma^M = 1e-4, gamma^R = 1e-3; its BCE
   loss sits at 2 ln 2, the loss of constant scores), judged when the run ends (by patience or
   train.epochs, after at least `flat_warmup` evaluations) or, to bound the waste of a run whose
   noise keeps setting new bests, after `flat_patience_multiple` times the run's patience
   (and at least `flat_warmup`) evaluations. A slow starter thus has the time early stopping
   gives any run; the first rule judged after 5 evaluations and stopped slow starters (two
   GloVe seeds under BCE in the first CPU reproduction);
A healthy but noisy curve (dips of less than 1 - fraction_of_best from its best) is never flagged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from morec_core.run import events as ev


@dataclass(frozen=True, kw_only=True)
class CollapseRule:
    warmup: int = 3
    """Evaluations before clause 3 applies (early epochs are noisy)."""
    flat_warmup: int = 5
    """Evaluations before clause 4 applies."""
    loss_explosion: float = 100.0
    """Clause 2: collapsed when the epoch loss exceeds this multiple of the constant-score loss
    (the first epoch's, or ln(num_items) if lower)."""
    fraction_of_best: float = 0.1
    """Clause 3: collapsed when the metric falls below this fraction of its best."""
    random_multiple: float = 2.0
    """Clause 4: collapsed when the best is below this multiple of random ranking."""
    tied_share: float = 0.9
    """Clause 5: collapsed when this share of the validation targets tie with other items."""
    sustain: int = 3
    """Clause 3: evaluations in a row the metric must stay under fraction_of_best."""
    min_best_hits: float = 20.0
    """Clause 3: validation hits (HR@k x users) the best must reach, where users are known."""
    flat_patience_multiple: float = 2.0
    """Clause 4 mid-run: evaluations to wait, as a multiple of train.patience (the run's end
    is judged whatever the count, past flat_warmup)."""
    judge_at_end: bool = True
    """Clause 4 at the run's natural end (the rule of issue 23); False for the first rule."""

    @classmethod
    def first(cls) -> CollapseRule:
        """The rule of morec's first releases (stopped slow starters; issue 23 measured it):
        a fall judged on one evaluation, a flat run after flat_warmup evaluations."""
        return cls(sustain=1, min_best_hits=0.0, flat_patience_multiple=0.0, judge_at_end=False)


def random_expectation(metric: str, k: int, num_items: int) -> float:
    """Expected HR@k or NDCG@k of a uniformly random ranking of num_items items."""
    k = min(k, num_items)
    if metric == "hr":
        return k / num_items
    return sum(1.0 / math.log2(rank + 2) for rank in range(k)) / num_items


def collapse_reason(losses: Sequence[float], valid: Sequence[float], *, random_level: float,
                    rule: CollapseRule = CollapseRule(), metric_name: str = "metric",
                    num_items: int = 0, tied: float = 0.0, hits: Sequence[float] = (),
                    patience: int = 0, ended: bool = False) -> str | None:
    """None for a healthy run, else why it collapsed. losses / valid: one value per epoch;
    num_items: the catalogue's size (0 if unknown: clause 2 then measures by the first epoch);
    tied: the share of the last validation's targets that tied with other items (clause 5);
    hits: validation hits per epoch (HR@k x users; empty if unknown); patience: the run's
    train.patience (0: clause 4 waits flat_warmup evaluations); ended: the run has ended by
    patience or train.epochs (clause 4 is judged then)."""
    if valid and tied >= rule.tied_share:
        return (f"constant scores: {tied:.0%} of the validation targets tied with other items "
                f"at epoch {len(valid)}")
    if losses and not math.isfinite(losses[-1]):
        return f"training loss is {losses[-1]} at epoch {len(losses)}"
    if losses:
        bound = math.log(num_items) if num_items > 1 else math.inf
        constant, measure = ((losses[0], f"its first epoch's {losses[0]:.4g}")
                             if losses[0] <= bound else
                             (bound, f"ln({num_items} items) = {bound:.4g}, what constant scores "
                                     "cost at most"))
        # No loss here is 0 or below; one that were would make every later loss "explode".
        if constant > 0 and losses[-1] > rule.loss_explosion * constant:
            return (f"training loss exploded to {losses[-1]:.4g} at epoch {len(losses)}, over "
                    f"{rule.loss_explosion:g}x {measure}")
    if valid and not math.isfinite(valid[-1]):
        return f"validation {metric_name} is {valid[-1]} at epoch {len(valid)}"
    if len(valid) < min(rule.warmup, rule.flat_warmup) and not ended:
        return None
    best = max(valid) if valid else 0.0
    best_epoch = valid.index(best) + 1 if valid else 0
    clearly_learned = best > rule.random_multiple * random_level and (
        len(hits) < best_epoch or hits[best_epoch - 1] >= rule.min_best_hits)
    recent = valid[-rule.sustain:] if rule.sustain > 0 else valid[-1:]
    if (len(valid) >= rule.warmup and clearly_learned and len(recent) == max(rule.sustain, 1)
            and all(value < rule.fraction_of_best * best for value in recent)):
        lasting = f" for {len(recent)} evaluations" if len(recent) > 1 else ""
        return (f"validation {metric_name} fell to {valid[-1]:.4g} at epoch {len(valid)}, under "
                f"{rule.fraction_of_best:.0%} of its best {best:.4g} (epoch {best_epoch})"
                f"{lasting}")
    wait = max(rule.flat_warmup, math.ceil(rule.flat_patience_multiple * patience))
    judged = len(valid) >= wait or (ended and rule.judge_at_end
                                    and len(valid) >= rule.flat_warmup)
    if judged and valid and best <= rule.random_multiple * random_level:
        # Both levels named: "(0.114)" alone read as the bound, above which the best was.
        return (f"validation {metric_name} never rose above {rule.random_multiple:g}x random "
                f"ranking ({rule.random_multiple * random_level:.3g}; random ranking "
                f"{random_level:.3g}) in {len(valid)} epochs; best {best:.4g}")
    return None


@dataclass
class CollapseDetector:
    """A sink: raises StopRun("collapsed", reason) as soon as the rule holds; at a run's
    natural end (its RunFinished, completed) it judges clause 4 once more, so a run that never
    left random level ends `collapsed` rather than `completed`."""

    rule: CollapseRule = field(default_factory=CollapseRule)
    _losses: list[float] = field(default_factory=list)
    _valid: list[float] = field(default_factory=list)
    _hits: list[float] = field(default_factory=list)
    _metric: str = "ndcg@10"
    _hit_metric: str = "hr@10"
    _random_level: float = 0.0
    _num_items: int = 0
    _patience: int = 0
    _tied: float = 0.0

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.RunStarted):
            self._metric = event.selection_metric
            self._num_items = event.num_items
            name, _, k = event.selection_metric.partition("@")
            self._hit_metric = f"hr@{k}"
            self._random_level = (random_expectation(name, int(k), event.num_items)
                                  if event.num_items else 0.0)
            train = event.spec.get("train", {}) if isinstance(event.spec, dict) else {}
            patience = train.get("patience", 0) if isinstance(train, dict) else 0
            self._patience = patience if isinstance(patience, int) else 0
        elif isinstance(event, ev.EpochEnded):
            self._losses.append(event.loss)
            self._check()
        elif isinstance(event, ev.Evaluated) and event.split == "valid":
            self._valid.append(event.metrics[self._metric])
            self._tied = next((value for name, value in event.metrics.items()
                               if name.startswith("ties@")), 0.0)
            users = event.metrics.get("users")
            hit_rate = event.metrics.get(self._hit_metric)
            if users is not None and hit_rate is not None and len(self._hits) == len(
                    self._valid) - 1:
                self._hits.append(hit_rate * users)
            self._check()
        elif isinstance(event, ev.RunFinished) and event.status == "completed":
            self._check(ended=True)

    def _check(self, *, ended: bool = False) -> None:
        reason = collapse_reason(self._losses, self._valid, random_level=self._random_level,
                                 rule=self.rule, metric_name=self._metric,
                                 num_items=self._num_items, tied=self._tied, hits=self._hits,
                                 patience=self._patience, ended=ended)
        if reason is not None:
            raise ev.StopRun("collapsed", reason)


@dataclass(frozen=True, kw_only=True)
class RecordedCurve:
    """A run's recorded per-epoch series, as the rule reads them (one value per epoch)."""

    losses: Sequence[float]
    valid: Sequence[float]
    """The selection metric."""
    hits: Sequence[float] = ()
    """HR@k x validation users, where recorded."""
    tied: Sequence[float] = ()
    """Share of validation targets tied with other items."""
    ended: bool = True
    """The run ended by patience or train.epochs (not stopped, pruned or cancelled)."""


def first_collapse(curve: RecordedCurve, *, random_level: float, rule: CollapseRule,
                   num_items: int = 0, patience: int = 0) -> tuple[int, str] | None:
    """Replay `rule` on a whole recorded curve, epoch by epoch as the detector would have:
    (the epoch it would have stopped the run at, why), or None. For measuring a rule's errors
    on runs trained with train.stop_on_collapse=false (benchmarks/collapse_replay.py)."""
    epochs = min(len(curve.losses), len(curve.valid))
    for epoch in range(1, epochs + 1):
        reason = collapse_reason(
            curve.losses[:epoch], curve.valid[:epoch], random_level=random_level, rule=rule,
            num_items=num_items, tied=curve.tied[epoch - 1] if len(curve.tied) >= epoch else 0.0,
            hits=curve.hits[:epoch], patience=patience,
            ended=curve.ended and epoch == epochs)
        if reason is not None:
            return epoch, reason
    return None
