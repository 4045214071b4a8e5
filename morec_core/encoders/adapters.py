"""Parameter-efficient adaptation of a pretrained network: LoRA (through peft) and Houlsby
bottleneck adapters (our own small module: peft has no bottleneck adapter).

Both insert new parameters into the network in place and freeze every pretrained weight, so the
optimizer sees only the adapters (Adapter4Rec, arXiv:2305.15036, compares these with full
fine-tuning). `insert_adapters` returns the new parameters; the feature modules (TextFeatures,
VisionFeatures) make them the encoder's only trainable ones.

Where an adapter goes is found from module names, never from parameter indices:
- LoRA: `encoder.lora_targets`, else peft's table for the architecture, else ours (MPNet,
  DistilBERT, timm ViTs), else a ValueError naming encoder.lora_targets.
- Houlsby: the output projection of each attention block and of each feed-forward block
  (HOULSBY_POINTS), whose output the adapter transforms before the residual sum and LayerNorm.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from morec_core.config import EncoderConfig
from morec_core.encoders.layers import set_trainable

# Query and value projections (LoRA's usual targets) of architectures peft's table lacks.
LORA_TARGETS = {"mpnet": ("q", "v"), "distilbert": ("q_lin", "v_lin"), "timm": ("qkv",)}

# Module names (suffixes) of the attention and feed-forward output projections: BERT, RoBERTa
# (attention.output.dense, output.dense), MPNet (attention.attn.o), DistilBERT (attention.out_lin,
# ffn.lin2), timm ViT, DeiT and Swin (attn.proj, mlp.fc2).
HOULSBY_POINTS = ("output.dense", "attn.o", "attention.out_lin", "ffn.lin2", "attn.proj",
                  "mlp.fc2")


@dataclass(frozen=True, kw_only=True)
class AdapterSpec:
    """What to insert: the encoder.adapter* settings of one run."""

    kind: str
    """lora | houlsby."""
    rank: int = 8
    """LoRA's rank r, or the Houlsby bottleneck width."""
    alpha: int = 16
    """LoRA's alpha (updates scaled by alpha / rank)."""
    targets: tuple[str, ...] = ()
    """LoRA's target module names; empty: the architecture's query and value projections."""

    @classmethod
    def of(cls, config: EncoderConfig) -> AdapterSpec | None:
        """The inserted adapter of config, or None (no adapter, or the side network, which
        lives beside the encoder: side.py)."""
        if config.adapter not in ("lora", "houlsby"):
            return None
        return cls(kind=config.adapter, rank=config.adapter_rank, alpha=config.lora_alpha,
                   targets=config.lora_targets)


class HoulsbyAdapter(nn.Module):
    """A Linear followed by a bottleneck adapter: y = base(x); y + up(gelu(down(y))).

    `up` starts at zero, so the adapted network starts as the pretrained one (Houlsby et al.
    2019's near-identity initialisation)."""

    def __init__(self, base: nn.Linear, rank: int) -> None:
        super().__init__()
        width = base.out_features
        self.base = base
        self.down = nn.Linear(width, rank)
        self.up = nn.Linear(rank, width)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        output = self.base(hidden)  # (..., width)
        return output + self.up(nn.functional.gelu(self.down(output)))


def insert_adapters(model: nn.Module, spec: AdapterSpec) -> list[nn.Parameter]:
    """Insert spec's adapters into model in place, freeze everything else; -> the adapters'
    parameters (the only ones left with requires_grad)."""
    before = {id(parameter) for parameter in model.parameters()}
    if spec.kind == "lora":
        _insert_lora(model, spec)
    elif spec.kind == "houlsby":
        _insert_houlsby(model, spec.rank)
    else:
        raise ValueError(f"encoder.adapter={spec.kind}: not an inserted adapter; known: lora, "
                         "houlsby")
    added = [parameter for parameter in model.parameters() if id(parameter) not in before]
    set_trainable(model, added)
    return added


def _lora_targets(model: nn.Module, spec: AdapterSpec) -> list[str] | None:
    """spec.targets, or None where peft knows the architecture, or our table's entry."""
    if spec.targets:
        return list(spec.targets)
    from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as PEFT_TARGETS

    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    if model_type in PEFT_TARGETS:
        return None  # peft reads model.config.model_type itself
    family = model_type or ("timm" if hasattr(model, "pretrained_cfg") else "")
    if family in LORA_TARGETS:
        names = {name.rpartition(".")[2] for name, _ in model.named_modules()}
        if set(LORA_TARGETS[family]) <= names:
            return list(LORA_TARGETS[family])
    raise ValueError(f"encoder.lora_targets: no default LoRA targets for "
                     f"{type(model).__name__}; name the modules to adapt (e.g. "
                     f"encoder.lora_targets=query,value)")


def _insert_lora(model: nn.Module, spec: AdapterSpec) -> None:
    from peft import LoraConfig, inject_adapter_in_model

    config = LoraConfig(r=spec.rank, lora_alpha=spec.alpha, lora_dropout=0.0, bias="none",
                        target_modules=_lora_targets(model, spec))
    try:
        inject_adapter_in_model(config, model)  # in place; the model keeps its class
    except ValueError as error:  # peft's "Target modules ... not found in the base model"
        raise ValueError(f"encoder.lora_targets: {error}") from error


def _insert_houlsby(model: nn.Module, rank: int) -> None:
    points = [(name, module) for name, module in model.named_modules()
              if isinstance(module, nn.Linear)
              and any(name == point or name.endswith("." + point) for point in HOULSBY_POINTS)]
    if not points:
        raise ValueError(f"encoder.adapter=houlsby: {type(model).__name__} has no attention or "
                         f"feed-forward output projection named like {', '.join(HOULSBY_POINTS)} "
                         "(a transformer is needed; use encoder.adapter=lora with "
                         "encoder.lora_targets for other networks)")
    for name, module in points:
        assert isinstance(module, nn.Linear)
        model.set_submodule(name, HoulsbyAdapter(module, rank))
