"""Training from pretrained weights through the CLI: `flowpipe train i3d --pretrained FILE`
(a pytorch-i3d checkpoint; the net pads as TF SAME and eval rebuilds it so) and
`--pretrained torchvision:resnet18` read from torchvision's cache; bad input is one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.models import resnet18

from flowpipe.train.checkpoint import checkpoint_config, load_checkpoint
from flowpipe.train.config import TrainConfig
from flowpipe.train.evaluate import evaluate
from flowpipe.train.streams import stream_model
from tests.data.flowsets import rotation_field, write_labels, write_video
from tests.models.pytorch_i3d_state import pytorch_i3d_state

SIZE = (40, 36)
RESNET18_FILE = "resnet18-f37072fd.pth"  # torchvision's ResNet18_Weights.IMAGENET1K_V1
SMALL_RUN = ["--crop", "32", "--epochs", "1", "--batch-size", "2", "--workers", "0"]
SMALL_RUN += ["--device", "cpu", "--lr", "1e-5"]  # small steps: the start stays recognisable


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 classes (rotation either way) x 2 videos of 6 flows, with RGB frames."""
    root = tmp_path_factory.mktemp("flowds")
    rng = np.random.default_rng(1)
    rows = []
    for label, sign in enumerate((1, -1)):
        for k in range(2):
            fields = [rotation_field(sign * 0.06, SIZE) for _ in range(6)]
            frames = [rng.integers(0, 256, (SIZE[1], SIZE[0], 3), dtype=np.uint8) for _ in range(7)]
            vid = f"c{label}/v{k}"
            write_video(root, vid, fields, fields, label=label, frames=frames)
            rows.append((vid, 6, label))
    write_labels(root, rows)
    return root


def moved(trained: torch.Tensor, start: torch.Tensor) -> float:
    """How far training took a tensor from its start, relative to its size (a fresh random
    init is about 1.4 away)."""
    return float((trained - start).norm() / start.norm())


def run_cli(*args: str, torch_home: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if torch_home is not None:
        env["TORCH_HOME"] = str(torch_home)
    return subprocess.run(
        [sys.executable, "-m", "flowpipe", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_i3d_fine_tunes_from_a_pytorch_i3d_checkpoint(dataset: Path, tmp_path: Path) -> None:
    kinetics = pytorch_i3d_state(num_classes=400, in_channels=2)
    torch.save(kinetics, tmp_path / "flow_imagenet.pt")
    out = tmp_path / "run"
    args = ["train", "i3d", str(dataset), "-o", str(out), "-T", "4", *SMALL_RUN]
    result = run_cli(*args, "--pretrained", str(tmp_path / "flow_imagenet.pt"))
    assert result.returncode == 0, result.stderr
    state = load_checkpoint(out / "last.pt")
    assert state["config"]["init_format"] == "pytorch-i3d"
    assert state["config"]["i3d_padding"] == "tf-same"
    assert state["model"]["classifier.weight"].shape == (2, 1024, 1, 1, 1)
    start = kinetics["Conv3d_1a_7x7.conv3d.weight"]
    trained = state["model"]["conv1.conv.weight"]
    assert 0 < moved(trained, start) < 0.05  # trained, from the checkpoint's weights
    rebuilt = stream_model(
        TrainConfig.from_dict({**checkpoint_config(state).as_dict(), "init_from": None}), 2
    )
    assert rebuilt.padding == "tf-same"
    scores = evaluate(out / "last.pt", test_stacks=1, workers=0)
    assert scores.scores.shape == (4, 2)


def test_spatial_stream_from_torchvisions_cache(dataset: Path, tmp_path: Path) -> None:
    torch.manual_seed(5)
    rgb = resnet18(weights=None).state_dict()
    cached = tmp_path / "torch_home" / "hub" / "checkpoints" / RESNET18_FILE
    cached.parent.mkdir(parents=True)
    torch.save(rgb, cached)
    out = tmp_path / "run"
    args = ["train", "spatial", str(dataset), "-o", str(out), *SMALL_RUN]
    result = run_cli(*args, "--pretrained", "torchvision:resnet18", torch_home=cached.parents[2])
    assert result.returncode == 0, result.stderr
    state = load_checkpoint(out / "last.pt")
    assert state["config"]["init_from"] == "torchvision:resnet18"
    start, trained = rgb["layer3.0.conv1.weight"], state["model"]["layer3.0.conv1.weight"]
    assert 0 < moved(trained, start) < 0.05


@pytest.mark.parametrize(
    ("stream", "extra", "message"),
    [
        (
            "spatial",
            ["--pretrained", "torchvision:resnet18"],
            f"torchvision's weights file {RESNET18_FILE} is not in its cache; put it at "
            f"EMPTY/hub/checkpoints/{RESNET18_FILE}",
        ),
        ("i3d", ["--pretrained", "GOOGLENET"], "no key matches pytorch-i3d's InceptionI3d"),
        (
            "i3d",
            ["--pretrained", "GOOGLENET", "--inflate-from", "GOOGLENET"],
            "--pretrained and --inflate-from exclude each other",
        ),
    ],
)
def test_bad_weights_are_one_error_line(
    dataset: Path, tmp_path: Path, stream: str, extra: list[str], message: str
) -> None:
    from torchvision.models import googlenet

    torch.save(googlenet(weights=None, init_weights=False).state_dict(), tmp_path / "g.pth")
    extra = [str(tmp_path / "g.pth") if a == "GOOGLENET" else a for a in extra]
    empty = tmp_path / "empty_torch_home"
    clip = ["-T", "4"] if stream == "i3d" else []
    args = ["train", stream, str(dataset), "-o", str(tmp_path / "run"), *clip, *SMALL_RUN]
    result = run_cli(*args, *extra, torch_home=empty)
    assert result.returncode == 2, result.stderr
    assert message.replace("EMPTY", str(empty)) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not empty.exists()  # nothing downloaded, nothing written


def test_config_picks_tf_same_padding_for_pytorch_i3d_weights() -> None:
    base = dict(data="d", out="o")
    assert TrainConfig(stream="i3d", init_format="pytorch-i3d", **base).i3d_padding == "tf-same"
    assert TrainConfig(stream="i3d", **base).i3d_padding == "torchvision"
    assert TrainConfig(stream="temporal", **base).i3d_padding is None
    with pytest.raises(
        ValueError, match="^pytorch-i3d weights are for the i3d stream, not spatial"
    ):
        TrainConfig(stream="spatial", init_format="pytorch-i3d", **base)
    with pytest.raises(ValueError, match="^i3d_padding is an i3d option"):
        TrainConfig(stream="temporal", i3d_padding="tf-same", **base)
