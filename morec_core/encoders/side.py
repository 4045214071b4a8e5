"""encoder.adapter=side: an IISAN-style side network over cached hidden states of every layer of
the frozen text encoder (Fu et al., SIGIR 2024, "IISAN: Efficiently Adapting Multimodal
Representation for Sequential Recommendation with Decoupled PEFT").

The pretrained transformer never learns, so each layer's state of each title is a fixed function
of the title: `layer_states` computes them once, in eval mode, and they are cached on disk beside
the two-stage features (same folder, same content key, read back with numpy's pickle-free
loader). Training then runs only the side network: an epoch never runs the encoder, whose module
is dropped after extraction (as two-stage mode drops it).

What is cached is each layer's pooled state (encoder.pooling: [CLS] or the mean over the title),
(num_items + 1, num_layers + 1, H) floats: the token-level states IISAN's side network reads
would be T times larger (30 x for the paper's titles) and must come off the disk every step.

The side network, from the embedding layer's state s_0 = h_0 up: for each layer l,
    x_l = g_l * s_{l-1} + (1 - g_l) * h_l      (IISAN's gated fusion, g_l = sigmoid(a_l))
    s_l = x_l + up_l(gelu(down_l(norm_l(x_l))))  (a bottleneck block of width encoder.adapter_rank)
and s_L is the item feature. up_l starts at zero and a_l at 0, so the untrained network returns
a fixed mix of the layers' states, with the top layer's the largest share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from morec_core.config import EncoderConfig
from morec_core.encoders.base import EncoderInputs
from morec_core.encoders.heads import _cache_path, _save_atomically

if TYPE_CHECKING:
    from pathlib import Path

    from morec_core.encoders import FeatureBuilder
    from morec_core.encoders.text import TextFeatures


class SideBlock(nn.Module):
    """LayerNorm -> Linear(H, r) -> GELU -> Linear(r, H), added to its input."""

    def __init__(self, width: int, rank: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.down = nn.Linear(width, rank)
        self.up = nn.Linear(rank, width)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden + self.up(nn.functional.gelu(self.down(self.norm(hidden))))  # (N, H)


class SideNetwork(nn.Module):
    """Gated fusion of the encoder's layer states with a chain of bottleneck blocks:
    (N, num_layers + 1, H) -> (N, H)."""

    def __init__(self, num_layers: int, width: int, rank: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(SideBlock(width, rank) for _ in range(num_layers))
        self.gates = nn.Parameter(torch.zeros(num_layers))  # a_l; g_l = sigmoid(a_l)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        side = states[:, 0]  # (N, H): the embedding layer's state
        gates = torch.sigmoid(self.gates)  # (num_layers,)
        for layer, block in enumerate(self.blocks):
            side = block(gates[layer] * side + (1 - gates[layer]) * states[:, layer + 1])
        return side


class SideFeatures(nn.Module):
    """The feature module of encoder.adapter=side: item_ids (N,) -> (N, H), reading the cached
    layer states; the side network is all that trains (the "encoder" group)."""

    states: torch.Tensor  # a buffer, registered in __init__

    def __init__(self, states: torch.Tensor, *, rank: int) -> None:
        super().__init__()
        if states.ndim != 3 or states.shape[1] < 2:
            raise ValueError(f"layer states must be (num_items + 1, num_layers + 1, H), got "
                             f"{tuple(states.shape)}")
        self.feature_dim = int(states.shape[2])
        # Not persistent, as two-stage features: checkpoints hold the side network only.
        self.register_buffer("states", states, persistent=False)  # (num_items + 1, L + 1, H)
        self.network = SideNetwork(states.shape[1] - 1, self.feature_dim, rank)

    def forward(self, item_ids: torch.Tensor) -> torch.Tensor:
        return self.network(self.states[item_ids])  # (N, H)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"encoder": list(self.network.parameters()), "rest": []}


@torch.no_grad()
def layer_states(features: TextFeatures, num_items: int, *, device: torch.device | str,
                 batch_size: int) -> torch.Tensor:
    """Every layer's pooled state of items 1..num_items, in eval mode ->
    (num_items + 1, num_layers + 1, H) float32 on the CPU; row 0 (padding) is zeros."""
    from morec_core.encoders.text import pool_hidden

    features.to(device).eval()
    chunks = []
    for begin in range(1, num_items + 1, batch_size):
        item_ids = torch.arange(begin, min(begin + batch_size, num_items + 1), device=device)
        input_ids, mask = features.padded_tokens(item_ids)  # (N, L) each
        output = features.model(input_ids=input_ids, attention_mask=mask.long(),
                                output_hidden_states=True)
        # hidden_states: the embedding output, then each layer's: num_layers + 1 of (N, L, H)
        pooled = [pool_hidden(hidden, mask, features.pooling) for hidden in output.hidden_states]
        chunks.append(torch.stack(pooled, dim=1).float().cpu())  # (N, L + 1, H)
    first = chunks[0]
    return torch.cat([first.new_zeros(1, *first.shape[1:]), *chunks])


def states_path(config: EncoderConfig, inputs: EncoderInputs) -> Path | None:
    """Where the layer states of config's encoder over inputs' titles are cached: the two-stage
    features' folder and content key (None where those are not cached)."""
    features = _cache_path(config, inputs)
    if features is None:
        return None
    return features.with_name(features.name.replace("-features-", "-layer-states-"))


def side_features(build_features: FeatureBuilder, config: EncoderConfig, inputs: EncoderInputs,
                  *, device: torch.device | str, batch_size: int) -> SideFeatures:
    """Read the cached layer states, or build the text encoder, extract and cache them; the
    encoder itself is dropped."""
    path = states_path(config, inputs)
    states = None
    if path is not None and path.exists():
        # Plain arrays only: allow_pickle=False refuses a file that would run code on load.
        cached = np.load(path, allow_pickle=False)
        if cached.ndim == 3 and cached.shape[0] == inputs.num_items + 1:
            states = torch.from_numpy(cached)
    if states is None:
        from morec_core.encoders.text import TextFeatures

        encoder = build_features(config, inputs)
        if not isinstance(encoder, TextFeatures):
            raise ValueError(f"encoder.adapter=side: encoder.name={config.name} has no layer "
                             "states to cache; use encoder.name=text")
        states = layer_states(encoder, inputs.num_items, device=device, batch_size=batch_size)
        if path is not None:
            _save_atomically(path, states.numpy())
    return SideFeatures(states, rank=config.adapter_rank)
