"""The backbone registry: name -> builder of a Backbone (see backbones/base.py).

A builder receives the backbone's config and two ints: num_users (for user-ID towers) and
max_length (the window W of sequence models, batches.input_length). A new backbone (GRU4Rec,
NextItNet) is a new module with a `kind` and one entry here; nothing else switches on its name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from morec_core.backbones.base import BACKBONE_KINDS, Backbone, ItemLookup
from morec_core.backbones.dssm import build_dssm
from morec_core.backbones.sasrec import build_sasrec
from morec_core.config import BackboneConfig

BackboneBuilder = Callable[..., Backbone[Any]]
"""(config: BackboneConfig, *, num_users: int, max_length: int) -> a Backbone nn.Module."""

BACKBONES: dict[str, BackboneBuilder] = {
    "sasrec": build_sasrec,
    "dssm": build_dssm,
}


def build_backbone(config: BackboneConfig, *, num_users: int, max_length: int) -> Backbone[Any]:
    if config.name not in BACKBONES:
        raise ValueError(f"unknown backbone {config.name!r}; known: {', '.join(BACKBONES)}")
    backbone = BACKBONES[config.name](config, num_users=num_users, max_length=max_length)
    if backbone.kind not in BACKBONE_KINDS:
        raise ValueError(f"backbone {config.name!r} has kind {backbone.kind!r}; "
                         f"known kinds: {', '.join(BACKBONE_KINDS)}")
    return backbone


__all__ = ["BACKBONES", "BACKBONE_KINDS", "Backbone", "ItemLookup", "build_backbone"]
