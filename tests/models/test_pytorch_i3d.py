"""pytorch-i3d checkpoints: every tensor in its place, the export back, the Kinetics head
replaced, one-line errors for wrong or partial files, TF "SAME" padding."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
from torch import Tensor

from flowpipe.models import (
    InceptionI3d,
    from_pytorch_i3d,
    load_pytorch_i3d,
    save_pytorch_i3d,
    to_pytorch_i3d,
)
from flowpipe.models.i3d import BasicConv3d, SameMaxPool3d, tf_same_pad
from tests.models.pytorch_i3d_state import flowpipe_tensor, pytorch_i3d_state

KINETICS = 400


def kinetics_i3d(num_classes: int = KINETICS) -> InceptionI3d:
    return InceptionI3d(num_classes, in_channels=2, padding="tf-same")


def saved(state: dict[str, Tensor], path: Path) -> Path:
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def state() -> dict[str, Tensor]:
    return pytorch_i3d_state(KINETICS, in_channels=2)


def test_every_tensor_lands_in_its_place(state: dict[str, Tensor], tmp_path: Path) -> None:
    model = kinetics_i3d()
    assert load_pytorch_i3d(model, saved(state, tmp_path / "flow_imagenet.pt")) == []
    assert len(state) == len(model.state_dict()) == 344
    places = set()
    for key, value in state.items():
        place = flowpipe_tensor(model, key)
        assert place.shape == value.shape and torch.equal(place, value), key
        places.add(place.data_ptr())
    assert len(places) == len(state)  # no two keys landed on the same tensor


def test_export_round_trips(state: dict[str, Tensor], tmp_path: Path) -> None:
    model = kinetics_i3d()
    model.load_state_dict(from_pytorch_i3d(state, model))
    exported = to_pytorch_i3d(model)
    assert exported.keys() == state.keys()
    assert all(torch.equal(exported[k], state[k]) for k in state)
    save_pytorch_i3d(model, tmp_path / "export.pt")
    again = kinetics_i3d()
    assert load_pytorch_i3d(again, tmp_path / "export.pt") == []
    for key, value in model.state_dict().items():
        assert torch.equal(again.state_dict()[key], value), key


def test_checkpoint_without_bn_counters(tmp_path: Path) -> None:
    old = pytorch_i3d_state(KINETICS, bn_counters=False)
    model = kinetics_i3d()
    skipped = load_pytorch_i3d(model, saved(old, tmp_path / "old.pt"))
    assert skipped and all(k.endswith("num_batches_tracked") for k in skipped)
    assert len(skipped) == 57  # every BN of the 57 units
    assert torch.equal(
        model.inception5b.branch4[1].bn.running_var, old["Mixed_5c.b3b.bn.running_var"]
    )


def test_kinetics_head_is_replaced_by_the_datasets(
    state: dict[str, Tensor], tmp_path: Path
) -> None:
    model = kinetics_i3d(num_classes=101)
    head = model.classifier.weight.detach().clone()
    skipped = load_pytorch_i3d(model, saved(state, tmp_path / "flow_imagenet.pt"))
    assert skipped == ["classifier.weight", "classifier.bias"]
    assert model.classifier.weight.shape == (101, 1024, 1, 1, 1)
    assert torch.equal(model.classifier.weight, head)  # the fresh head, as initialised
    assert torch.equal(model.conv1.conv.weight, state["Conv3d_1a_7x7.conv3d.weight"])
    assert torch.equal(model.inception4c.branch3[1].bn.bias, state["Mixed_4d.b2b.bn.bias"])


def _missing(state: dict) -> dict:
    return {k: v for k, v in state.items() if not k.startswith("Mixed_5c.b1b.")}


def _unexpected(state: dict) -> dict:
    return {**state, "Mixed_6a.b0.conv3d.weight": torch.zeros(1)}


def _rgb(state: dict) -> dict:
    return {**state, "Conv3d_1a_7x7.conv3d.weight": torch.zeros(64, 3, 7, 7, 7)}


def _head_of_other_features(state: dict) -> dict:
    return {**state, "logits.conv3d.weight": torch.zeros(KINETICS, 512, 1, 1, 1)}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            _missing,
            "5 missing pytorch-i3d keys: 'Mixed_5c.b1b.conv3d.weight', "
            "'Mixed_5c.b1b.bn.weight', 'Mixed_5c.b1b.bn.bias', ...",
        ),
        (_unexpected, "1 unexpected pytorch-i3d keys: 'Mixed_6a.b0.conv3d.weight'"),
        (
            _rgb,
            "'Conv3d_1a_7x7.conv3d.weight' (for 'conv1.conv.weight'): checkpoint shape "
            "(64, 3, 7, 7, 7) does not fit model shape (64, 2, 7, 7, 7)",
        ),
        (
            _head_of_other_features,
            "'logits.conv3d.weight' (for 'classifier.weight'): checkpoint shape "
            "(400, 512, 1, 1, 1) does not fit model shape (10, 1024, 1, 1, 1)",
        ),
    ],
)
def test_wrong_or_partial_file_is_one_line(
    state: dict[str, Tensor], tmp_path: Path, change, message: str
) -> None:
    path = saved(change(state), tmp_path / "bad.pt")
    with pytest.raises(ValueError) as err:
        load_pytorch_i3d(kinetics_i3d(num_classes=10), path)
    assert str(err.value) == f"{path}: {message}"


def test_other_files_are_one_line(googlenet_2d, tmp_path: Path) -> None:
    model = kinetics_i3d()
    cases = {
        saved(googlenet_2d.state_dict(), tmp_path / "googlenet.pth"): "no key matches "
        "pytorch-i3d's InceptionI3d (such as 'Conv3d_1a_7x7.conv3d.weight')",
        saved({"epoch": 3}, tmp_path / "stats.pt"): "not a state dict of tensors",
    }
    (tmp_path / "notes.txt").write_text("not weights\n")
    cases[tmp_path / "notes.txt"] = "not a PyTorch checkpoint (UnpicklingError)"
    for path, message in cases.items():
        with pytest.raises(ValueError, match=f"^{re.escape(f'{path}: {message}')}$"):
            load_pytorch_i3d(model, path)


def test_weights_need_the_tf_same_net(state: dict[str, Tensor]) -> None:
    message = "pytorch-i3d weights need an InceptionI3d built with padding='tf-same', not "
    with pytest.raises(ValueError, match=f"^{re.escape(message)}'torchvision'$"):
        from_pytorch_i3d(state, InceptionI3d(KINETICS))
    with pytest.raises(ValueError, match=re.escape(message)):
        to_pytorch_i3d(InceptionI3d(KINETICS))


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("kernel", [1, 2, 3, 7])
def test_tf_same_pad_follows_tensorflows_rule(kernel: int, stride: int) -> None:
    for n in range(1, 12):
        x = torch.ones(1, 1, n, n + 1, 1)
        padded = tf_same_pad(x, (kernel, kernel, 1), (stride, stride, 1))
        for axis, size in ((2, n), (3, n + 1)):
            # TensorFlow's documented SAME: ceil(n/s) outputs; the extra zero goes at the end.
            total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
            ones = padded.sum(dim=[d for d in (2, 3, 4) if d != axis]).flatten().nonzero()
            before = int(ones[0]) if len(ones) else 0
            assert padded.shape[axis] == size + total
            assert (before, padded.shape[axis] - size - before) == (total // 2, total - total // 2)


def test_tf_same_stride_2_conv_and_pool_are_centred_as_tensorflows() -> None:
    torch.manual_seed(0)
    unit = BasicConv3d(1, 1, (7, 7, 7), (2, 2, 2), padding="tf-same").eval()
    with torch.no_grad():
        unit.conv.weight.zero_()
        unit.conv.weight[0, 0, 3, 3, 3] = 1.0  # passes the window's centre through
    x = torch.rand(1, 1, 8, 9, 10) + 0.1
    with torch.no_grad():
        out = unit(x) * (1 + unit.bn.eps) ** 0.5
    # even sizes: 2 zeros before, so output i is centred on input 2i + 1; odd: on 2i
    torch.testing.assert_close(out, x[:, :, 1::2, 0::2, 1::2])
    # a 3x3 stride-2 pool over 8x9: height 8 gets no zero before (one after), width 9 one
    # zero on each side, so window (i, j) starts at row 2i and column 2j - 1
    y = torch.rand(8, 9) + 0.1
    expected = torch.zeros(4, 5)
    for i in range(4):
        for j in range(5):
            rows = [r for r in range(2 * i, 2 * i + 3) if r < 8]
            cols = [c for c in range(2 * j - 1, 2 * j + 2) if 0 <= c < 9]
            expected[i, j] = y[rows][:, cols].max()
    got = SameMaxPool3d((1, 3, 3), (1, 2, 2))(y[None, None, None])
    torch.testing.assert_close(got[0, 0, 0], expected)


def test_padding_options_are_checked() -> None:
    with pytest.raises(ValueError, match="^padding must be one of torchvision, tf-same, not 'x'$"):
        InceptionI3d(3, padding="x")
    with pytest.raises(ValueError, match='pads time with zeros, not "replicate"'):
        InceptionI3d(3, padding="tf-same", temporal_padding="replicate")
