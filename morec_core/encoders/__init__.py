"""The item-encoder registry: name -> builder of an ItemEncoder (see encoders/base.py).

Modality entries (text, vision, glove) import their heavy libraries only when built. Their
modules return a bare feature module (FeatureModule in heads.py); `modality_builder` adds what
the paper puts on top: two-stage extraction, the DT-layer, TS-DNN layers and ID fusion.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch

from morec_core.config import EncoderConfig
from morec_core.encoders.base import EncoderInputs, ItemEncoder
from morec_core.encoders.heads import (
    FeatureModule,
    FusionItemEncoder,
    ModalityItemEncoder,
    frozen_features,
)
from morec_core.encoders.id import IdEncoder, build_id_encoder

FeatureBuilder = Callable[[EncoderConfig, EncoderInputs], FeatureModule]


class Builder(Protocol):
    def __call__(self, config: EncoderConfig, inputs: EncoderInputs, dim: int, *,
                 dropout: float = 0.1, device: torch.device | str = "cpu",
                 extract_batch_size: int = 256) -> ItemEncoder:
        """-> an ItemEncoder with output_dim == dim. dropout: of the dense head layers;
        device, extract_batch_size: where and how many at once two-stage features are extracted."""
        ...


def modality_builder(build_features: FeatureBuilder) -> Builder:
    """Turn a feature-module builder into a registry entry that wraps it in the paper's head."""

    def build(config: EncoderConfig, inputs: EncoderInputs, dim: int, *, dropout: float = 0.1,
              device: torch.device | str = "cpu", extract_batch_size: int = 256) -> ItemEncoder:
        features: FeatureModule
        if config.adapter == "side":
            # Like two-stage: the encoder runs once, over every item, and is dropped; its
            # layer states are cached and a side network over them trains (encoders/side.py).
            from morec_core.encoders.side import side_features

            features = side_features(build_features, config, inputs, device=device,
                                     batch_size=extract_batch_size)
        elif config.mode == "two_stage":
            # The encoder never runs in training: its features are extracted once (or read from
            # the cache) and the module itself is dropped.
            features = frozen_features(build_features, config, inputs, device=device,
                                       batch_size=extract_batch_size)
        else:
            features = build_features(config, inputs)
        modality = ModalityItemEncoder(features, dim=dim, mlp_layers=config.mlp_layers,
                                       dropout=dropout)
        if config.fusion == "none":
            return modality
        return FusionItemEncoder(IdEncoder(inputs.num_items, dim), modality, fusion=config.fusion,
                                 fusion_mlp_layers=config.fusion_mlp_layers, dropout=dropout)

    return build


def _text_features(config: EncoderConfig, inputs: EncoderInputs) -> FeatureModule:
    from morec_core.encoders.text import build_text_encoder
    return build_text_encoder(config, inputs)


def _vision_features(config: EncoderConfig, inputs: EncoderInputs) -> FeatureModule:
    from morec_core.encoders.vision import build_vision_encoder
    return build_vision_encoder(config, inputs)


def _glove_features(config: EncoderConfig, inputs: EncoderInputs) -> FeatureModule:
    from morec_core.encoders.glove import build_glove_encoder
    return build_glove_encoder(config, inputs)


ENCODERS: dict[str, Builder] = {
    "id": build_id_encoder,
    "text": modality_builder(_text_features),
    "vision": modality_builder(_vision_features),
    "glove": modality_builder(_glove_features),
}


def build_item_encoder(config: EncoderConfig, inputs: EncoderInputs, dim: int, *,
                       dropout: float = 0.1, device: torch.device | str = "cpu",
                       extract_batch_size: int = 256) -> ItemEncoder:
    """The item encoder named by config.name, with output_dim == dim, on the CPU.

    device only says where two-stage features are extracted; move the result yourself.
    """
    if config.name not in ENCODERS:
        raise ValueError(f"unknown item encoder {config.name!r}; known: {', '.join(ENCODERS)}")
    return ENCODERS[config.name](config, inputs, dim, dropout=dropout, device=device,
                                 extract_batch_size=extract_batch_size)
