"""Inflated Inception-V1 (I3D, Carreira & Zisserman 2017), laid out like torchvision's GoogLeNet."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

TEMPORAL_PADDINGS = ("replicate", "zeros")
PADDINGS = ("torchvision", "tf-same")


def tf_same_pad(x: Tensor, kernel: tuple[int, ...], stride: tuple[int, ...]) -> Tensor:
    """``x`` [B, C, T, H, W] zero-padded as TensorFlow's "SAME" for this kernel and stride.

    Each axis of size n gets ``max(k - (n % s or s), 0)`` zeros, half before and the rest
    (the odd one) after, so a stride-s layer outputs ceil(n / s) positions.
    """
    pads: list[int] = []
    for k, s, n in reversed(list(zip(kernel, stride, x.shape[2:], strict=True))):
        total = max(k - (n % s or s), 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads) if any(pads) else x


class SameMaxPool3d(nn.Module):
    """Max pool after TF "SAME" zero padding as in DeepMind's I3D and pytorch-i3d."""

    def __init__(self, kernel_size: tuple[int, int, int], stride: tuple[int, int, int]) -> None:
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool3d(
            tf_same_pad(x, self.kernel_size, self.stride), self.kernel_size, self.stride
        )


def max_pool(kernel: tuple[int, int, int], stride: tuple[int, int, int], padding: str) -> nn.Module:
    """I3D's max pool: torchvision's ceil-mode pool (padded by k // 2 when stride is 1) or the
    TF "SAME" one."""
    if padding == "tf-same":
        return SameMaxPool3d(kernel, stride)
    same_size = 1 if stride == (1, 1, 1) else 0
    return nn.MaxPool3d(kernel, stride, padding=same_size, ceil_mode=True)


class BasicConv3d(nn.Module):
    """Conv3d (no bias) + BatchNorm3d (eps 1e-3) + ReLU, as torchvision's BasicConv2d in 3-D.

    ``padding``: "replicate" or "zeros" pad k // 2 on each side, space with zeros and time
    by replicating the end frames or with zeros; "tf-same" pads every axis with TF "SAME"
    zeros computed from the input size (asymmetric for even sizes at stride 2).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: tuple[int, int, int],
        stride: tuple[int, int, int] = (1, 1, 1),
        padding: str = "replicate",
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.same = kernel_size, stride, padding == "tf-same"
        half = (0, 0, 0) if self.same else tuple(k // 2 for k in kernel_size)
        self.time_pad = half[0] if padding == "replicate" else 0
        conv_padding = (half[0] - self.time_pad, half[1], half[2])
        self.conv = nn.Conv3d(
            in_channels, out_channels, kernel_size, stride, conv_padding, bias=False
        )
        self.bn = nn.BatchNorm3d(out_channels, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        if self.same:
            x = tf_same_pad(x, self.kernel_size, self.stride)
        elif self.time_pad:
            x = F.pad(x, (0, 0, 0, 0, self.time_pad, self.time_pad), mode="replicate")
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Inception3d(nn.Module):
    """torchvision's Inception block inflated: every k×k becomes k×k×k (branch3 keeps its 3×3)."""

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
        padding: str,
    ) -> None:
        super().__init__()

        def unit(cin: int, cout: int, k: int) -> BasicConv3d:
            return BasicConv3d(cin, cout, (k, k, k), padding=padding)

        self.branch1 = unit(in_channels, ch1x1, 1)
        self.branch2 = nn.Sequential(unit(in_channels, ch3x3red, 1), unit(ch3x3red, ch3x3, 3))
        self.branch3 = nn.Sequential(unit(in_channels, ch5x5red, 1), unit(ch5x5red, ch5x5, 3))
        self.branch4 = nn.Sequential(
            max_pool((3, 3, 3), (1, 1, 1), padding), unit(in_channels, pool_proj, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        branches = (self.branch1, self.branch2, self.branch3, self.branch4)
        return torch.cat([branch(x) for branch in branches], 1)


class InceptionI3d(nn.Module):
    """I3D: Inception-V1 inflated to 3-D, for flow (in_channels=2) or RGB clips [B, C, T, H, W].

    Module names and shapes mirror torchvision's GoogLeNet (``fc`` is ``classifier`` here, a
    1×1×1 conv), so ``inflate_state_dict`` maps its weights name to name. I3D specifics: conv1
    is 7×7×7 stride 2; maxpool1/maxpool2 are 1×3×3 stride (1, 2, 2) (time is not pooled early);
    maxpool3 3×3×3 stride 2, maxpool4 2×2×2 stride 2 (ceil mode, as torchvision); the final
    average pool is 2×7×7 stride 1, shrunk to the feature map when it is smaller (inputs under
    224 px or 16 frames); logits are averaged over the remaining time steps (and positions, for
    inputs over 224 px). A 64×224×224 clip gives 7 time steps before that mean.

    ``temporal_padding="replicate"`` (default) pads time by repeating the end frames, so a
    "boring video" (one image repeated) stays constant in time through every layer and the
    inflated net reproduces its 2-D source exactly; zero padding (``"zeros"``, as the original
    TF code) darkens the clip ends and breaks that property. The net applies no input
    transform: torchvision's ImageNet GoogLeNet weights expect inputs scaled to [-1, 1], as
    I3D's flow ([-20, 20] → [-1, 1]) and RGB inputs are.

    ``padding="tf-same"`` computes what DeepMind's I3D and pytorch-i3d compute, for their
    Kinetics weights (``load_pytorch_i3d``): every convolution and max pool pads with
    TensorFlow's "SAME" zeros, from each input's size, the odd one at the end (time is zero
    padded; ``temporal_padding`` must be left unset or "zeros"). Their head is the same as
    ours: the 2×7×7 average pool, a 1×1×1 conv with bias, logits averaged over time.
    """

    STAGES = (
        "conv1",
        "maxpool1",
        "conv2",
        "conv3",
        "maxpool2",
        "inception3a",
        "inception3b",
        "maxpool3",
        "inception4a",
        "inception4b",
        "inception4c",
        "inception4d",
        "inception4e",
        "maxpool4",
        "inception5a",
        "inception5b",
        "avgpool",
    )

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 2,
        dropout: float = 0.5,
        temporal_padding: str | None = None,
        padding: str = "torchvision",
    ) -> None:
        super().__init__()
        self.padding = padding
        unit_padding = _unit_padding(padding, temporal_padding)

        def block(*channels: int) -> Inception3d:
            return Inception3d(*channels, padding=unit_padding)

        def pool(kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> nn.Module:
            return max_pool(kernel, stride, padding)

        self.conv1 = BasicConv3d(in_channels, 64, (7, 7, 7), (2, 2, 2), unit_padding)
        self.maxpool1 = pool((1, 3, 3), (1, 2, 2))
        self.conv2 = BasicConv3d(64, 64, (1, 1, 1), padding=unit_padding)
        self.conv3 = BasicConv3d(64, 192, (3, 3, 3), padding=unit_padding)
        self.maxpool2 = pool((1, 3, 3), (1, 2, 2))
        self.inception3a = block(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = block(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = pool((3, 3, 3), (2, 2, 2))
        self.inception4a = block(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = block(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = block(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = block(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = block(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = pool((2, 2, 2), (2, 2, 2))
        self.inception5a = block(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = block(832, 384, 192, 384, 48, 128, 128)
        self.avgpool = AdaptiveFinalPool((2, 7, 7))
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Conv3d(1024, num_classes, 1)
        self._init_weights()

    def _init_weights(self) -> None:
        """He initialisation of the convolutions (training from scratch; GoogLeNet's std 0.01
        left activations so small that BatchNorm's eps swamped them, and the net barely
        learned), a small normal classifier, BN at identity."""
        for m in self.modules():
            if m is self.classifier:
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        for name in self.STAGES:
            x = getattr(self, name)(x)
        x = self.classifier(self.dropout(x))
        return x.mean(dim=(2, 3, 4))


def _unit_padding(padding: str, temporal_padding: str | None) -> str:
    """How each BasicConv3d pads: "replicate" or "zeros" (torchvision layout) or "tf-same"."""
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {', '.join(PADDINGS)}, not {padding!r}")
    if temporal_padding is not None and temporal_padding not in TEMPORAL_PADDINGS:
        raise ValueError(
            f"temporal_padding must be one of {', '.join(TEMPORAL_PADDINGS)}, "
            f"not {temporal_padding!r}"
        )
    if padding == "tf-same":
        if temporal_padding == "replicate":
            raise ValueError('padding "tf-same" pads time with zeros, not "replicate"')
        return "tf-same"
    return temporal_padding or "replicate"


class AdaptiveFinalPool(nn.Module):
    """Average pool with stride 1 whose window shrinks to the input where the input is smaller."""

    def __init__(self, kernel_size: tuple[int, int, int]) -> None:
        super().__init__()
        self.kernel_size = kernel_size

    def forward(self, x: Tensor) -> Tensor:
        kernel = tuple(min(k, n) for k, n in zip(self.kernel_size, x.shape[2:], strict=True))
        return F.avg_pool3d(x, kernel, stride=1)
