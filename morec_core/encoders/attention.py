"""PyTorch's scaled-dot-product attention for text encoders whose transformers code lacks it.

transformers runs BERT, RoBERTa and DistilBERT on `F.scaled_dot_product_attention` already; MPNet
(the paper's sentence-embedding class, our mpnet-base) has only its eager attention: two matmuls,
a scale, two additions (relative position bias, padding mask), softmax and dropout, each its own
kernel and its own (N, heads, L, L) tensor, forward and backward. End to end on a GPU that step is
bound by the host launching kernels (benchmarks/README.md), so one fused kernel per layer counts.

`use_sdpa` swaps each eager self-attention module for `MPNetSdpaSelfAttention`, which takes over
the same q, k, v, o and dropout submodules under the same names: parameters, state-dict keys and
the optimizer's view of the model are unchanged, and so is the function computed (up to float
rounding; tests/test_attention.py compares outputs and gradients with the eager module).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from transformers.models.mpnet.modeling_mpnet import MPNetSelfAttention


class MPNetSdpaSelfAttention(nn.Module):
    """MPNet self-attention as transformers computes it, through one SDPA call.

    softmax(q k^T / sqrt(d_head) + position_bias + attention_mask) v: the additive terms become
    SDPA's float mask, which the memory-efficient kernel adds inside the fused softmax and
    differentiates (the relative position bias is trained)."""

    def __init__(self, eager: MPNetSelfAttention) -> None:
        super().__init__()
        self.num_attention_heads: int = eager.num_attention_heads
        self.attention_head_size: int = eager.attention_head_size
        self.q: nn.Linear = eager.q
        self.k: nn.Linear = eager.k
        self.v: nn.Linear = eager.v
        self.o: nn.Linear = eager.o
        self.dropout: nn.Dropout = eager.dropout

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None,
                position_bias: torch.Tensor | None = None, output_attentions: bool = False,
                **kwargs) -> tuple[torch.Tensor]:
        if output_attentions:
            raise ValueError("MPNetSdpaSelfAttention computes no attention weights; "
                             "build the model without morec's use_sdpa to inspect them")
        batch, length, _ = hidden_states.shape  # (N, L, H)

        def heads(projected: torch.Tensor) -> torch.Tensor:
            # (N, L, H) -> (N, heads, L, d_head)
            return projected.view(batch, length, self.num_attention_heads,
                                  self.attention_head_size).transpose(1, 2)

        query = heads(self.q(hidden_states))
        key = heads(self.k(hidden_states))
        value = heads(self.v(hidden_states))
        # Additive mask (N, heads, L, L) in the query's dtype, as SDPA requires: the position
        # bias (N, heads, L, L) plus the padding mask (N, 1, L, L; 0 or the dtype's minimum).
        mask = None
        for term in (position_bias, attention_mask):
            if term is not None:
                term = term.to(query.dtype)
                mask = term if mask is None else mask + term
        context = F.scaled_dot_product_attention(
            query, key, value, attn_mask=mask,
            dropout_p=self.dropout.p if self.training else 0.0)  # (N, heads, L, d_head)
        context = context.transpose(1, 2).reshape(batch, length, -1)  # (N, L, H)
        return (self.o(context),)


def use_sdpa(model: nn.Module) -> int:
    """Replace every eager MPNet self-attention in `model` by MPNetSdpaSelfAttention, in place;
    returns how many were replaced (0 for architectures transformers already runs on SDPA)."""
    try:
        from transformers.models.mpnet.modeling_mpnet import MPNetSelfAttention
    except ImportError:  # a transformers without MPNet has none to replace
        return 0
    replaced = 0
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if type(child) is MPNetSelfAttention:
                setattr(module, name, MPNetSdpaSelfAttention(child))
                replaced += 1
    return replaced


def use_eager(model: nn.Module) -> int:
    """Undo use_sdpa in place: transformers' own eager MPNet attention over the same q, k, v, o
    (to compare the two, as benchmarks/gpu_bench.py does, or to read attention weights);
    returns how many were replaced."""
    from transformers.models.mpnet.modeling_mpnet import MPNetSelfAttention

    replaced = 0
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, MPNetSdpaSelfAttention):
                eager = MPNetSelfAttention.__new__(MPNetSelfAttention)
                nn.Module.__init__(eager)  # no fresh q, k, v, o: the existing ones are moved in
                eager.num_attention_heads = child.num_attention_heads
                eager.attention_head_size = child.attention_head_size
                eager.all_head_size = child.num_attention_heads * child.attention_head_size
                eager.q, eager.k, eager.v, eager.o = child.q, child.k, child.v, child.o
                eager.dropout = child.dropout
                eager.train(child.training)
                setattr(module, name, eager)
                replaced += 1
    return replaced
