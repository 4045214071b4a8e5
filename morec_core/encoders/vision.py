"""The image modality encoder: a pretrained CNN or vision transformer over each item's image.

`config.model` names the network:
  mobilenetv2           the packaged torchvision ImageNet MobileNetV2 (offline; the default)
  <timm name>           e.g. resnet50, swin_tiny_patch4_window7_224 (weights from the hub)
  <timm name>@<file>    the same with weights from a local file (timm's key layout)
  tv:<name>[@<file>]    a torchvision model (weights: its DEFAULT download, or a local state dict)
The classifier is removed; the item vector is the pooled feature (N, feature_dim).

Top-k fine-tuning trains the last k stages: timm's `feature_info` stages (ResNet: stem, layer1..4;
MobileNetV2: 5 stages by resolution), or for torchvision the children of the model's body
(layers.child_stages). Frozen stages run in eval mode, so their BatchNorm statistics stay fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from morec_core.config import EncoderConfig
from morec_core.encoder_catalog import default_model
from morec_core.encoders import packaged
from morec_core.encoders.adapters import AdapterSpec, insert_adapters
from morec_core.encoders.base import EncoderInputs
from morec_core.encoders.layers import (
    check_depth,
    child_stages,
    eval_frozen,
    set_trainable,
    stage_parameters,
    trainable_parameters,
)

DEFAULT_MODEL = default_model("vision")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Backbone:
    """A network without its classifier, and what using it needs."""

    module: nn.Module
    feature_dim: int
    """Size of the pooled feature the module returns."""
    mean: tuple[float, ...]
    """Per-channel mean of the inputs the weights were trained on (on the 0..1 scale)."""
    std: tuple[float, ...]
    """Per-channel standard deviation of those inputs."""
    stages: tuple[str, ...]
    """Names of the submodules that end each stage, bottom to top (layers.stage_parameters)."""


class VisionFeatures(nn.Module):
    """A backbone without its classifier over uint8 images: item_ids (N,) -> (N, feature_dim)."""

    mean: torch.Tensor  # buffers, registered in __init__
    std: torch.Tensor

    def __init__(self, network: Backbone, images: np.ndarray, *,
                 finetune_layers: int = -1, adapter: AdapterSpec | None = None) -> None:
        super().__init__()
        if images.ndim != 4 or images.shape[3] != 3 or images.dtype != np.uint8:
            raise ValueError(f"images must be (num_items + 1, S, S, 3) uint8, got "
                             f"{images.shape} {images.dtype}")
        backbone = network.module.to(memory_format=torch.channels_last)
        self.backbone = backbone
        self.images = images  # often a read-only memory map: read per batch, never copied whole
        self.feature_dim = int(network.feature_dim)
        self.finetune_layers = finetune_layers
        self.register_buffer("mean", torch.tensor(network.mean).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(network.std).view(1, 3, 1, 1), persistent=False)
        stages = network.stages
        if adapter is not None:
            # LoRA or Houlsby adapters (encoders/adapters.py): they alone train.
            insert_adapters(backbone, adapter)
        elif finetune_layers == -1:
            set_trainable(backbone, None)
        elif finetune_layers == 0:
            set_trainable(backbone, [])
        else:
            check_depth(finetune_layers, len(stages), type(backbone).__name__)
            groups = stage_parameters(backbone, stages)
            set_trainable(backbone, [p for group in groups[len(groups) - finetune_layers:]
                                     for p in group])
        self.train(self.training)

    def train(self, mode: bool = True) -> VisionFeatures:
        super().train(mode)
        eval_frozen(self)
        return self

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"encoder": trainable_parameters(self.backbone)}

    def compile_network(self) -> None:
        """torch.compile the vision network in place (train.compile); the number of items
        changes at every step, so shapes are dynamic. Parameter names are unchanged."""
        self.backbone.compile(dynamic=True)

    def pixels(self, item_ids: torch.Tensor) -> torch.Tensor:
        """(N,) ids -> (N, 3, S, S) normalised float, channels_last, on the module's device."""
        rows = self.images[item_ids.cpu().numpy()]  # (N, S, S, 3) uint8
        batch = torch.from_numpy(np.ascontiguousarray(rows)).to(self.mean.device,
                                                                 non_blocking=True)
        # Convert on the device: uint8 crosses the bus at a quarter of float32's size.
        batch = batch.permute(0, 3, 1, 2).float().div_(255)
        batch = (batch - self.mean) / self.std
        return batch.contiguous(memory_format=torch.channels_last)

    def forward(self, item_ids: torch.Tensor) -> torch.Tensor:
        pixels = self.pixels(item_ids)
        if self.finetune_layers == 0:
            with torch.no_grad():
                return self.backbone(pixels)
        return self.backbone(pixels)  # (N, feature_dim)


def _split_file(model: str) -> tuple[str, Path | None]:
    name, at, file = model.partition("@")
    if not at:
        return name, None
    path = Path(file).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"vision model {model!r}: no weights file {path}")
    return name, path


def timm_backbone(name: str, *, pretrained: bool, file: Path | None = None) -> Backbone:
    """A timm model without its classifier; stages from its feature_info."""
    import timm

    overlay: dict[str, Any] = ({"pretrained_cfg_overlay": {"file": str(file)}}
                               if file is not None else {})
    try:
        model = timm.create_model(name, pretrained=pretrained, num_classes=0, **overlay)
    except OSError as error:
        raise OSError(f"vision model {name!r}: pretrained weights could not be loaded ({error}); "
                      f"pass a local file as {name}@<file>, or use the packaged "
                      f"{', '.join(PACKAGED)}") from error
    config = timm.data.resolve_model_data_config(model)
    info = getattr(model, "feature_info", None)
    stages = [entry["module"] for entry in info] if info else child_stages(model)
    # create_model is typed nn.Module, whose attributes torch types as Tensor | Module; every
    # timm model sets num_features, an int.
    return Backbone(model, model.num_features,  # type: ignore[arg-type]
                    tuple(config["mean"]), tuple(config["std"]), tuple(stages))


def packaged_mobilenet_v2(*, pretrained: bool) -> Backbone:
    """timm's mobilenetv2_100 with the packaged torchvision ImageNet weights.

    The two implementations hold the same tensors in the same order (MODELS.md), so the
    torchvision state dict is re-keyed by position, every shape checked, and loaded strictly."""
    network = timm_backbone("mobilenetv2_100", pretrained=False)
    model = network.module
    if pretrained:
        path = packaged.mobilenet_v2()
        source = torch.load(path, map_location="cpu", weights_only=True)
        source = {k: v for k, v in source.items() if not k.startswith("classifier.")}
        target = model.state_dict()
        if len(source) != len(target):
            raise ValueError(f"{path}: {len(source)} tensors, timm mobilenetv2_100 has "
                             f"{len(target)}")
        rekeyed = {}
        for (theirs, tensor), (ours, expected) in zip(source.items(), target.items(), strict=True):
            if tensor.shape != expected.shape:
                raise ValueError(f"{path}: {theirs} {tuple(tensor.shape)} does not fit "
                                 f"{ours} {tuple(expected.shape)}")
            rekeyed[ours] = tensor
        model.load_state_dict(rekeyed, strict=True)
    # torchvision's weights were trained with the ImageNet mean/std.
    return Backbone(model, network.feature_dim, IMAGENET_MEAN, IMAGENET_STD, network.stages)


PACKAGED = {"mobilenetv2": packaged_mobilenet_v2}


def torchvision_backbone(name: str, *, pretrained: bool, file: Path | None = None) -> Backbone:
    """A torchvision classifier with its last Linear (the ImageNet head) made an identity."""
    import torchvision

    weights = "DEFAULT" if pretrained and file is None else None
    try:
        model = torchvision.models.get_model(name, weights=weights)
    except OSError as error:
        raise OSError(f"vision model tv:{name}: pretrained weights could not be downloaded "
                      f"({error}); pass a local state dict as tv:{name}@<file>") from error
    if pretrained and file is not None:
        model.load_state_dict(torch.load(file, map_location="cpu", weights_only=True),
                              strict=True)
    head_name = [n for n, module in model.named_modules() if isinstance(module, nn.Linear)][-1]
    head = model.get_submodule(head_name)
    model.set_submodule(head_name, nn.Identity())
    return Backbone(model, head.in_features, IMAGENET_MEAN, IMAGENET_STD,
                    tuple(child_stages(model)))


def load_vision_backbone(model: str, *, pretrained: bool = True) -> Backbone:
    """The backbone named by `model` (see the module docstring)."""
    model = model or DEFAULT_MODEL
    if model in PACKAGED:
        return PACKAGED[model](pretrained=pretrained)
    if model.startswith("tv:"):
        name, file = _split_file(model.removeprefix("tv:"))
        return torchvision_backbone(name, pretrained=pretrained, file=file)
    name, file = _split_file(model)
    return timm_backbone(name, pretrained=pretrained, file=file)


def build_vision_encoder(config: EncoderConfig, inputs: EncoderInputs) -> VisionFeatures:
    """The feature module of encoder "vision": config.model over inputs.images."""
    if inputs.images is None:
        raise ValueError("the vision encoder needs EncoderInputs.images")
    if inputs.images.shape[0] != inputs.num_items + 1:
        raise ValueError(f"images has {inputs.images.shape[0]} rows, expected num_items + 1 = "
                         f"{inputs.num_items + 1}")
    network = load_vision_backbone(config.model, pretrained=config.pretrained)
    return VisionFeatures(network, inputs.images, finetune_layers=config.finetune_layers,
                          adapter=AdapterSpec.of(config))
