"""CNN-M-2048 (Chatfield et al. 2014), the ConvNet of the two-stream paper."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor, nn


def _lrn() -> nn.LocalResponseNorm:
    """Krizhevsky's local response normalisation (n 5, alpha 1e-4, beta 0.75, k 2)."""
    return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)


def _pool() -> nn.MaxPool2d:
    """3×3 stride-2 max pool, Caffe-style ceil mode (6×6 after conv5 at 224×224)."""
    return nn.MaxPool2d(3, stride=2, ceil_mode=True)


class CNNM2048(nn.Module):
    """CNN-M-2048 on [B, in_channels, H, W]: conv1-5, full6 4096, full7 2048, classifier.

    conv1 7×7/2 96 + LRN + pool; conv2 5×5/2 256 (+ LRN when ``norm2``: the spatial net has
    it, the temporal net drops it) + pool; conv3-5 3×3 512 + pool; full6 and full7 with
    dropout (0.9 as the paper's from-scratch temporal net). An adaptive average pool to 6×6
    before full6 is the identity at 224×224 and lets smaller inputs through.
    """

    def __init__(
        self, in_channels: int, num_classes: int, dropout: float = 0.9, norm2: bool = False
    ) -> None:
        super().__init__()
        layers = [
            ("conv1", nn.Conv2d(in_channels, 96, 7, stride=2)),
            ("relu1", nn.ReLU(inplace=True)),
            ("norm1", _lrn()),
            ("pool1", _pool()),
            ("conv2", nn.Conv2d(96, 256, 5, stride=2, padding=1)),
            ("relu2", nn.ReLU(inplace=True)),
            *([("norm2", _lrn())] if norm2 else []),
            ("pool2", _pool()),
        ]
        for i, cin in ((3, 256), (4, 512), (5, 512)):
            layers += [(f"conv{i}", nn.Conv2d(cin, 512, 3, padding=1)), (f"relu{i}", nn.ReLU(True))]
        self.features = nn.Sequential(OrderedDict([*layers, ("pool5", _pool())]))
        self.avgpool = nn.AdaptiveAvgPool2d(6)
        self.head = nn.Sequential(
            OrderedDict(
                full6=nn.Linear(512 * 6 * 6, 4096),
                relu6=nn.ReLU(inplace=True),
                drop6=nn.Dropout(dropout),
                full7=nn.Linear(4096, 2048),
                relu7=nn.ReLU(inplace=True),
                drop7=nn.Dropout(dropout),
            )
        )
        self.classifier = nn.Linear(2048, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(self.head(torch.flatten(x, 1)))
