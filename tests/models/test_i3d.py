"""InceptionI3d: the bootstrap ("boring video") property, output shapes, training step."""

from __future__ import annotations

import pytest
import torch
from torchvision.models import GoogLeNet

from flowpipe.models import InceptionI3d, inflate_state_dict
from tests.models.conftest import NUM_CLASSES


def boring_video(images: torch.Tensor, frames: int) -> torch.Tensor:
    """[B, C, H, W] images repeated over time: [B, C, T, H, W]."""
    return images.unsqueeze(2).expand(-1, -1, frames, -1, -1).contiguous()


def inflated(net_2d: GoogLeNet, temporal_padding: str = "replicate") -> InceptionI3d:
    """An RGB InceptionI3d bootstrapped from ``net_2d``, in eval mode."""
    net_3d = InceptionI3d(NUM_CLASSES, in_channels=3, temporal_padding=temporal_padding)
    net_3d.load_state_dict(inflate_state_dict(net_2d.state_dict(), net_3d))
    return net_3d.eval()


def test_boring_video_gives_the_2d_output(googlenet_2d: GoogLeNet) -> None:
    torch.manual_seed(1)
    images = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        expected = googlenet_2d(images)
        got = inflated(googlenet_2d)(boring_video(images, 16))
    assert expected.abs().max() > 1.0  # logits big enough for the tolerance to mean something
    assert (expected[0] - expected[1]).abs().max() > 0.1  # and they depend on the image
    assert (got - expected).abs().max() <= 1e-4


def test_zero_time_padding_breaks_the_boring_video_property(googlenet_2d: GoogLeNet) -> None:
    torch.manual_seed(1)
    images = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        expected = googlenet_2d(images)
        got = inflated(googlenet_2d, "zeros")(boring_video(images, 16))
    assert (got - expected).abs().max() > 1e-2


@pytest.mark.parametrize(
    ("frames", "size", "steps"),
    [(16, 112, 1), (8, 64, 1), (32, 64, 3)],
)
def test_output_shape_and_time_steps(frames: int, size: int, steps: int) -> None:
    net = InceptionI3d(num_classes=5).eval()
    features = []
    net.dropout.register_forward_hook(lambda _m, _i, out: features.append(out))
    with torch.no_grad():
        out = net(torch.randn(2, 2, frames, size, size))
    assert out.shape == (2, 5)
    assert features[0].shape == (2, 1024, steps, 1, 1)


def test_unknown_temporal_padding() -> None:
    with pytest.raises(
        ValueError, match="temporal_padding must be one of replicate, zeros, not 'circular'"
    ):
        InceptionI3d(num_classes=3, temporal_padding="circular")


@pytest.mark.slow
def test_64_frame_224_clip() -> None:
    net = InceptionI3d(num_classes=101).eval()
    features = []
    net.dropout.register_forward_hook(lambda _m, _i, out: features.append(out))
    with torch.no_grad():
        out = net(torch.randn(1, 2, 64, 224, 224))
    assert out.shape == (1, 101)
    assert features[0].shape == (1, 1024, 7, 1, 1)  # 8×7×7 after inception5b, 2×7×7 pool
