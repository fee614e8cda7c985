"""CNN-M-2048: layer shapes at 224×224, smaller inputs, the conv2 LRN flag, dropout."""

from __future__ import annotations

import pytest
import torch

from flowpipe.models import CNNM2048


@pytest.fixture(scope="module")
def temporal_net() -> CNNM2048:
    """The temporal net (2L=20 channels, 101 classes), eval mode; built once (75 M weights)."""
    return CNNM2048(in_channels=20, num_classes=101).eval()


def test_conv5_map_is_6x6_at_224(temporal_net: CNNM2048) -> None:
    with torch.no_grad():
        features = temporal_net.features(torch.randn(1, 20, 224, 224))
    assert features.shape == (1, 512, 6, 6)
    assert temporal_net.head.full6.in_features == 512 * 6 * 6
    assert temporal_net.head.full7.out_features == 2048


@pytest.mark.parametrize("size", [224, 112, 64])
def test_output_shape(temporal_net: CNNM2048, size: int) -> None:
    with torch.no_grad():
        assert temporal_net(torch.randn(2, 20, size, size)).shape == (2, 101)


def test_conv2_lrn_flag_and_dropout(temporal_net: CNNM2048) -> None:
    spatial = CNNM2048(3, 10, dropout=0.5, norm2=True)
    assert isinstance(spatial.features.norm2, torch.nn.LocalResponseNorm)
    assert not hasattr(temporal_net.features, "norm2")
    assert isinstance(temporal_net.features.norm1, torch.nn.LocalResponseNorm)
    assert temporal_net.head.drop6.p == temporal_net.head.drop7.p == 0.9
    assert spatial.head.drop6.p == spatial.head.drop7.p == 0.5
