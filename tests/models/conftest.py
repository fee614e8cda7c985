"""Shared fixtures: a random torchvision GoogLeNet whose BatchNorm statistics matter."""

from __future__ import annotations

import pytest
import torch
from torchvision.models import GoogLeNet, googlenet

NUM_CLASSES = 10


@pytest.fixture(scope="package")
def googlenet_2d() -> GoogLeNet:
    """Random GoogLeNet in eval mode; BN stats measured on random images, BN affine random."""
    torch.manual_seed(0)
    net = googlenet(weights=None, aux_logits=False, init_weights=True, num_classes=NUM_CLASSES)
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for bn in norms:
        bn.momentum = None  # cumulative average: the stats of the one calibration batch
    with torch.no_grad():
        net.train()(torch.randn(4, 3, 96, 96))
        for bn in norms:
            bn.weight.uniform_(0.8, 1.2)
            bn.bias.normal_(0.0, 0.1)
    return net.eval()
