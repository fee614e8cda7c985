"""Inflated Inception-V1 (I3D, Carreira & Zisserman 2017), laid out like torchvision's GoogLeNet."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

TEMPORAL_PADDINGS = ("replicate", "zeros")


class BasicConv3d(nn.Module):
    """Conv3d (no bias) + BatchNorm3d (eps 1e-3) + ReLU, as torchvision's BasicConv2d in 3-D.

    Space is zero-padded by the convolution; time is padded by replicating the end frames
    ("replicate") or with zeros ("zeros", the original TF code's SAME padding).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: tuple[int, int, int],
        stride: tuple[int, int, int] = (1, 1, 1),
        padding: tuple[int, int, int] = (0, 0, 0),
        temporal_padding: str = "replicate",
    ) -> None:
        super().__init__()
        self.time_pad = padding[0] if temporal_padding == "replicate" else 0
        conv_padding = (padding[0] - self.time_pad, padding[1], padding[2])
        self.conv = nn.Conv3d(
            in_channels, out_channels, kernel_size, stride, conv_padding, bias=False
        )
        self.bn = nn.BatchNorm3d(out_channels, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        if self.time_pad:
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
        temporal_padding: str,
    ) -> None:
        super().__init__()

        def unit(cin: int, cout: int, k: int) -> BasicConv3d:
            return BasicConv3d(
                cin, cout, (k, k, k), padding=(k // 2,) * 3, temporal_padding=temporal_padding
            )

        self.branch1 = unit(in_channels, ch1x1, 1)
        self.branch2 = nn.Sequential(unit(in_channels, ch3x3red, 1), unit(ch3x3red, ch3x3, 3))
        self.branch3 = nn.Sequential(unit(in_channels, ch5x5red, 1), unit(ch5x5red, ch5x5, 3))
        self.branch4 = nn.Sequential(
            nn.MaxPool3d(3, stride=1, padding=1, ceil_mode=True), unit(in_channels, pool_proj, 1)
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
        temporal_padding: str = "replicate",
    ) -> None:
        super().__init__()
        if temporal_padding not in TEMPORAL_PADDINGS:
            raise ValueError(
                f"temporal_padding must be one of {', '.join(TEMPORAL_PADDINGS)}, "
                f"not {temporal_padding!r}"
            )

        def block(*channels: int) -> Inception3d:
            return Inception3d(*channels, temporal_padding=temporal_padding)

        self.conv1 = BasicConv3d(in_channels, 64, (7, 7, 7), (2, 2, 2), (3, 3, 3), temporal_padding)
        self.maxpool1 = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), ceil_mode=True)
        self.conv2 = BasicConv3d(64, 64, (1, 1, 1))
        self.conv3 = BasicConv3d(
            64, 192, (3, 3, 3), padding=(1, 1, 1), temporal_padding=temporal_padding
        )
        self.maxpool2 = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), ceil_mode=True)
        self.inception3a = block(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = block(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool3d(3, stride=2, ceil_mode=True)
        self.inception4a = block(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = block(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = block(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = block(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = block(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool3d(2, stride=2, ceil_mode=True)
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


class AdaptiveFinalPool(nn.Module):
    """Average pool with stride 1 whose window shrinks to the input where the input is smaller."""

    def __init__(self, kernel_size: tuple[int, int, int]) -> None:
        super().__init__()
        self.kernel_size = kernel_size

    def forward(self, x: Tensor) -> Tensor:
        kernel = tuple(min(k, n) for k, n in zip(self.kernel_size, x.shape[2:], strict=True))
        return F.avg_pool3d(x, kernel, stride=1)
