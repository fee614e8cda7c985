"""The trainers and `flowpipe eval` on a small dataset in the on-disk format: checkpoints,
metrics, resume after a kill, every stream's training step, test protocol, bad input."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from flowpipe.train.checkpoint import load_checkpoint
from flowpipe.train.config import TrainConfig
from flowpipe.train.evaluate import evaluate, write_evaluation
from flowpipe.train.streams import stream_model
from flowpipe.train.trainer import train
from tests.data.flowsets import rotation_field, write_labels, write_video

SIZE = (48, 40)
CLASSES = ("cw", "ccw")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """2 classes (rotation one way or the other) x 3 videos of 9 flows, with RGB frames."""
    root = tmp_path_factory.mktemp("flowds")
    rng = np.random.default_rng(0)
    rows = []
    for label, name in enumerate(CLASSES):
        for k in range(3):
            angle = (1 if name == "cw" else -1) * rng.uniform(0.04, 0.08)
            fields = [rotation_field(angle, SIZE) for _ in range(9)]
            frames = [
                rng.integers(0, 256, (SIZE[1], SIZE[0], 3), dtype=np.uint8) for _ in range(10)
            ]
            vid = f"{name}/{name}_{k}"
            write_video(root, vid, fields, fields, label=label, frames=frames)
            rows.append((vid, 9, label))
    write_labels(root, rows)
    return root


def config(dataset: Path, out: Path, stream: str = "temporal", **kw) -> TrainConfig:
    base = dict(
        stream=stream,
        data=str(dataset),
        out=str(out),
        L=4,
        T=4,
        crop=32,
        epochs=1,
        batch_size=4,
        workers=0,
        device="cpu",
        lr=0.01,
    )
    return TrainConfig(**{**base, **kw})


def run_cli(*args: str, **popen) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "flowpipe", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_temporal_training_writes_checkpoints_and_metrics(dataset: Path, tmp_path: Path) -> None:
    summary = train(
        config(
            dataset,
            tmp_path,
            epochs=2,
            val_split=str(dataset / "videos.txt"),
            arch="resnet18",
            dropout=0.5,
        )
    )
    assert [row["epoch"] for row in summary["epochs"]] == [1, 2]
    assert summary["classes"] == list(CLASSES)
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"] and all(
        float(r["train_loss"]) > 0 for r in rows
    )
    assert 0 <= float(rows[-1]["val_top1"]) <= 1
    last = load_checkpoint(tmp_path / "last.pt")
    assert last["epoch"] == 2 and last["config"]["arch"] == "resnet18"
    assert (tmp_path / "best.pt").is_file()


@pytest.mark.parametrize(
    ("stream", "kw", "views"),
    [
        ("temporal", {"segments": 2, "stacking": "trajectory", "bidirectional": True}, 10 * 3),
        ("i3d", {}, 1),
        ("spatial", {}, 10 * 3),
    ],
)
def test_each_stream_trains_and_evaluates(
    dataset: Path, tmp_path: Path, stream: str, kw: dict, views: int
) -> None:
    train(config(dataset, tmp_path / "run", stream, **kw))
    scores = evaluate(tmp_path / "run" / "last.pt", test_stacks=3, workers=0)
    assert scores.scores.shape == (6, 2) and scores.stream == stream
    np.testing.assert_allclose(scores.scores.sum(axis=1), 1.0, rtol=1e-5)
    summary = write_evaluation(scores, tmp_path / "scores.npz")
    assert summary["n_videos"] == 6 and 0 <= summary["top1"] <= 1
    assert (tmp_path / "scores.npz").is_file() and (tmp_path / "scores.png").is_file()


def test_resume_after_a_kill_gives_the_unbroken_weights(dataset: Path, tmp_path: Path) -> None:
    args = [
        "train",
        "temporal",
        str(dataset),
        "-L",
        "4",
        "--crop",
        "32",
        "--batch-size",
        "2",
        "--workers",
        "1",
        "--device",
        "cpu",
        "--epochs",
        "2",
        "--seed",
        "7",
    ]
    unbroken = run_cli(*args, "-o", str(tmp_path / "unbroken"))
    assert unbroken.returncode == 0, unbroken.stderr
    killed = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowpipe", *args, "-o", str(killed)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while not (killed / "metrics.csv").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert load_checkpoint(killed / "last.pt")["epoch"] == 1
    resumed = run_cli(*args, "-o", str(killed), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a = load_checkpoint(tmp_path / "unbroken" / "last.pt")["model"]
    b = load_checkpoint(killed / "last.pt")["model"]
    for key in a:
        assert torch.equal(a[key], b[key]), key
    rows = list(csv.DictReader((killed / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"]


def test_resume_with_other_settings_is_refused(dataset: Path, tmp_path: Path) -> None:
    train(config(dataset, tmp_path))
    with pytest.raises(ValueError, match="cannot resume with different settings: L"):
        train(config(dataset, tmp_path, L=6, epochs=2), resume=True)


def test_cross_modality_init_from_a_checkpoint(dataset: Path, tmp_path: Path) -> None:
    from torchvision.models import resnet18

    rgb = resnet18(num_classes=1000)
    torch.save(rgb.state_dict(), tmp_path / "rgb.pth")
    model = stream_model(config(dataset, tmp_path, init_from=str(tmp_path / "rgb.pth")), 2)
    expected = rgb.conv1.weight.detach().mean(dim=1, keepdim=True).expand(-1, 8, -1, -1)
    torch.testing.assert_close(model.conv1.weight.detach(), expected, atol=0, rtol=0)
    torch.testing.assert_close(model.layer1[0].conv1.weight, rgb.layer1[0].conv1.weight)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--arch", "vgg16"], "error: unknown architecture 'vgg16'"),
        (["--arch", "i3d"], "error: the temporal stream cannot use architecture i3d"),
        (["--arch", "cnn-m-2048"], "error: architecture cnn-m-2048 cannot take 32x32 crops"),
        (["--split", "MISSING"], "error: split file not found"),
        (["--pretrained", "BADCKPT"], "does not fit model shape"),
        (["--split", "NEVER"], "are not in"),
    ],
)
def test_bad_input_is_one_error_line(
    dataset: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    from torchvision.models import resnet50

    if "BADCKPT" in args:
        torch.save(resnet50(num_classes=10).state_dict(), tmp_path / "r50.pth")
        args = [str(tmp_path / "r50.pth") if a == "BADCKPT" else a for a in args]
    if "NEVER" in args:
        (tmp_path / "list.txt").write_text("cw/cw_0 9 0\ncw/not_extracted 9 0\n")
        args = [str(tmp_path / "list.txt") if a == "NEVER" else a for a in args]
    args = [str(tmp_path / "nope.txt") if a == "MISSING" else a for a in args]
    result = run_cli(
        "train",
        "temporal",
        str(dataset),
        "-o",
        str(tmp_path / "run"),
        "-L",
        "4",
        "--crop",
        "32",
        "--workers",
        "0",
        "--device",
        "cpu",
        *args,
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_empty_dataset_and_bad_checkpoint_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run_cli("train", "spatial", str(tmp_path / "empty"), "-o", str(tmp_path / "r"))
    assert result.returncode == 2 and "no finished video" in result.stderr
    (tmp_path / "x.pt").write_bytes(b"not a checkpoint")
    result = run_cli("eval", str(tmp_path / "x.pt"), "-o", str(tmp_path / "s.npz"))
    assert result.returncode == 2 and "not a flowpipe checkpoint" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
