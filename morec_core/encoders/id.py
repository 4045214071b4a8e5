"""IDRec's item encoder: an embedding table with one row per item, row 0 the padding item."""

from __future__ import annotations

import torch
from torch import nn

from morec_core.config import EncoderConfig
from morec_core.encoders.base import EncoderInputs


class IdEncoder(nn.Module):
    def __init__(self, num_items: int, dim: int) -> None:
        super().__init__()
        self.output_dim = dim
        self.embedding = nn.Embedding(num_items + 1, dim, padding_idx=0)
        # Xavier-normal as in SASRec.pytorch and the paper's code; the padding row stays zero.
        nn.init.xavier_normal_(self.embedding.weight)
        with torch.no_grad():
            self.embedding.weight[0].zero_()

    def forward(self, item_ids: torch.Tensor) -> torch.Tensor:
        return self.embedding(item_ids)  # (N, d)

    def every_item(self) -> torch.Tensor:
        """(num_items, d) the vectors of items 1..num_items, as forward(arange(1, I + 1)) gives
        them, without a gather and its scatter-add backward (the full softmax's table)."""
        return self.embedding.weight[1:]

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"encoder": [], "rest": list(self.embedding.parameters())}  # [weight]


def build_id_encoder(config: EncoderConfig, inputs: EncoderInputs, dim: int, *,
                     dropout: float = 0.1, device: torch.device | str = "cpu",
                     extract_batch_size: int = 256) -> IdEncoder:
    del dropout, device, extract_batch_size  # nothing to regularise or extract
    # Refuse rather than ignore settings that only make sense for a modality encoder.
    if config.mode != "e2e":
        raise ValueError("encoder.mode: two_stage needs a modality encoder; the id encoder is "
                         "always trained end to end")
    if config.mlp_layers:
        raise ValueError("encoder.mlp_layers: dense layers go on modality features; "
                         "the id encoder takes none")
    return IdEncoder(inputs.num_items, dim)
