"""The vision feature module on tiny timm / torchvision networks, and the packaged MobileNetV2."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from morec_core.config import EncoderConfig
from morec_core.encoders import packaged
from morec_core.encoders.base import EncoderInputs
from morec_core.encoders.vision import IMAGENET_MEAN, VisionFeatures, build_vision_encoder

timm = pytest.importorskip("timm")

NUM_ITEMS = 6


@pytest.fixture
def images(tmp_path) -> np.ndarray:
    """(num_items + 1, 32, 32, 3) uint8 as the content cache stores them: a read-only memmap."""
    pixels = np.random.default_rng(0).integers(0, 256, (NUM_ITEMS + 1, 32, 32, 3), np.uint8)
    np.save(tmp_path / "images.npy", pixels)
    return np.load(tmp_path / "images.npy", mmap_mode="r")


def build(model: str, images, **config) -> VisionFeatures:
    torch.manual_seed(0)
    config = EncoderConfig(name="vision", model=model, **{"pretrained": False, **config})
    return build_vision_encoder(config, EncoderInputs(num_items=NUM_ITEMS, images=images))


def test_timm_model_gives_pooled_features_and_trains(images):
    features = build("test_resnet", images).train()
    out = features(torch.tensor([1, 2, 0, 6]))
    assert out.shape == (4, features.feature_dim) and features.feature_dim == 96
    assert torch.isfinite(out).all()
    out.square().mean().backward()
    assert all(p.grad is not None for p in features.parameter_groups()["encoder"])


def test_pixels_are_normalised_channels_last(images):
    features = build("test_resnet", images)
    pixels = features.pixels(torch.tensor([3, 5]))
    assert pixels.shape == (2, 3, 32, 32)
    assert pixels.is_contiguous(memory_format=torch.channels_last)
    raw = torch.from_numpy(np.array(images[[3, 5]])).permute(0, 3, 1, 2).float() / 255
    # The model's own data config, which for test_resnet is not ImageNet's.
    config = timm.data.resolve_model_data_config(timm.create_model("test_resnet"))
    assert tuple(config["mean"]) != IMAGENET_MEAN
    mean, std = (torch.tensor(config[key]).view(1, 3, 1, 1) for key in ("mean", "std"))
    torch.testing.assert_close(pixels, (raw - mean) / std)


def test_top_k_stages_train_and_frozen_batchnorm_stays_fixed(images):
    frozen = build("test_resnet", images, finetune_layers=0).train()
    assert frozen.parameter_groups() == {"encoder": []}
    assert not frozen(torch.tensor([1, 2])).requires_grad

    top = build("test_resnet", images, finetune_layers=1).train()
    backbone = top.backbone
    trainable = {id(p) for p in top.parameter_groups()["encoder"]}
    assert trainable == {id(p) for p in backbone.layer4.parameters()}
    before = {name: module.running_mean.clone() for name, module in backbone.named_modules()
              if isinstance(module, torch.nn.BatchNorm2d)}
    top(torch.tensor([1, 2, 3])).sum().backward()
    for name, module in backbone.named_modules():
        if name in before:
            moved = not torch.equal(module.running_mean, before[name])
            assert moved == name.startswith("layer4."), name

    two = build("test_resnet", images, finetune_layers=2)
    assert {id(p) for p in two.parameter_groups()["encoder"]} == \
        {id(p) for p in [*two.backbone.layer3.parameters(), *two.backbone.layer4.parameters()]}
    with pytest.raises(ValueError, match="finetune_layers=6"):
        build("test_resnet", images, finetune_layers=6)


def test_weights_from_a_local_file(images, tmp_path):
    torch.manual_seed(1)
    source = timm.create_model("test_resnet", pretrained=False)
    torch.save(source.state_dict(), tmp_path / "weights.pth")
    features = build(f"test_resnet@{tmp_path / 'weights.pth'}", images, pretrained=True)
    loaded = features.backbone.state_dict()
    assert torch.equal(loaded["layer1.0.conv1.weight"], source.state_dict()["layer1.0.conv1.weight"])
    with pytest.raises(FileNotFoundError, match="no weights file"):
        build(f"test_resnet@{tmp_path / 'missing.pth'}", images, pretrained=True)


def test_torchvision_model_loses_its_classifier(images):
    features = build("tv:mobilenet_v3_small", images, finetune_layers=1)
    out = features(torch.tensor([1, 2]))
    assert out.shape == (2, 1024) and features.feature_dim == 1024
    # MobileNetV3's stages are the blocks of `features`; the classifier's hidden Linear (what
    # remains of the classifier) comes after the last block, so it joins the top stage.
    backbone = features.backbone
    top = [*backbone.features[-1].parameters(), *backbone.classifier.parameters()]
    assert {id(p) for p in features.parameter_groups()["encoder"]} == {id(p) for p in top}


@pytest.mark.skipif(not packaged.installed("mobilenetv2"),
                    reason="packaged MobileNetV2 not installed: "
                           + "; ".join(packaged.pip_lines("mobilenetv2")))
def test_packaged_mobilenet_v2_is_torchvisions_network(tmp_path):
    torchvision = pytest.importorskip("torchvision")
    pixels = np.random.default_rng(1).integers(0, 256, (3, 64, 64, 3), np.uint8)
    features = build_vision_encoder(EncoderConfig(name="vision", model="mobilenetv2",
                                                  finetune_layers=0),
                                    EncoderInputs(num_items=2, images=pixels)).eval()
    assert features.feature_dim == 1280
    ours = features(torch.tensor([1, 2]))
    assert ours.shape == (2, 1280) and torch.isfinite(ours).all()
    assert (ours[0] - ours[1]).abs().max() > 1e-3 and ours.std() > 1e-3

    # The same file loaded strictly into torchvision's own MobileNetV2 computes the same features,
    # so the positional re-keying into timm's layout is right.
    reference = torchvision.models.mobilenet_v2()
    reference.load_state_dict(torch.load(packaged.mobilenet_v2(), weights_only=True), strict=True)
    reference.classifier = torch.nn.Identity()
    with torch.no_grad():
        expected = reference.eval()(features.pixels(torch.tensor([1, 2])).contiguous())
    torch.testing.assert_close(ours, expected, atol=1e-4, rtol=1e-4)
