"""Packed encoding of a batch's distinct titles: one token stream, no padding (encoder.packed).

The padded path runs N titles as an (N, L) batch cut to the longest title, so every shorter title
pays for L tokens in each projection and feed-forward layer, and attention for L x L. Packed, the
N titles are one (1, S) stream, S = the sum of their lengths, each title's positions restarting
at 0; every layer but attention is token-wise and sees exactly the S real tokens. Attention must
stay within each title: `packed_attention` runs PyTorch's SDPA on a nested jagged tensor cut at
the titles' offsets (`cu_seq_lens_q`, the name transformers' own variable-length kwargs use; on
a GPU, variable-length fused kernels), or on the titles re-padded for attention alone (kernel
"repad", the CPU's default: nested SDPA has no CPU kernel and loops over the titles), or on the
stream with a block-diagonal mask (kernel "block": exact, but S x S, a reference).

It plugs into transformers' attention interface (registered as "morec_packed"), so it works for
architectures whose attention calls that interface and whose positions are absolute position
ids (BERT, RoBERTa, DistilBERT...); MPNet's relative position bias is computed from the padded
shape and is refused. Without packing arguments the function is transformers' SDPA, so padded
calls on the same model (evaluation, a benchmark) are unchanged. tests/encoders/test_packed.py
checks outputs and gradients against the padded path.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from transformers import PreTrainedModel

ATTENTION = "morec_packed"
KERNELS = ("auto", "jagged", "repad", "block")


@dataclass(frozen=True)
class PackedTitles:
    """N titles as one stream of S tokens."""

    input_ids: torch.Tensor
    """(1, S) int64 token ids, title after title."""
    position_ids: torch.Tensor
    """(1, S) int64 position of each token within its title."""
    offsets: torch.Tensor
    """(N + 1,) int64 where each title starts in the stream, then S."""
    segments: torch.Tensor
    """(S,) int64 which title each token belongs to."""
    lengths: torch.Tensor
    """(N,) int64 tokens of each title."""
    mask: torch.Tensor
    """(N, W) bool: which slots of the padded batch hold the stream's tokens (W = longest)."""
    longest: int
    """W, the longest title's length."""
    shortest: int
    """The shortest title's length (with `longest`, spares the jagged kernels a device sync
    per layer to find them)."""


def pack(token_ids: torch.Tensor, token_lengths: torch.Tensor,
         item_ids: torch.Tensor) -> PackedTitles:
    """token_ids (I + 1, T), token_lengths (I + 1,) >= 1, item_ids (N,) -> their titles packed."""
    lengths = token_lengths[item_ids].long()  # (N,)
    width = int(lengths.max())
    mask = torch.arange(width, device=lengths.device) < lengths[:, None]  # (N, W)
    input_ids = token_ids[item_ids, :width].long()[mask]  # (S,): row-major, title after title
    positions = torch.arange(width, device=lengths.device).expand_as(mask)[mask]  # (S,)
    offsets = F.pad(lengths.cumsum(0), (1, 0))  # (N + 1,)
    segments = torch.repeat_interleave(torch.arange(len(lengths), device=lengths.device),
                                       lengths)  # (S,)
    return PackedTitles(input_ids=input_ids[None], position_ids=positions[None],
                        offsets=offsets, segments=segments, lengths=lengths, mask=mask,
                        longest=width, shortest=int(lengths.min()))


def packed_attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor,
                     value: torch.Tensor, attention_mask: torch.Tensor | None,
                     dropout: float = 0.0, scaling: float | None = None,
                     **kwargs) -> tuple[torch.Tensor, None]:
    """transformers' attention-interface signature. query, key, value: (1, heads, S, d) when
    kwargs carries cu_seq_lens_q (N + 1,) offsets -> ((1, S, heads, d), None), attention within
    each title only; otherwise transformers' SDPA on the padded batch."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    offsets = kwargs.get("cu_seq_lens_q")
    if offsets is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask,
                                      dropout=dropout, scaling=scaling, **kwargs)
    kernel = kwargs.get("morec_kernel", "jagged")
    if kernel == "repad":
        # Attention alone on the padded (N, heads, W, d) batch, everything else on the S real
        # tokens: dense kernels where the jagged one has none (on a CPU, nested SDPA loops over
        # the titles one by one); projections and feed-forward dominate at title lengths.
        mask = kwargs["morec_mask"]  # (N, W)

        def padded(projected: torch.Tensor) -> torch.Tensor:
            values = projected[0].transpose(0, 1)  # (S, heads, d)
            slots = values.new_zeros(*mask.shape, *values.shape[1:])  # (N, W, heads, d)
            return slots.index_put((mask,), values).transpose(1, 2)  # (N, heads, W, d)

        context = F.scaled_dot_product_attention(padded(query), padded(key), padded(value),
                                                 attn_mask=mask[:, None, None, :],
                                                 dropout_p=dropout, scale=scaling)
        return context.transpose(1, 2)[mask][None], None  # (1, S, heads, d)
    if kernel == "block":
        segments = kwargs["morec_segments"]  # (S,)
        same_title = segments[:, None] == segments[None, :]  # (S, S)
        context = F.scaled_dot_product_attention(query, key, value, attn_mask=same_title,
                                                 dropout_p=dropout, scale=scaling)
        return context.transpose(1, 2), None  # (1, S, heads, d)

    def jagged(projected: torch.Tensor) -> torch.Tensor:
        # (1, heads, S, d) -> (S, heads, d) -> nested (N, j, heads, d) -> (N, heads, j, d)
        values = projected[0].transpose(0, 1)
        return torch.nested.nested_tensor_from_jagged(
            values, offsets=offsets, min_seqlen=kwargs.get("morec_min_length"),
            max_seqlen=kwargs.get("max_length_q")).transpose(1, 2)

    context = F.scaled_dot_product_attention(jagged(query), jagged(key), jagged(value),
                                             dropout_p=dropout, scale=scaling)
    return context.transpose(1, 2).values()[None], None  # (1, S, heads, d)


def check_packable(model: PreTrainedModel) -> None:
    """Raise ValueError naming encoder.packed unless model can run packed."""
    name = type(model).__name__
    if not getattr(model, "_supports_attention_backend", False):
        raise ValueError(f"encoder.packed: {name}'s attention does not run through "
                         "transformers' attention interface (MPNet computes a relative position "
                         "bias from the padded shape); use a BERT-like model or packed=false")
    if "position_ids" not in inspect.signature(model.forward).parameters:
        raise ValueError(f"encoder.packed: {name} takes no position_ids, so each title's "
                         "positions cannot restart at 0; use packed=false")
    embedding = getattr(model.config, "position_embedding_type", "absolute")
    if embedding != "absolute":
        raise ValueError(f"encoder.packed: {name} uses {embedding} position embeddings; "
                         "packing needs absolute ones")


def enable_packing(model: PreTrainedModel) -> None:
    """Route model's attention through packed_attention (padded calls are unchanged)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    check_packable(model)
    AttentionInterface.register(ATTENTION, packed_attention)
    AttentionMaskInterface.register(ATTENTION, sdpa_mask)  # padded calls build SDPA's mask
    model.set_attn_implementation(ATTENTION)


def auto_kernel(device: torch.device) -> str:
    """The kernel of kernel="auto": jagged on CUDA (fused variable-length attention), repad
    elsewhere (nested SDPA has no CPU kernel)."""
    return "jagged" if device.type == "cuda" else "repad"


def encode_packed(model: PreTrainedModel, titles: PackedTitles, *, pooling: str,
                  kernel: str = "auto") -> torch.Tensor:
    """Run model (after enable_packing) over packed titles -> (N, H) pooled per title: the
    first token's state (cls) or the mean of the title's states (mean).

    kernel: jagged (nested-tensor SDPA: variable-length flash or memory-efficient attention on
    a GPU) | repad (attention on the re-padded batch) | block (block-diagonal mask, S x S: a
    reference) | auto (jagged on CUDA, repad elsewhere)."""
    if kernel not in KERNELS:
        raise ValueError(f"unknown packed kernel {kernel!r}; known: {', '.join(KERNELS)}")
    if kernel == "auto":
        kernel = auto_kernel(titles.input_ids.device)
    # RoBERTa-style embeddings number positions from padding_idx + 1 (what they compute
    # themselves from padded input ids); BERT-style from 0.
    padding_idx = getattr(getattr(model, "embeddings", None), "padding_idx", None)
    offset = 0 if padding_idx is None else int(padding_idx) + 1
    # No attention_mask: nothing is padding; the kwargs reach packed_attention.
    hidden = model(input_ids=titles.input_ids, position_ids=titles.position_ids + offset,
                   cu_seq_lens_q=titles.offsets, cu_seq_lens_k=titles.offsets,
                   max_length_q=titles.longest, max_length_k=titles.longest,
                   morec_min_length=titles.shortest,
                   morec_kernel=kernel, morec_segments=titles.segments,
                   morec_mask=titles.mask).last_hidden_state[0]
    # hidden: (S, H)
    if pooling == "cls":
        return hidden[titles.offsets[:-1]]
    sums = hidden.new_zeros(len(titles.lengths), hidden.shape[1]).index_add_(
        0, titles.segments, hidden)  # (N, H)
    return sums / titles.lengths[:, None].to(hidden.dtype)
