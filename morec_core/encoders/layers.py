"""Fine-tuning depth shared by the modality encoders: which parameters "the top k layers" are.

`finetune_layers` is -1 (train everything), 0 (freeze everything) or k > 0 (train the top k
layers of the encoder's own layer list). The list comes from the model's structure (a ModuleList
of transformer layers, timm's `feature_info` stages), never from parameter indices or names.

Frozen parts run in eval mode even while the model trains: their dropout is off and their
BatchNorm statistics stay fixed, so a frozen prefix is a fixed function of the input (which is
what lets the text encoder cache it, see TextFeatures.precompute_frozen).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from torch import nn


def check_depth(finetune_layers: int, num_layers: int, what: str) -> None:
    """Raise ValueError unless finetune_layers is -1, 0 or 1..num_layers."""
    if finetune_layers < -1 or finetune_layers > num_layers:
        raise ValueError(f"encoder.finetune_layers={finetune_layers}: {what} has {num_layers} "
                         f"layers; use -1 (all), 0 (frozen) or 1..{num_layers}")


def set_trainable(model: nn.Module, trainable: Iterable[nn.Parameter] | None) -> None:
    """Freeze every parameter of model except `trainable` (None: train everything)."""
    keep = None if trainable is None else {id(p) for p in trainable}
    for parameter in model.parameters():
        parameter.requires_grad_(keep is None or id(parameter) in keep)


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def eval_frozen(module: nn.Module) -> None:
    """Put every submodule whose parameters are all frozen into eval mode (dropout off, BatchNorm
    statistics fixed); modules holding a trainable parameter keep their mode."""
    for child in module.children():
        parameters = list(child.parameters())
        if parameters and not any(p.requires_grad for p in parameters):
            child.eval()
        else:
            eval_frozen(child)


def layer_list(model: nn.Module) -> nn.ModuleList:
    """The model's stack of layers: the nn.ModuleList holding the most parameters (BERT's
    encoder.layer, DistilBERT's transformer.layer, ...)."""
    best, best_size = None, 0
    for module in model.modules():
        if isinstance(module, nn.ModuleList):
            size = sum(p.numel() for p in module.parameters())
            if size > best_size:
                best, best_size = module, size
    if best is None:
        raise ValueError(f"{type(model).__name__} has no ModuleList of layers, so "
                         "encoder.finetune_layers can only be -1 or 0")
    return best


def stage_parameters(model: nn.Module, boundaries: Sequence[str]) -> list[list[nn.Parameter]]:
    """Split model's parameters into len(boundaries) consecutive stages, in registration order.

    Stage i ends with the submodule named boundaries[i] (e.g. timm's feature_info modules:
    "layer1", ..., "layer4"). What comes before the first boundary (the stem) joins stage 0;
    what comes after the last (a final conv or norm before pooling) joins the last stage.
    """
    order = {name: index for index, (name, _) in enumerate(model.named_modules())}
    ends = []
    for boundary in boundaries:
        if boundary not in order:
            raise ValueError(f"{type(model).__name__} has no submodule {boundary!r}")
        inside = [index for name, index in order.items()
                  if name == boundary or name.startswith(boundary + ".")]
        ends.append(max(inside))
    stages: list[list[nn.Parameter]] = [[] for _ in boundaries]
    for module_name, module in model.named_modules():
        position = order[module_name]
        stage = next((i for i, end in enumerate(ends) if position <= end), len(ends) - 1)
        stages[stage].extend(module.parameters(recurse=False))
    return stages


def child_stages(model: nn.Module) -> list[str]:
    """Stage boundaries of a model without feature_info (torchvision): the children that hold
    parameters. A level of at most three such children is a wrapper (MobileNet's features +
    classifier, ViT's encoder -> layers + ln), so the search descends into its largest child:
    a ResNet gives conv1, bn1, layer1..layer4, a MobileNetV3 features.0..features.12 (its
    classifier's hidden layer then joins the last stage), a ViT its encoder layers."""

    def size(module: nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    prefix, module = "", model
    while True:
        children = [(name, child) for name, child in module.named_children() if size(child)]
        name, largest = max(children, key=lambda item: size(item[1]))
        if len(children) <= 3 and sum(1 for child in largest.children() if size(child)) >= 2:
            prefix, module = prefix + name + ".", largest
            continue
        return [prefix + name for name, _ in children]
