"""The architectures the trainers offer, built by name for a given input channel count."""

from __future__ import annotations

from torch import nn
from torchvision.models import resnet18, resnet50

from flowpipe.models.cnn_m import CNNM2048
from flowpipe.models.i3d import InceptionI3d

ARCHITECTURES = ("cnn-m-2048", "resnet18", "resnet50", "i3d")

# Paper values: 0.9 for the two-stream temporal CNN-M trained from scratch, 0.5 for I3D; 0.5
# for the ResNets (our choice: TSN's 0.7-0.8 is for BN-Inception, pass `dropout` to change it).
DEFAULT_DROPOUT = {"cnn-m-2048": 0.9, "resnet18": 0.5, "resnet50": 0.5, "i3d": 0.5}

RESNETS = {"resnet18": resnet18, "resnet50": resnet50}


def check_arch(arch: str) -> None:
    """Raise a one-line ValueError unless ``arch`` is one of ARCHITECTURES."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")


def build_model(
    arch: str,
    in_channels: int,
    num_classes: int,
    dropout: float | None = None,
    padding: str | None = None,
) -> nn.Module:
    """A fresh ``arch`` net for ``in_channels`` inputs (2L flow, 2 for I3D flow, 3 for RGB).

    ``dropout`` defaults to DEFAULT_DROPOUT[arch]. CNN-M keeps the LRN after conv2 only for
    RGB input (the spatial net), as the two-stream paper. ``padding`` is I3D's (see
    InceptionI3d: "torchvision", the default, or "tf-same" for pytorch-i3d's weights).
    """
    check_arch(arch)
    p = DEFAULT_DROPOUT[arch] if dropout is None else dropout
    if padding is not None and arch != "i3d":
        raise ValueError(f"padding {padding!r} is an i3d option; {arch} has none")
    if arch == "i3d":
        return InceptionI3d(num_classes, in_channels, dropout=p, padding=padding or "torchvision")
    if arch == "cnn-m-2048":
        return CNNM2048(in_channels, num_classes, dropout=p, norm2=in_channels == 3)
    return _resnet(arch, in_channels, num_classes, p)


def _resnet(arch: str, in_channels: int, num_classes: int, dropout: float) -> nn.Module:
    """torchvision ResNet with conv1 for ``in_channels`` and dropout before ``fc``.

    The dropout sits after the (parameter-free) global pool, so state-dict keys stay
    torchvision's and ImageNet checkpoints load name to name.
    """
    model = RESNETS[arch](weights=None, num_classes=num_classes)
    if in_channels != 3:
        model.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    model.avgpool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Dropout(dropout))
    return model
