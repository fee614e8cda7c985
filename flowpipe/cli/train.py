"""`flowpipe train temporal|i3d|spatial`, `flowpipe eval` and `flowpipe fuse`."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click

from flowpipe.cli.common import parse_ints, parse_numbers, user_errors


def _print_json(result: dict[str, Any]) -> None:
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


_TRAIN_OPTIONS = [
    click.argument("data"),
    click.option(
        "-o",
        "--out",
        required=True,
        type=click.Path(file_okay=False),
        help="run folder: last.pt, best.pt, metrics.csv",
    ),
    click.option(
        "--split",
        help="training split: UCF-101/HMDB-51 split folder or a list file (default: the "
        "dataset's own labels)",
    ),
    click.option("--val-split", help="held-out split, evaluated each epoch for best.pt"),
    click.option(
        "--bound",
        type=click.FloatRange(min=0, min_open=True),
        help="flow another tool wrote (rawframes, two-stream u/v; no flowpipe.json): the bound "
        "it was stored with",
    ),
    click.option("--fold", default=1, show_default=True, type=click.IntRange(1, 3)),
    click.option("--arch", help="cnn-m-2048, resnet18, resnet50 (2-D) or i3d"),
    click.option("--crop", default=224, show_default=True, type=click.IntRange(min=8)),
    click.option(
        "--augment",
        type=click.Choice(["crop", "multiscale"]),
        default="crop",
        show_default=True,
        help="random crop or TSN multi-scale corner crop",
    ),
    click.option(
        "--no-flip",
        "flip",
        is_flag=True,
        flag_value=False,
        default=True,
        help="no mirrored training views (classes a mirror changes)",
    ),
    click.option("--epochs", default=10, show_default=True, type=click.IntRange(min=1)),
    click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1)),
    click.option(
        "--lr", default=0.01, show_default=True, type=click.FloatRange(min=0, min_open=True)
    ),
    click.option(
        "--momentum", default=0.9, show_default=True, type=click.FloatRange(0, 1, max_open=True)
    ),
    click.option("--weight-decay", default=5e-4, show_default=True, type=click.FloatRange(min=0)),
    click.option(
        "--lr-steps", callback=parse_ints, help="epochs after which lr *= --lr-gamma, e.g. 30,40"
    ),
    click.option(
        "--lr-gamma", default=0.1, show_default=True, type=click.FloatRange(0, 1, min_open=True)
    ),
    click.option(
        "--dropout",
        type=click.FloatRange(0, 1, max_open=True),
        help="default: the architecture's",
    ),
    click.option("--workers", default=2, show_default=True, type=click.IntRange(min=0)),
    click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0)),
    click.option("--device", default="auto", show_default=True, help="cpu, cuda or auto"),
    click.option("--no-amp", is_flag=True, help="full precision on CUDA (no bf16 autocast)"),
    click.option("--val-stacks", default=5, show_default=True, type=click.IntRange(min=1)),
    click.option("--max-batches", type=click.IntRange(min=1), help="per epoch (smoke runs)"),
    click.option("--resume", is_flag=True, help="continue from OUT/last.pt"),
]


def train_command(stream: str) -> Callable:
    """The options every stream's trainer takes (the stream adds its own); the command gets
    them as one TrainConfig, `config`, and the --resume flag."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(**options: Any) -> Any:
            from flowpipe.train.config import TrainConfig

            resume = options.pop("resume")
            options["amp"] = not options.pop("no_amp")
            pretrained, inflate = options.pop("pretrained", None), options.pop("inflate_from", None)
            if pretrained and inflate:
                raise ValueError("--pretrained and --inflate-from exclude each other")
            kinetics = stream == "i3d" and pretrained is not None
            init_format = "pytorch-i3d" if kinetics else "imagenet"
            config = TrainConfig(
                stream=stream, init_from=pretrained or inflate, init_format=init_format, **options
            )
            return fn(config=config, resume=resume)

        for option in reversed(_TRAIN_OPTIONS):
            wrapper = option(wrapper)
        return user_errors(wrapper)

    return decorate


def _train(config: Any, resume: bool) -> None:
    """Train, print the summary as JSON."""
    from flowpipe.train.trainer import train

    _print_json(train(config, resume=resume))


@click.group("train")
def train_group() -> None:
    """Trainers: temporal stream (2L flow channels), I3D flow stream, spatial stream (RGB)."""


@train_group.command("temporal")
@train_command("temporal")
@click.option(
    "-L",
    "--stack-length",
    "L",
    default=10,
    show_default=True,
    type=click.IntRange(min=1),
    help="flow fields per stack (2L channels)",
)
@click.option(
    "--stacking", type=click.Choice(["simple", "trajectory"]), default="simple", show_default=True
)
@click.option(
    "--bidirectional", is_flag=True, help="L/2 backward fields before τ, L/2 forward after"
)
@click.option(
    "--segments",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="TSN segments per video (averaged logits)",
)
@click.option(
    "--pretrained",
    type=click.Path(dir_okay=False),
    metavar="FILE|torchvision:NAME",
    help="RGB ImageNet weights, a checkpoint file or torchvision:resnet18|resnet50 (from "
    "torchvision's cache, $TORCH_HOME): cross-modality init of conv1, the rest copied",
)
def train_temporal(config: Any, resume: bool) -> None:
    """Two-stream temporal ConvNet on stacks of L flow fields."""
    _train(config, resume)


@train_group.command("i3d")
@train_command("i3d")
@click.option(
    "-T",
    "--clip-length",
    "T",
    default=64,
    show_default=True,
    type=click.IntRange(min=1),
    help="flow frames per clip",
)
@click.option(
    "--pretrained",
    type=click.Path(dir_okay=False),
    help="pytorch-i3d checkpoint (Kinetics flow I3D, e.g. its flow_imagenet.pt): every tensor "
    "loaded, a head of another class count (Kinetics' 400) replaced; the net pads as TF "
    "SAME, as theirs",
)
@click.option(
    "--inflate-from",
    type=click.Path(dir_okay=False),
    metavar="FILE|torchvision:googlenet",
    help="GoogLeNet ImageNet weights to inflate (bootstrapping): a torchvision state dict "
    "file or torchvision:googlenet (from torchvision's cache, $TORCH_HOME)",
)
def train_i3d(config: Any, resume: bool) -> None:
    """I3D flow stream: inflated Inception-V1 on [2, T, crop, crop] clips in [-1, 1]."""
    _train(config, resume)


@train_group.command("spatial")
@train_command("spatial")
@click.option(
    "--pretrained",
    type=click.Path(dir_okay=False),
    metavar="FILE|torchvision:NAME",
    help="RGB ImageNet weights: a checkpoint file or torchvision:resnet18|resnet50 (from "
    "torchvision's cache, $TORCH_HOME)",
)
def train_spatial(config: Any, resume: bool) -> None:
    """Spatial stream: single RGB frames (img_ files; extract with --rgb)."""
    _train(config, resume)


_EVAL_OPTIONS = [
    click.option("--split", help="split to score (default: the dataset's own labels)"),
    click.option(
        "--subset", type=click.Choice(["train", "test"]), default="test", show_default=True
    ),
    click.option("--fold", type=click.IntRange(1, 3), help="default: the training run's"),
    click.option(
        "--test-stacks",
        default=25,
        show_default=True,
        type=click.IntRange(min=1),
        help="stacks (2-D streams) or frames (spatial) per video",
    ),
    click.option("--test-crops", type=click.Choice(["1", "10"]), default="10", show_default=True),
    click.option("--batch-size", default=4, show_default=True, type=click.IntRange(min=1)),
    click.option("--workers", default=2, show_default=True, type=click.IntRange(min=0)),
    click.option("--device", default="cpu", show_default=True, help="cpu or cuda"),
]


def eval_options(fn: Callable) -> Callable:
    """What to score and how; the command gets them as one EvalOptions, `options`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from flowpipe.train.evaluate import EvalOptions

        names = ("split", "subset", "fold", "test_stacks", "batch_size", "workers", "device")
        fields = {name: kwargs.pop(name) for name in names}
        crops = int(kwargs.pop("test_crops"))
        kwargs["options"] = EvalOptions(data=kwargs.pop("data"), test_crops=crops, **fields)
        return fn(*args, **kwargs)

    for option in reversed(_EVAL_OPTIONS):
        wrapper = option(wrapper)
    return wrapper


@click.command("eval")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.argument("data", required=False)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="SCORES.npz (and SCORES.png, the confusion matrix)",
)
@eval_options
@user_errors
def eval_command(checkpoint: str, output: str, options: Any) -> None:
    """Video-level scores of a trained checkpoint: top-1/top-5, per class, confusion PNG."""
    from flowpipe.train.evaluate import evaluate, write_evaluation

    _print_json(write_evaluation(evaluate(checkpoint, options), output))


@click.command()
@click.argument("scores", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="FUSED.npz")
@click.option(
    "--method", type=click.Choice(["average", "svm"]), default="average", show_default=True
)
@click.option("--weights", callback=parse_numbers, help="average: one weight per file, e.g. 1,2")
@click.option(
    "--train-scores",
    help="svm: the streams' training-set score files, comma-separated, in the order of SCORES",
)
@click.option(
    "--svm-c",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="the SVM's C",
)
@user_errors
def fuse(
    scores: tuple[str, ...],
    output: str,
    method: str,
    weights: list[float] | None,
    train_scores: str | None,
    svm_c: float,
) -> None:
    """Late fusion of test-set score files (one per stream) into FUSED.npz; prints JSON metrics."""
    from flowpipe.train.fusion import fuse_score_files

    train = train_scores.split(",") if train_scores else None
    _print_json(fuse_score_files(scores, output, method, weights, train, svm_c))
