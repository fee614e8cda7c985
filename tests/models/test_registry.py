"""build_model: every architecture by name, input channels, dropout, bad names."""

from __future__ import annotations

import pytest
import torch

from flowpipe.models import ARCHITECTURES, CNNM2048, InceptionI3d, build_model

RESNETS = ("resnet18", "resnet50")  # CNN-M's shapes: test_cnn_m.py


def flow_input(arch: str, size: int, batch: int = 2) -> torch.Tensor:
    """A random batch for ``arch``: 2L=20 stacked channels for 2-D nets, 2×16 frames for I3D."""
    if arch == "i3d":
        return torch.randn(batch, 2, 16, size, size)
    return torch.randn(batch, 20, size, size)


@pytest.mark.parametrize("arch", RESNETS)
@pytest.mark.parametrize("size", [224, 112])
def test_resnet_output_shape(arch: str, size: int) -> None:
    net = build_model(arch, in_channels=20, num_classes=101).eval()
    with torch.no_grad():
        assert net(flow_input(arch, size)).shape == (2, 101)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_training_step(arch: str) -> None:
    torch.manual_seed(0)
    in_channels = 2 if arch == "i3d" else 20
    net = build_model(arch, in_channels=in_channels, num_classes=5)
    logits = net(flow_input(arch, 64))
    assert logits.shape == (2, 5)
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 4])).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_builds_the_named_classes_with_default_dropouts() -> None:
    i3d = build_model("i3d", 2, 10)
    assert isinstance(i3d, InceptionI3d) and i3d.dropout.p == 0.5
    assert i3d.conv1.conv.in_channels == 2
    spatial = build_model("cnn-m-2048", 3, 10)
    assert isinstance(spatial, CNNM2048) and spatial.head.drop6.p == 0.9
    assert hasattr(spatial.features, "norm2")  # only the spatial net keeps conv2's LRN
    resnet = build_model("resnet18", 20, 10, dropout=0.7)
    assert resnet.conv1.in_channels == 20 and resnet.avgpool[1].p == 0.7
    assert build_model("resnet50", 3, 10).avgpool[1].p == 0.5


def test_unknown_architecture() -> None:
    message = "unknown architecture 'vgg16'; choose one of cnn-m-2048, resnet18, resnet50, i3d"
    with pytest.raises(ValueError, match=f"^{message}$"):
        build_model("vgg16", 20, 10)
