"""SASRec (Kang & McAuley 2018): a causal Transformer over the user's item-vector sequence.

Blocks (backbone.block, backbone.layer_norm): standard post-LN blocks after a LayerNorm on the
input sum (the default, as RecBole's SASRec and the paper's code), standard pre-LN blocks with a
final LayerNorm, or the paper code's exact block (paper_block.py: bias-free projections, ReLU).
The standard block has a fused, biased Q/K/V projection and a 4d GELU feed-forward (BERT's).
Learned positional embeddings. Item vectors enter unscaled (SASRec.pytorch multiplies ID
embeddings by sqrt(d); modality vectors from a DT-layer are not on an embedding table's scale)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from morec_core.backbones.base import ItemLookup
from morec_core.backbones.paper_block import PAPER_LAYER_NORM_EPS, PaperSelfAttentionBlock
from morec_core.config import BackboneConfig
from morec_core.data.batches import EvalBatch, SequenceBatch


class SelfAttentionBlock(nn.Module):
    def __init__(self, dim: int, num_heads: int, dropout: float, *,
                 norm_first: bool = True) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.num_heads = num_heads
        self.attention_dropout = dropout
        self.attention_norm = nn.LayerNorm(dim)
        self.query_key_value = nn.Linear(dim, 3 * dim)
        self.projection = nn.Linear(dim, dim)
        self.feed_forward_norm = nn.LayerNorm(dim)
        self.feed_forward = nn.Sequential(
            nn.Linear(dim, 4 * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(4 * dim, dim))
        self.dropout = nn.Dropout(dropout)

    def forward(self, hidden: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """hidden: (B, L, d); allowed: (B, 1, L, L) bool, True where a query may see a key."""
        if self.norm_first:  # x + f(LN(x)) for each sublayer f
            hidden = hidden + self.dropout(self._attend(self.attention_norm(hidden), allowed))
            return hidden + self.dropout(self.feed_forward(self.feed_forward_norm(hidden)))
        # LN(x + f(x)) for each sublayer f
        hidden = self.attention_norm(hidden + self.dropout(self._attend(hidden, allowed)))
        return self.feed_forward_norm(hidden + self.dropout(self.feed_forward(hidden)))

    def _attend(self, hidden: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """Multi-head self-attention with its output projection: (B, L, d) -> (B, L, d)."""
        batch, length, dim = hidden.shape
        heads = self.query_key_value(hidden)  # (B, L, 3d)
        # Each of query, key, value: (B, h, L, d/h).
        query, key, value = (part.view(batch, length, self.num_heads, dim // self.num_heads)
                             .transpose(1, 2) for part in heads.split(dim, dim=-1))
        attended = F.scaled_dot_product_attention(
            query, key, value, attn_mask=allowed,
            dropout_p=self.attention_dropout if self.training else 0.0)
        attended = attended.transpose(1, 2).reshape(batch, length, dim)  # (B, L, d)
        return self.projection(attended)


class SASRec(nn.Module):
    kind = "sequence"

    def __init__(self, *, dim: int, max_length: int, num_blocks: int, num_heads: int,
                 dropout: float, norm_first: bool = False, block: str = "standard") -> None:
        super().__init__()
        if block not in ("standard", "paper") or (block == "paper" and norm_first):
            raise ValueError(f"block {block!r} with norm_first={norm_first}")
        self.max_length = max_length
        self.positions = nn.Embedding(max_length, dim)
        self.input_dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            PaperSelfAttentionBlock(dim, num_heads, dropout) if block == "paper"
            else SelfAttentionBlock(dim, num_heads, dropout, norm_first=norm_first)
            for _ in range(num_blocks))
        # Pre-LN normalises the output of the last residual sum; post-LN blocks end normalised
        # already, and normalise the input sum instead.
        epsilon = PAPER_LAYER_NORM_EPS if block == "paper" else 1e-5
        self.final_norm = nn.LayerNorm(dim) if norm_first else nn.Identity()
        self.input_norm = nn.Identity() if norm_first else nn.LayerNorm(dim, eps=epsilon)
        nn.init.xavier_normal_(self.positions.weight)

    def encode(self, vectors: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """vectors: (B, L, d) left-padded item vectors, L <= max_length; valid: (B, L) bool,
        False at padding -> (B, L, d) the state after each position."""
        length = vectors.shape[1]
        if length > self.max_length:
            raise ValueError(f"{length} input positions, but the window is {self.max_length}")
        # Right-aligned positions: the newest item always has the last position, so evaluation
        # inputs shorter than the training window use the same (trained) positions.
        positions = torch.arange(self.max_length - length, self.max_length, device=vectors.device)
        hidden = vectors + self.positions(positions)  # (B, L, d)
        hidden = self.input_dropout(self.input_norm(hidden))
        causal = torch.ones(length, length, dtype=torch.bool, device=vectors.device).tril()
        allowed = causal & valid[:, None, None, :]  # (B, 1, L, L)
        # A padded query would see no key at all and softmax would give NaN; let it see itself.
        allowed = allowed | torch.eye(length, dtype=torch.bool, device=vectors.device)
        for block in self.blocks:
            hidden = block(hidden, allowed)
        return self.final_norm(hidden)

    def item_tower(self, item_vectors: torch.Tensor) -> torch.Tensor:
        return item_vectors

    def train_states(self, batch: SequenceBatch, embed: ItemLookup) -> torch.Tensor:
        return self.encode(embed(batch.inputs), batch.inputs > 0)  # (B, W, d)

    def user_state(self, batch: EvalBatch, embed: ItemLookup) -> torch.Tensor:
        inputs = batch.inputs[:, -self.max_length:]  # (B, L): the newest items, left-padded
        return self.encode(embed(inputs), inputs > 0)[:, -1]  # (B, d)


def build_sasrec(config: BackboneConfig, *, num_users: int, max_length: int) -> SASRec:
    del num_users  # a sequence model describes users by their items only
    return SASRec(dim=config.embed_dim, max_length=max_length, num_blocks=config.num_blocks,
                  num_heads=config.num_heads, dropout=config.dropout,
                  norm_first=config.layer_norm == "pre", block=config.block)
