"""The text modality encoder: a pretrained transformer (BERT-like) over each item's title.

The item vector is the [CLS] (first token) hidden state of the last layer, as in the paper, or
the masked mean of the last layer. Titles come pre-tokenized (EncoderInputs.token_ids, built by
the trainer with `load_tokenizer`); each batch is cut to its longest title.

With finetune_layers = k > 0 only the top k layers learn, and the layers below are a fixed
function of the title: `precompute_frozen` runs them once over all items and caches the input of
layer n-k, after which each step runs only the top k layers.

encoder.adapter=lora|houlsby inserts adapters and trains only them (encoders/adapters.py);
encoder.packed runs the batch's titles as one unpadded token stream (encoders/packed.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from morec_core.config import EncoderConfig
from morec_core.encoder_catalog import default_model
from morec_core.encoders import carried, packaged
from morec_core.encoders.adapters import AdapterSpec, insert_adapters
from morec_core.encoders.attention import use_sdpa
from morec_core.encoders.base import EncoderInputs
from morec_core.encoders.layers import (
    check_depth,
    eval_frozen,
    layer_list,
    set_trainable,
    trainable_parameters,
)
from morec_core.encoders.packed import enable_packing, encode_packed, pack

if TYPE_CHECKING:
    from transformers import PreTrainedModel

DEFAULT_MODEL = default_model("text")


def resolve_model(model: str) -> str:
    """A packaged short name -> its verified folder; a local folder -> itself; anything else is
    passed on as a model hub id (which works only where the hub is reachable)."""
    model = model or DEFAULT_MODEL
    if model in packaged.TEXT_MODELS:
        return str(carried.packaged_or_carried(model))
    folder = Path(model).expanduser()
    if folder.is_dir():
        return str(folder)
    if model.startswith((".", "/", "~")):
        raise FileNotFoundError(f"text model {model!r}: no such folder")
    return model


@contextmanager
def _hub_errors(model: str, source: str) -> Iterator[None]:
    """Say what was tried when a name that is neither packaged nor local fails on the hub."""
    try:
        yield
    except OSError as error:
        if Path(source).is_dir():
            raise
        raise OSError(
            f"text model {model!r} is not a packaged model ({', '.join(packaged.TEXT_MODELS)}), "
            f"not a local folder, and could not be loaded from the model hub: {error}") from error


def load_tokenizer(model: str):
    """The tokenizer of text model `model` (packaged name, local folder or hub id); the trainer
    builds the token cache (EncoderInputs.token_ids) with it."""
    from transformers import AutoTokenizer

    source = resolve_model(model)
    with _hub_errors(model, source):
        return AutoTokenizer.from_pretrained(source)


def load_text_model(model: str, *, pretrained: bool = True) -> PreTrainedModel:
    """A transformers AutoModel; pretrained=False builds the same architecture with random
    weights (paper Table 4). Attention is transformers' default, which is sdpa wherever the
    architecture has it (BERT, RoBERTa, DistilBERT); MPNet's eager attention is swapped for
    SDPA by TextFeatures (encoders/attention.py)."""
    import sys

    from transformers import AutoConfig, AutoModel
    from transformers.utils import logging as transformers_logging

    if not sys.stderr.isatty():
        # transformers' "Loading weights" bar: carriage returns in a worker's log, and no news.
        transformers_logging.disable_progress_bar()
    source = resolve_model(model)
    with _hub_errors(model, source):
        if pretrained:
            # fp32 master weights whatever the checkpoint's dtype (an fp16 copy would otherwise
            # train in fp16 under AdamW); autocast gives bf16 compute on a GPU.
            return AutoModel.from_pretrained(source).float()
        return AutoModel.from_config(AutoConfig.from_pretrained(source)).float()


class _CachedInput(nn.Module):
    """Stands in for the embedding block while the frozen layers are skipped: returns the cached
    input of the first trained layer for the current batch, whatever it is called with."""

    def __init__(self) -> None:
        super().__init__()
        self.batch: torch.Tensor | None = None

    def forward(self, *args, **kwargs) -> torch.Tensor | None:
        return self.batch  # None only outside TextFeatures._top_layers_only


class TextFeatures(nn.Module):
    """Transformer over titles: item_ids (N,) -> (N, hidden_size)."""

    token_ids: torch.Tensor  # buffers, registered in __init__
    token_lengths: torch.Tensor
    frozen_cache: torch.Tensor | None

    def __init__(self, model: PreTrainedModel, token_ids: np.ndarray,
                 token_lengths: np.ndarray, *, pooling: str = "cls",
                 finetune_layers: int = -1, adapter: AdapterSpec | None = None,
                 packed: bool = False) -> None:
        super().__init__()
        if pooling not in ("cls", "mean"):
            raise ValueError(f"unknown pooling {pooling!r}; known: cls, mean")
        if token_ids.ndim != 2 or token_lengths.shape != (token_ids.shape[0],):
            raise ValueError(f"token_ids {token_ids.shape} and token_lengths "
                             f"{token_lengths.shape} do not describe the same items")
        if token_lengths.size and int(token_lengths.max()) > token_ids.shape[1]:
            raise ValueError(f"a token length {int(token_lengths.max())} exceeds the "
                             f"{token_ids.shape[1]} columns of token_ids")
        vocab_size = model.config.vocab_size
        if token_ids.size and int(token_ids.max()) >= vocab_size:
            raise ValueError(f"token id {int(token_ids.max())} >= vocabulary size {vocab_size}: "
                             "the token cache was built with another model's tokenizer")
        # The [CLS] hidden state is read directly (as in the paper), so a pooler head is dead
        # weight: drop it rather than train parameters that never get a gradient.
        if getattr(model, "pooler", None) is not None:
            # torch types Module.__setattr__'s value as Tensor | Module, but None is how a
            # registered submodule is removed (nn.Module.__setattr__ accepts it).
            model.pooler = None  # type: ignore[assignment]
        # PyTorch's fused attention where transformers has only eager attention (MPNet): the
        # same function and parameters in less memory, and faster compiled (train.compile;
        # benchmarks/README.md, gpu_attention.py).
        use_sdpa(model)
        if packed:
            # Titles as one token stream without padding (encoders/packed.py).
            enable_packing(model)
        self.packed = packed
        self.model = model
        self.pooling = pooling
        self.finetune_layers = finetune_layers
        self.feature_dim = int(model.config.hidden_size)
        pad_id = model.config.pad_token_id
        self.pad_id = 0 if pad_id is None else int(pad_id)
        self.register_buffer("token_ids", torch.from_numpy(np.asarray(token_ids, np.int32)),
                             persistent=False)  # (num_items + 1, T)
        self.register_buffer("token_lengths",
                             torch.from_numpy(np.asarray(token_lengths, np.int64)).clamp(min=1),
                             persistent=False)  # (num_items + 1,); >= 1 so no row is all-masked
        self.register_buffer("frozen_cache", None, persistent=False)  # (num_items + 1, T, H)

        if adapter is not None:
            # LoRA or Houlsby adapters (encoders/adapters.py): they alone train.
            insert_adapters(model, adapter)
        elif finetune_layers == -1:
            set_trainable(model, None)
        elif finetune_layers == 0:
            set_trainable(model, [])
        else:
            layers = layer_list(model)
            check_depth(finetune_layers, len(layers), type(model).__name__)
            set_trainable(model, [p for layer in layers[len(layers) - finetune_layers:]
                                  for p in layer.parameters()])
        self.train(self.training)

    def train(self, mode: bool = True) -> TextFeatures:
        super().train(mode)
        eval_frozen(self)
        return self

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"encoder": trainable_parameters(self.model)}

    def compile_network(self) -> None:
        """torch.compile the transformer in place (train.compile), with dynamic shapes: the
        number of items and the title width change at every step and must not recompile.
        nn.Module.compile keeps the parameters' names, so checkpoints are unchanged."""
        if self.finetune_layers > 0:
            raise ValueError("train.compile: the top-k path swaps the transformer's modules at "
                             "every step; compile the whole encoder (finetune_layers -1 or 0)")
        self.model.compile(dynamic=True)

    def forward(self, item_ids: torch.Tensor) -> torch.Tensor:
        if self.packed:
            titles = pack(self.token_ids, self.token_lengths, item_ids)  # (1, S) stream
            with torch.set_grad_enabled(torch.is_grad_enabled() and self.finetune_layers != 0):
                return encode_packed(self.model, titles, pooling=self.pooling)  # (N, H)
        input_ids, mask = self.padded_tokens(item_ids)  # (N, L) each
        width = input_ids.shape[1]
        if self.frozen_cache is not None:
            # transformers returns the embedding as an nn.Module, whose attributes torch types
            # as Tensor | Module; its weight is a Parameter.
            embedding = self.model.get_input_embeddings()
            weight: torch.Tensor = embedding.weight  # type: ignore[assignment]
            dtype = weight.dtype
            with self._top_layers_only() as cached:
                cached.batch = self.frozen_cache[item_ids, :width].to(dtype)
                hidden = self.model(input_ids=input_ids, attention_mask=mask.long())
                cached.batch = None
        elif self.finetune_layers == 0:
            with torch.no_grad():
                hidden = self.model(input_ids=input_ids, attention_mask=mask.long())
        else:
            hidden = self.model(input_ids=input_ids, attention_mask=mask.long())
        return pool_hidden(hidden.last_hidden_state, mask, self.pooling)  # (N, H)

    def padded_tokens(self, item_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """item_ids (N,) -> input ids (N, L) int64 padded with the pad token, and the mask of
        real tokens (N, L) bool; L is the batch's longest title."""
        lengths = self.token_lengths[item_ids]  # (N,)
        width = int(lengths.max())
        input_ids = self.token_ids[item_ids, :width].long()  # (N, L)
        mask = torch.arange(width, device=lengths.device) < lengths[:, None]  # (N, L)
        return input_ids.masked_fill(~mask, self.pad_id), mask

    @torch.no_grad()
    def precompute_frozen(self, batch_size: int = 256, dtype: torch.dtype | None = None) -> None:
        """Run the frozen layers (embeddings and the n-k lower layers) once over every item and
        keep their output, so that forward runs only the top k layers.

        Exact, since frozen layers run in eval mode. Costs (num_items + 1) x T x hidden_size
        values of `dtype` (default float32) on the model's device: call it after moving the
        module, and pass torch.bfloat16 to halve that.
        """
        if self.finetune_layers <= 0:
            raise ValueError("precompute_frozen needs encoder.finetune_layers = k > 0; a frozen "
                             "encoder (0) is cached whole by mode=two_stage")
        self._embedding_owner()  # fail now, not at the first step, where there is none
        self.frozen_cache = None
        layers = layer_list(self.model)
        first_top = layers[len(layers) - self.finetune_layers]
        parent, attribute = self._layer_owner()
        count, width = self.token_ids.shape
        cache = torch.empty(count, width, self.feature_dim, dtype=dtype or torch.float32,
                            device=self.token_ids.device)
        captured: list[torch.Tensor] = []

        def capture(module: nn.Module, args: tuple, kwargs: dict) -> None:
            # The first trained layer's input, whatever the architecture calls it.
            captured.append(args[0] if args else next(iter(kwargs.values())))

        hook = first_top.register_forward_pre_hook(capture, with_kwargs=True)
        mode = self.model.training
        self.model.eval()
        # The layers above the first trained one are not needed to fill the cache.
        setattr(parent, attribute, nn.ModuleList(layers[:len(layers) - self.finetune_layers + 1]))
        try:
            for begin in range(0, count, batch_size):
                ids = torch.arange(begin, min(begin + batch_size, count),
                                   device=self.token_ids.device)
                mask = torch.arange(width, device=ids.device) < self.token_lengths[ids, None]
                input_ids = self.token_ids[ids].long().masked_fill(~mask, self.pad_id)
                captured.clear()
                self.model(input_ids=input_ids, attention_mask=mask.long())
                cache[ids] = captured[0].to(cache.dtype)  # (B, T, H): input of layer n-k
        finally:
            hook.remove()
            setattr(parent, attribute, layers)
            self.model.train(mode)
            self.train(self.training)
        self.frozen_cache = cache

    def clear_frozen_cache(self) -> None:
        self.frozen_cache = None

    def _layer_owner(self) -> tuple[nn.Module, str]:
        layers = layer_list(self.model)
        for module in self.model.modules():
            for name, child in module.named_children():
                if child is layers:
                    return module, name
        raise AssertionError("the layer list belongs to no module")

    def _embedding_owner(self) -> tuple[nn.Module, str]:
        """The embedding block (BERT's `embeddings`): the submodule that holds the input word
        embedding, whose output is the first layer's input."""
        words = self.model.get_input_embeddings()
        for name, child in self.model.named_children():
            if any(grandchild is words for grandchild in child.children()):
                return self.model, name
        raise ValueError(f"{type(self.model).__name__} has no embedding block in front of its "
                         "layers, so precompute_frozen cannot skip them; train without it")

    @contextmanager
    def _top_layers_only(self) -> Iterator[_CachedInput]:
        """Temporarily replace the embedding block by the cache and the layer list by its top k
        layers; the model's own forward still builds the attention mask and position biases."""
        layers = layer_list(self.model)
        layer_parent, layer_attribute = self._layer_owner()
        embed_parent, embed_attribute = self._embedding_owner()
        embeddings = getattr(embed_parent, embed_attribute)
        cached = _CachedInput()
        setattr(embed_parent, embed_attribute, cached)
        setattr(layer_parent, layer_attribute,
                nn.ModuleList(layers[len(layers) - self.finetune_layers:]))
        try:
            yield cached
        finally:
            setattr(embed_parent, embed_attribute, embeddings)
            setattr(layer_parent, layer_attribute, layers)


def pool_hidden(hidden: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """hidden (N, L, H), mask (N, L) of real tokens -> (N, H): the first ([CLS]) token's state,
    or the mean over the real tokens."""
    if pooling == "cls":
        return hidden[:, 0]
    weights = mask.to(hidden.dtype).unsqueeze(-1)  # (N, L, 1)
    return (hidden * weights).sum(1) / weights.sum(1)


def build_text_encoder(config: EncoderConfig, inputs: EncoderInputs) -> TextFeatures:
    """The feature module of encoder "text": config.model over inputs.token_ids."""
    if inputs.token_ids is None or inputs.token_lengths is None:
        raise ValueError("the text encoder needs EncoderInputs.token_ids and token_lengths "
                         "(tokenized with load_tokenizer(config.model))")
    if inputs.token_ids.shape[0] != inputs.num_items + 1:
        raise ValueError(f"token_ids has {inputs.token_ids.shape[0]} rows, expected "
                         f"num_items + 1 = {inputs.num_items + 1}")
    model = load_text_model(config.model, pretrained=config.pretrained)
    return TextFeatures(model, inputs.token_ids, inputs.token_lengths, pooling=config.pooling,
                        finetune_layers=config.finetune_layers, adapter=AdapterSpec.of(config),
                        packed=config.packed)
