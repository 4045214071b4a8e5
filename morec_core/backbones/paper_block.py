"""The SASRec block of the paper's code (backbone.block=paper), for exact reproductions.

It differs from morec's standard block in what the paper's code (westlake-repl/IDvs.MoRec, the
user encoder of its end-to-end SASRec) does: separate bias-free query, key, value and output
projections; a ReLU feed-forward of width 4d with biases; LayerNorm after each residual sum with
eps 1e-6; a LayerNorm (eps 1e-6) on the sum of item vectors and positions; xavier-normal dense
weights and zero biases. At d 64, 2 blocks and a window of 20 the user encoder has 100,864
parameters, as the paper's (a test holds the count).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

PAPER_LAYER_NORM_EPS = 1e-6


class PaperSelfAttentionBlock(nn.Module):
    def __init__(self, dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.attention_dropout = dropout
        self.query = nn.Linear(dim, dim, bias=False)
        self.key = nn.Linear(dim, dim, bias=False)
        self.value = nn.Linear(dim, dim, bias=False)
        self.projection = nn.Linear(dim, dim, bias=False)
        self.attention_norm = nn.LayerNorm(dim, eps=PAPER_LAYER_NORM_EPS)
        self.feed_forward = nn.Sequential(
            nn.Linear(dim, 4 * dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(4 * dim, dim))
        self.feed_forward_norm = nn.LayerNorm(dim, eps=PAPER_LAYER_NORM_EPS)
        self.dropout = nn.Dropout(dropout)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_normal_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, hidden: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """hidden: (B, L, d); allowed: (B, 1, L, L) bool, True where a query may see a key.
        LN(x + f(x)) for attention, then for the feed-forward."""
        hidden = self.attention_norm(hidden + self.dropout(self._attend(hidden, allowed)))
        return self.feed_forward_norm(hidden + self.dropout(self.feed_forward(hidden)))

    def _attend(self, hidden: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        batch, length, dim = hidden.shape

        def heads(projection: nn.Linear) -> torch.Tensor:  # (B, L, d) -> (B, h, L, d/h)
            return (projection(hidden).view(batch, length, self.num_heads, dim // self.num_heads)
                    .transpose(1, 2))

        # Dropout on the attention probabilities, as the paper code's attention function.
        attended = F.scaled_dot_product_attention(
            heads(self.query), heads(self.key), heads(self.value), attn_mask=allowed,
            dropout_p=self.attention_dropout if self.training else 0.0)
        return self.projection(attended.transpose(1, 2).reshape(batch, length, dim))
