"""DSSM (Huang et al. 2013) as in the paper: a user-ID tower and an item tower, dot product.

Each tower is an embedding followed by 0..n dense layers; the paper found 0 always best (3.2).
The item tower's embedding is the item encoder (ID table or ME + DT-layer); only its dense
layers live here.
"""

from __future__ import annotations

import torch
from torch import nn

from morec_core.backbones.base import ItemLookup
from morec_core.config import BackboneConfig
from morec_core.data.batches import EvalBatch, PairBatch
from morec_core.encoders.heads import dense_layers


class DSSM(nn.Module):
    kind = "user"

    def __init__(self, *, num_users: int, dim: int, mlp_layers: int, dropout: float) -> None:
        super().__init__()
        self.users = nn.Embedding(num_users, dim)
        nn.init.xavier_normal_(self.users.weight)
        self.user_dense = dense_layers(dim, mlp_layers, dropout)
        self.item_dense = dense_layers(dim, mlp_layers, dropout)

    def item_tower(self, item_vectors: torch.Tensor) -> torch.Tensor:
        return self.item_dense(item_vectors)  # (N, d)

    def user_tower(self, users: torch.Tensor) -> torch.Tensor:
        return self.user_dense(self.users(users))  # (B, d)

    def train_states(self, batch: PairBatch, embed: ItemLookup) -> torch.Tensor:
        return self.user_tower(batch.users)

    def user_state(self, batch: EvalBatch, embed: ItemLookup) -> torch.Tensor:
        return self.user_tower(batch.users)


def build_dssm(config: BackboneConfig, *, num_users: int, max_length: int) -> DSSM:
    del max_length  # users are IDs, not sequences
    return DSSM(num_users=num_users, dim=config.embed_dim, mlp_layers=config.mlp_layers,
                dropout=config.dropout)
