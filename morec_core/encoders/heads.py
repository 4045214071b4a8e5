"""What sits on top of a modality encoder: the DT-layer, TS-DNN layers, two-stage features, and
ID + modality fusion (paper Figure 1, Tables 5 and 7).

The layer recipes follow the paper's code: the DT-layer is Linear + GELU; each dense layer is
Dropout + Linear(d, d) + GELU; concat fusion is Dropout + Linear(2d, d) + GELU.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from morec_core.config import EncoderConfig
from morec_core.encoders.base import EncoderInputs
from morec_core.encoders.id import IdEncoder

FUSIONS = ("add", "concat")


class FeatureModule(Protocol):
    """A pretrained modality encoder (ME) without a head: what text/vision/glove builders return."""

    feature_dim: int

    def __call__(self, item_ids: torch.Tensor) -> torch.Tensor:
        """item_ids: (N,) int64 in 0..num_items -> (N, feature_dim) float features."""
        ...

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Its trainable (fine-tuned) parameters under "encoder"; frozen ones in no group."""
        ...


def dense_layers(dim: int, count: int, dropout: float) -> nn.Sequential:
    """`count` (Dropout, Linear(d, d), GELU) layers; zero layers is the identity."""
    layers: list[nn.Module] = []
    for _ in range(count):
        layers += [nn.Dropout(dropout), nn.Linear(dim, dim), nn.GELU()]
    return nn.Sequential(*layers)


class FrozenFeatures(nn.Module):
    """Two-stage mode: features extracted once, kept as a buffer, never trained."""

    features: torch.Tensor  # a buffer, registered in __init__

    def __init__(self, features: torch.Tensor) -> None:
        super().__init__()
        self.feature_dim = features.shape[1]
        # Not persistent: checkpoints stay small, and a rebuilt encoder reads the feature cache.
        self.register_buffer("features", features, persistent=False)  # (num_items + 1, F)

    def forward(self, item_ids: torch.Tensor) -> torch.Tensor:
        return self.features[item_ids]  # (N, feature_dim)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"encoder": [], "rest": []}


@torch.no_grad()
def extract_features(features: FeatureModule, num_items: int, *, device: torch.device | str,
                     batch_size: int) -> torch.Tensor:
    """Run a feature module over items 1..num_items in eval mode -> (num_items + 1, F) on CPU.

    Row 0 (padding, no content) is zeros rather than whatever the ME makes of empty content.
    """
    assert isinstance(features, nn.Module), "a feature module is an nn.Module"
    features.to(device).eval()
    item_ids = torch.arange(1, num_items + 1, device=device)
    chunks = [features(item_ids[begin:begin + batch_size]).float().cpu()
              for begin in range(0, num_items, batch_size)]
    return torch.cat([torch.zeros(1, features.feature_dim), *chunks])


def frozen_features(build_features, config: EncoderConfig, inputs: EncoderInputs, *,
                    device: torch.device | str, batch_size: int) -> FrozenFeatures:
    """Load cached features, or build the feature module, extract, and cache them.

    The cache is keyed by what determines the features: encoder, model, pooling and the items'
    content (so a change of title truncation or image size is a new file). Randomly
    initialised encoders (pretrained=False) are never cached: their features depend on the seed.
    """
    path = _cache_path(config, inputs)
    if path is not None and path.exists():
        cached = np.load(path)
        if cached.ndim == 2 and cached.shape[0] == inputs.num_items + 1:
            return FrozenFeatures(torch.from_numpy(cached))
    features = extract_features(build_features(config, inputs), inputs.num_items,
                                device=device, batch_size=batch_size)
    if path is not None:
        _save_atomically(path, features.numpy())
    return FrozenFeatures(features)


def _cache_path(config: EncoderConfig, inputs: EncoderInputs) -> Path | None:
    if inputs.feature_cache_dir is None or not config.pretrained:
        return None
    key = {"name": config.name, "model": config.model, "pooling": config.pooling,
           "num_items": inputs.num_items}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode())
    for array in (inputs.token_ids, inputs.token_lengths):
        if array is not None:
            digest.update(np.ascontiguousarray(array).tobytes())
    if inputs.titles is not None:
        digest.update("\n".join(inputs.titles).encode())
    if inputs.images is not None:
        # Hashing every pixel would read the whole image cache; its shape (size) and a few
        # rows tell caches apart.
        digest.update(repr(inputs.images.shape).encode())
        digest.update(np.ascontiguousarray(inputs.images[-3:]).tobytes())
    return Path(inputs.feature_cache_dir) / f"{config.name}-features-{digest.hexdigest()[:16]}.npy"


def _save_atomically(path: Path, array: np.ndarray) -> None:
    # Parallel runs may extract the same features: write beside, then rename over.
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            np.save(file, array)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class ModalityItemEncoder(nn.Module):
    """ME -> DT-layer (Linear to d + GELU) -> `mlp_layers` dense layers (TS-DNN)."""

    def __init__(self, features: FeatureModule, *, dim: int, mlp_layers: int,
                 dropout: float) -> None:
        super().__init__()
        self.output_dim = dim
        self.features = features
        self.dimension_transform = nn.Sequential(nn.Linear(features.feature_dim, dim), nn.GELU())
        self.dense = dense_layers(dim, mlp_layers, dropout)

    def forward(self, item_ids: torch.Tensor) -> torch.Tensor:
        return self.dense(self.dimension_transform(self.features(item_ids)))  # (N, d)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        feature_groups = self.features.parameter_groups()
        head = [*self.dimension_transform.parameters(), *self.dense.parameters()]
        return {"encoder": list(feature_groups.get("encoder", [])),
                "rest": list(feature_groups.get("rest", [])) + head}


class FusionItemEncoder(nn.Module):
    """ID embedding and modality vector combined (Table 7): add, or concat + Linear(2d, d);
    then `fusion_mlp_layers` dense layers."""

    def __init__(self, identity: IdEncoder, modality: ModalityItemEncoder, *, fusion: str,
                 fusion_mlp_layers: int, dropout: float) -> None:
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}; known: {', '.join(FUSIONS)}")
        dim = identity.output_dim
        self.output_dim = dim
        self.fusion = fusion
        self.identity = identity
        self.modality = modality
        self.concat = (nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * dim, dim), nn.GELU())
                       if fusion == "concat" else None)
        self.dense = dense_layers(dim, fusion_mlp_layers, dropout)

    def forward(self, item_ids: torch.Tensor) -> torch.Tensor:
        identity, modality = self.identity(item_ids), self.modality(item_ids)  # (N, d) each
        if self.concat is None:
            fused = identity + modality
        else:
            fused = self.concat(torch.cat([identity, modality], dim=-1))
        return self.dense(fused)  # (N, d)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        modality = self.modality.parameter_groups()
        own = [*self.identity.parameters(), *self.dense.parameters()]
        if self.concat is not None:
            own += list(self.concat.parameters())
        return {"encoder": modality["encoder"], "rest": modality["rest"] + own}
