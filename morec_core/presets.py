"""Presets: one word for a named set of settings (`morec run --preset paper`, `Study(preset=)`).

A preset's settings apply after a study's and an arm's own (the user asked for the preset by
name) and before the user's `--set` and the grid's values. Its grid adds (or replaces) searched
keys in every arm of a study; a single run takes the first value of each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from morec_core.config import ConfigError


@dataclass(frozen=True, kw_only=True)
class Preset:
    name: str
    description: str
    overrides: tuple[str, ...]
    """`section.key=value` settings."""
    grid: Mapping[str, tuple[object, ...]] = field(default_factory=dict)
    """`section.key` -> values searched by every arm of a study under this preset."""

    def run_overrides(self) -> tuple[str, ...]:
        """The settings of one run: the overrides, then the first value of each grid key."""
        firsts = tuple(f"{key}={values[0]}" for key, values in self.grid.items())
        return (*self.overrides, *firsts)


PRESETS: dict[str, Preset] = {preset.name: preset for preset in (
    Preset(
        name="paper",
        description="the paper's code and protocol (section 3.2; westlake-repl/IDvs.MoRec): its "
                    "SASRec block, BCE with one negative, selection on HR@10, patience 7, "
                    "weight decay searched in 0.1 / 0.01 / 0",
        overrides=("backbone.block=paper", "backbone.layer_norm=post", "backbone.init=xavier",
                   "backbone.num_blocks=2", "backbone.num_heads=2", "backbone.dropout=0.1",
                   "train.loss=bce", "train.patience=7", "eval.metric=hr", "eval.k=10"),
        grid={"train.weight_decay": (0.1, 0.01, 0.0)}),
    Preset(
        name="recbole",
        description="RecBole's SASRec: the standard post-LN block, N(0, 0.02) initialisation and "
                    "the full softmax (ID and two-stage encoders only), selection on NDCG@10",
        overrides=("backbone.block=standard", "backbone.layer_norm=post", "backbone.init=normal",
                   "train.loss=full_softmax", "eval.metric=ndcg", "eval.k=10")),
)}


def find_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}") from None
