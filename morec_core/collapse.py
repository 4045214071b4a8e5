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
3. after `warmup` evaluations, the validation metric has fallen below `fraction_of_best` of the
   run's own best so far, and that best was clearly above random ranking (a run that learned,
   then fell apart: Figure 5a at gamma = 1e-4 for both);
4. after `flat_warmup` evaluations, the best validation metric so far is still within
   `random_multiple` times the expectation of random ranking (a run collapsed from the start:
   Figure 5a at gamma^M = 1e-4, gamma^R = 1e-3; its BCE loss sits at 2 ln 2, the loss of
   constant scores). Healthy runs, even at the paper's smallest learning rates, leave that band
   within a few epochs: on movielens-small-posters a two-stage MiniLM run at lr 1e-2 is at 4.5x
   random after 3 epochs, while the same run at lr 1e-1 is still at 1.5x after 5.
5. at any evaluation, at least `tied_share` of the validation targets tied with other items
   ("constant scores": a model whose item scores are all equal, or nearly, ranks nothing; under
   the expected-rank tie rule it scores at random level, under the optimistic one perfectly).
   Healthy models tie only where two items have the same content (duplicate titles).
A healthy but noisy curve (dips of less than 1 - fraction_of_best from its best) is never flagged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from morec_core import events as ev


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


def random_expectation(metric: str, k: int, num_items: int) -> float:
    """Expected HR@k or NDCG@k of a uniformly random ranking of num_items items."""
    k = min(k, num_items)
    if metric == "hr":
        return k / num_items
    return sum(1.0 / math.log2(rank + 2) for rank in range(k)) / num_items


def collapse_reason(losses: Sequence[float], valid: Sequence[float], *, random_level: float,
                    rule: CollapseRule = CollapseRule(), metric_name: str = "metric",
                    num_items: int = 0, tied: float = 0.0) -> str | None:
    """None for a healthy run, else why it collapsed. losses / valid: one value per epoch;
    num_items: the catalogue's size (0 if unknown: clause 2 then measures by the first epoch);
    tied: the share of the last validation's targets that tied with other items (clause 5)."""
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
    if len(valid) < rule.warmup:
        return None
    best = max(valid)
    best_epoch = valid.index(best) + 1
    if best > rule.random_multiple * random_level and valid[-1] < rule.fraction_of_best * best:
        return (f"validation {metric_name} fell to {valid[-1]:.4g} at epoch {len(valid)}, under "
                f"{rule.fraction_of_best:.0%} of its best {best:.4g} (epoch {best_epoch})")
    if len(valid) >= rule.flat_warmup and best <= rule.random_multiple * random_level:
        return (f"validation {metric_name} never rose above {rule.random_multiple:g}x random "
                f"ranking ({random_level:.3g}) in {len(valid)} epochs; best {best:.4g}")
    return None


@dataclass
class CollapseDetector:
    """A sink: raises StopRun("collapsed", reason) as soon as the rule holds."""

    rule: CollapseRule = field(default_factory=CollapseRule)
    _losses: list[float] = field(default_factory=list)
    _valid: list[float] = field(default_factory=list)
    _metric: str = "ndcg@10"
    _random_level: float = 0.0
    _num_items: int = 0
    _tied: float = 0.0

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.RunStarted):
            self._metric = event.selection_metric
            self._num_items = event.num_items
            name, _, k = event.selection_metric.partition("@")
            self._random_level = (random_expectation(name, int(k), event.num_items)
                                  if event.num_items else 0.0)
        elif isinstance(event, ev.EpochEnded):
            self._losses.append(event.loss)
            self._check()
        elif isinstance(event, ev.Evaluated) and event.split == "valid":
            self._valid.append(event.metrics[self._metric])
            self._tied = next((value for name, value in event.metrics.items()
                               if name.startswith("ties@")), 0.0)
            self._check()

    def _check(self) -> None:
        reason = collapse_reason(self._losses, self._valid, random_level=self._random_level,
                                 rule=self.rule, metric_name=self._metric,
                                 num_items=self._num_items, tied=self._tied)
        if reason is not None:
            raise ev.StopRun("collapsed", reason)
