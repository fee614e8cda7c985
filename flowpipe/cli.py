"""The `flowpipe` command line: thin click wrappers over the importable modules."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from flowpipe import __version__

EXIT_PARTIAL = 1
EXIT_USAGE = 2


class UserError(click.ClickException):
    """An error the user caused (bad option value, unreadable file): one line, exit code 2."""

    exit_code = EXIT_USAGE


def user_errors(fn: Callable) -> Callable:
    """Turn ValueError/OSError raised by the library into a one-line UserError."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ValueError, OSError) as err:
            raise UserError(_one_line(err)) from None

    return wrapper


def _one_line(err: Exception) -> str:
    """The error's message; for one re-raised from a DataLoader worker (message = the worker's
    traceback), the traceback's last line, which is the original error."""
    lines = [ln for ln in str(err).strip().splitlines() if ln.strip()]
    return lines[-1] if len(lines) > 1 and "Traceback" in str(err) else str(err)


def _size(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    """click callback: WIDTHxHEIGHT -> (width, height)."""
    if value is None:
        return None
    try:
        width, height = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"expected WIDTHxHEIGHT such as 340x256, got {value!r}") from None
    return width, height


def _nscales(ctx: click.Context, param: click.Parameter, value: str | None) -> int | str | None:
    """click callback: an integer number of pyramid levels, or 'auto'."""
    if value is None or value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter(f"expected an integer or 'auto', got {value!r}") from None


# TVL1Params field -> (option name, click type); every field is settable from the CLI.
_TVL1_OPTIONS: dict[str, tuple[str, Any]] = {
    "tau": ("--tau", float),
    "lambda_": ("--lambda", float),
    "theta": ("--theta", float),
    "nscales": ("--nscales", str),
    "warps": ("--warps", int),
    "epsilon": ("--epsilon", float),
    "inner_iterations": ("--inner-iterations", int),
    "outer_iterations": ("--outer-iterations", int),
    "scale_step": ("--scale-step", float),
    "median_filtering": ("--median-filtering", int),
    "interpolation": ("--interpolation", click.Choice(["bicubic", "bilinear"])),
}


def tvl1_options(fn: Callable) -> Callable:
    """--preset, --device and one option per TVL1Params field (overriding the preset)."""
    for field, (name, kind) in reversed(_TVL1_OPTIONS.items()):
        callback = _nscales if field == "nscales" else None
        fn = click.option(
            name, field, type=kind, default=None, callback=callback, help=f"TVL1Params.{field}"
        )(fn)
    fn = click.option(
        "--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto"
    )(fn)
    return click.option(
        "--preset",
        type=click.Choice(["opencv", "fast", "accurate"]),
        default="opencv",
        show_default=True,
        help="named TV-L1 settings",
    )(fn)


def params_from_options(preset_name: str, options: dict[str, Any]) -> Any:
    """The preset with the TV-L1 options the user gave applied on top."""
    from flowpipe.flow import preset

    changes = {f: options[f] for f in _TVL1_OPTIONS if options.get(f) is not None}
    return preset(preset_name).replace(**changes)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flowpipe")
def cli() -> None:
    """flowpipe: dense TV-L1 optical flow for video action recognition."""


def main(argv: list[str] | None = None) -> None:
    """Console entry point: every error a user can cause is one line on stderr, no traceback."""
    try:
        cli.main(args=argv, prog_name="flowpipe", standalone_mode=False)
    except click.ClickException as err:
        click.echo(f"error: {err.format_message()}", err=True)
        sys.exit(err.exit_code)
    except click.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(130)


@cli.command()
@click.argument("img0", type=click.Path(dir_okay=False))
@click.argument("img1", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="OUT.flo")
@click.option("--png", is_flag=True, help="also write OUT.png, the flow's colour picture")
@tvl1_options
@user_errors
def flow(
    img0: str, img1: str, output: str, png: bool, preset: str, device: str, **options: Any
) -> None:
    """Flow of one image pair (IMG0 -> IMG1) to a Middlebury .flo file."""
    from flowpipe.pair import flow_for_images

    params = params_from_options(preset, options)
    written = flow_for_images(Path(img0), Path(img1), Path(output), params, device, png)
    for path in written:
        click.echo(str(path))


@cli.command()
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--videos-per-class", default=4, show_default=True, type=click.IntRange(min=1))
@click.option("--frames", default=16, show_default=True, type=click.IntRange(min=2))
@click.option("--size", default="160x120", show_default=True, callback=_size, help="WIDTHxHEIGHT")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option(
    "--format", "fmt", type=click.Choice(["mp4", "avi"]), default="mp4", show_default=True
)
@click.option("--classes", default=None, help="comma-separated subset of the motion classes")
@click.option("--png", "save_png", is_flag=True, help="also write every frame as PNG")
@user_errors
def synth(
    out: str,
    videos_per_class: int,
    frames: int,
    size: tuple[int, int],
    seed: int,
    fmt: str,
    classes: str | None,
    save_png: bool,
) -> None:
    """Synthetic videos with ground-truth flow (.flo) and motion-class labels in OUT."""
    from flowpipe.synth import write_dataset

    root = write_dataset(
        out,
        videos_per_class=videos_per_class,
        frames=frames,
        size=size,
        seed=seed,
        fmt=fmt,
        classes=classes.split(",") if classes else None,
        save_png=save_png,
    )
    click.echo(f"wrote {root}")


@cli.command()
@click.argument("inputs", nargs=-1)
@click.option("-o", "--output", "out", required=True, help="dataset folder or fsspec URL")
@click.option("--list", "list_file", type=click.Path(), help="file of '<path> [<label>]' lines")
@click.option("--size", default=None, callback=_size, help="resize frames to WIDTHxHEIGHT")
@click.option("--short-side", type=click.IntRange(min=8), help="resize so the short side is N")
@click.option("--fps", type=click.FloatRange(min=0, min_open=True), help="resample frame rate")
@click.option("--max-frames", type=click.IntRange(min=2), help="first N frames only (previews)")
@click.option("--no-backward", is_flag=True, help="forward flow only")
@click.option("--rgb", is_flag=True, help="also store the frames as img_NNNNN.jpg")
@click.option(
    "--bound", default=20.0, show_default=True, type=click.FloatRange(min=0, min_open=True)
)
@click.option("--quality", default=95, show_default=True, type=click.IntRange(1, 100))
@click.option("--pack", type=click.Choice(["folder", "zip"]), default="folder", show_default=True)
@click.option("--workers", type=click.IntRange(min=1), help="local CPU workers (default: GPUs)")
@click.option("--scheduler", help="address of an existing Dask scheduler, tcp://HOST:PORT")
@click.option("--scheduler-file", type=click.Path(dir_okay=False), help="Dask scheduler file")
@click.option("--batch", type=click.IntRange(min=1),
              help="frame pairs per chunk of a video (default: 16 on CPU, 64 on a GPU, whose "
                   "workers merge the chunks of their videos)")  # fmt: skip
@click.option("--retries", default=2, show_default=True, type=click.IntRange(min=0))
@click.option("--overwrite", is_flag=True, help="redo videos that are already finished")
@click.option("--no-progress", is_flag=True, help="no progress bar")
@tvl1_options
@user_errors
def extract(inputs: tuple[str, ...], out: str, list_file: str | None, preset: str, device: str,
            **options: Any) -> None:  # fmt: skip
    """Videos (files, folders, --list) -> flow dataset OUT: JPEG x/y flow pairs per video."""
    from flowpipe.extraction.run import ClusterOptions, run_extraction
    from flowpipe.extraction.worker import ExtractSettings
    from flowpipe.extraction.tasks import collect_tasks
    from flowpipe.extraction.video import Resize

    if not inputs and list_file is None:
        raise click.UsageError("give at least one video, folder or --list FILE")
    tasks = collect_tasks(list(inputs), list_file)
    settings = ExtractSettings(
        params=params_from_options(preset, options),
        bound=options["bound"], quality=options["quality"], backward=not options["no_backward"],
        rgb=options["rgb"], resize=Resize(options["size"], options["short_side"]),
        fps=options["fps"], max_frames=options["max_frames"],
    )  # fmt: skip
    cluster = ClusterOptions(options["scheduler"], options["scheduler_file"], options["workers"],
                             device, options["batch"], options["retries"])  # fmt: skip
    summary = run_extraction(tasks, out, settings, cluster, pack=options["pack"],
                             overwrite=options["overwrite"], progress=not options["no_progress"],
                             echo=lambda line: click.echo(line, err=True))  # fmt: skip
    click.echo(f"{len(summary.done)} extracted, {len(summary.skipped)} already done, "
               f"{len(summary.failed)} failed -> {out}")  # fmt: skip
    if summary.failed:
        sys.exit(EXIT_PARTIAL)


@cli.command()
@click.argument("out")
@user_errors
def info(out: str) -> None:
    """Summary of an extracted dataset (JSON): videos, flows, failures, bytes, ratio to float32."""
    from flowpipe.storage.summary import dataset_summary

    json.dump(dataset_summary(out), sys.stdout, indent=2)
    sys.stdout.write("\n")


@cli.group()
def bench() -> None:
    """Benchmarks: each prints one JSON object."""


@bench.command("tvl1")
@click.option("--pairs", default=8, show_default=True, type=click.IntRange(min=1))
@click.option("--batch", default=8, show_default=True, type=click.IntRange(min=1))
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or auto")
@click.option("--preset", type=click.Choice(["opencv", "fast", "accurate"]), default="opencv")
@click.option(
    "--backend", type=click.Choice(["auto", "torch", "triton"]), default="auto", show_default=True
)
@click.option("--quick", is_flag=True, help="small frames and few pairs (smoke run)")
@click.option("--no-opencv", is_flag=True, help="skip the OpenCV reference (not for reports)")
@click.option(
    "--data",
    type=click.Path(file_okay=False),
    default=None,
    help="shared test data folder (default: ../shared/data when present)",
)
@user_errors
def bench_tvl1(**options: Any) -> None:
    """TV-L1 speed and accuracy against OpenCV's DualTVL1 on the same frames."""
    from flowpipe.bench.tvl1 import run_tvl1_benchmark

    result = run_tvl1_benchmark(**options)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


@bench.command("extract")
@click.option("--max-frames", default=17, show_default=True, type=click.IntRange(min=2),
              help="frames per clip")  # fmt: skip
@click.option("--batch", type=click.IntRange(min=1),
              help="frame pairs per chunk of a video (default: extract's)")  # fmt: skip
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--copies", default=1, show_default=True, type=click.IntRange(min=1),
              help="times the job extracts each clip, as separate videos")  # fmt: skip
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or auto")
@click.option("--tiny-videos", default=500, show_default=True, type=click.IntRange(min=0),
              help="tiny videos for the scheduler-overhead figure (0: skip)")  # fmt: skip
@click.option("--data", type=click.Path(file_okay=False), default=None,
              help="shared test data folder (default: ../shared/data when present)")  # fmt: skip
@user_errors
def bench_extract(**options: Any) -> None:
    """flowpipe extract end to end against a decode -> OpenCV -> cv2.imwrite script."""
    from flowpipe.bench.extract import run_extract_benchmark

    json.dump(run_extract_benchmark(**options), sys.stdout, indent=2)
    sys.stdout.write("\n")


@bench.command("train")
@click.option("--steps", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--quick", is_flag=True, help="112² and 16-frame inputs (smoke run)")
@user_errors
def bench_train(steps: int, quick: bool) -> None:
    """Training-step samples/s: temporal ResNet-18 (L=10, 224²) and I3D (64×224²)."""
    from flowpipe.bench.train import run_train_benchmark

    json.dump(run_train_benchmark(steps, quick), sys.stdout, indent=2)
    sys.stdout.write("\n")


@bench.command("loader")
@click.option("--stacks", default=200, show_default=True, type=click.IntRange(min=1),
              help="stacks per loader and round")  # fmt: skip
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(min=1),
              help="interleaved rounds; each loader's best counts")  # fmt: skip
@click.option("--quick", is_flag=True, help="tiny synthetic clips, few stacks (smoke run)")
@click.option("--data", type=click.Path(file_okay=False), default=None,
              help="shared test data folder (default: ../shared/data when present)")  # fmt: skip
@user_errors
def bench_loader(**options: Any) -> None:
    """Flow-stack loader stacks/s (simple, trajectory, zip) against a PIL/ToTensor loader."""
    from flowpipe.bench.loader import run_loader_benchmark

    json.dump(run_loader_benchmark(**options), sys.stdout, indent=2)
    sys.stdout.write("\n")


@cli.group()
def viz() -> None:
    """Pictures, clips and an HTML report of flow (.flo files or an extracted dataset)."""


_max_magnitude_option = click.option(
    "--max-magnitude",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="|v| in px shown at full colour (default: robust maximum, 99th percentile)",
)


@viz.command("flo")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="OUT.png")
@_max_magnitude_option
@click.option("--planes", is_flag=True, help="also show the x and y components as gray planes")
@click.option("--quiver", default=0, type=click.IntRange(min=0), metavar="PX",
              help="draw an arrow every PX pixels (0: none)")  # fmt: skip
@click.option("--no-legend", is_flag=True, help="leave out the colour-wheel key")
@user_errors
def viz_flo(file: str, output: str, max_magnitude: float | None, planes: bool, quiver: int,
            no_legend: bool) -> None:  # fmt: skip
    """Middlebury colour picture of a .flo file, with the colour-wheel key."""
    from flowpipe.viz import render_flo

    click.echo(str(render_flo(file, output, max_magnitude, planes, quiver, not no_legend)))


@viz.command("video")
@click.argument("video", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="clip.mp4 or clip.gif")  # fmt: skip
@click.option("--every", default=1, show_default=True, type=click.IntRange(min=1),
              help="show every N-th flow")  # fmt: skip
@click.option("--max-frames", type=click.IntRange(min=1), help="at most N clip frames")
@_max_magnitude_option
@user_errors
def viz_video(video: str, output: str, every: int, max_frames: int | None,
              max_magnitude: float | None) -> None:  # fmt: skip
    """Side-by-side clip of OUT/<video_id>: RGB frame, colour flow, x, y, backward flow."""
    from flowpipe.viz import write_clip

    count = write_clip(video, output, every, max_frames, max_magnitude)
    click.echo(f"wrote {output} ({count} frames)")


@viz.command("report")
@click.argument("out")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="report.html")
@click.option("--samples", default=8, show_default=True, type=click.IntRange(min=1),
              help="flows read per video for its statistics and thumbnails")  # fmt: skip
@click.option("--workers", type=click.IntRange(min=1), help="decoding threads (default: cores)")
@user_errors
def viz_report(out: str, output: str, samples: int, workers: int | None) -> None:
    """Self-contained HTML report of the extracted dataset OUT (folder, zip layout, fsspec URL)."""
    from flowpipe.viz import write_report

    click.echo(str(write_report(out, output, samples, workers)))


def _number_list(ctx: click.Context, param: click.Parameter, value: str | None) -> list | None:
    """click callback: '1,2.5' -> [1.0, 2.5]."""
    if value is None:
        return None
    try:
        return [float(v) for v in value.split(",")]
    except ValueError:
        raise click.BadParameter(
            f"expected comma-separated numbers such as 1,2, got {value!r}"
        ) from None


@cli.command()
@click.argument("scores", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="FUSED.npz")
@click.option("--method", type=click.Choice(["average", "svm"]), default="average",
              show_default=True)  # fmt: skip
@click.option("--weights", callback=_number_list, help="average: one weight per file, e.g. 1,2")
@click.option("--train-scores", help="svm: the streams' training-set score files, comma-separated,"
              " in the order of SCORES")  # fmt: skip
@click.option("--svm-c", default=1.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True), help="the SVM's C")  # fmt: skip
@user_errors
def fuse(scores: tuple[str, ...], output: str, method: str, weights: list[float] | None,
         train_scores: str | None, svm_c: float) -> None:  # fmt: skip
    """Late fusion of test-set score files (one per stream) into FUSED.npz; prints JSON metrics."""
    from flowpipe.train.fusion import fuse_score_files

    train = train_scores.split(",") if train_scores else None
    summary = fuse_score_files(scores, output, method, weights, train, svm_c)
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _int_list(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, ...]:
    """click callback: '30,40' -> (30, 40)."""
    numbers = _number_list(ctx, param, value) or []
    if any(v != int(v) for v in numbers):
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}")
    return tuple(int(v) for v in numbers)


def train_options(fn: Callable) -> Callable:
    """The options every stream's trainer takes (the stream adds its own)."""
    options = [
        click.argument("data"),
        click.option("-o", "--out", required=True, type=click.Path(file_okay=False),
                     help="run folder: last.pt, best.pt, metrics.csv"),
        click.option("--split", help="training split: UCF-101/HMDB-51 split folder or a list "
                     "file (default: the dataset's own labels)"),
        click.option("--val-split", help="held-out split, evaluated each epoch for best.pt"),
        click.option("--fold", default=1, show_default=True, type=click.IntRange(1, 3)),
        click.option("--arch", help="cnn-m-2048, resnet18, resnet50 (2-D) or i3d"),
        click.option("--crop", default=224, show_default=True, type=click.IntRange(min=8)),
        click.option("--augment", type=click.Choice(["crop", "multiscale"]), default="crop",
                     show_default=True, help="random crop or TSN multi-scale corner crop"),
        click.option("--no-flip", "flip", is_flag=True, flag_value=False, default=True,
                     help="no mirrored training views (classes a mirror changes)"),
        click.option("--epochs", default=10, show_default=True, type=click.IntRange(min=1)),
        click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1)),
        click.option("--lr", default=0.01, show_default=True,
                     type=click.FloatRange(min=0, min_open=True)),
        click.option("--momentum", default=0.9, show_default=True,
                     type=click.FloatRange(0, 1, max_open=True)),
        click.option("--weight-decay", default=5e-4, show_default=True,
                     type=click.FloatRange(min=0)),
        click.option("--lr-steps", callback=_int_list,
                     help="epochs after which lr *= --lr-gamma, e.g. 30,40"),
        click.option("--lr-gamma", default=0.1, show_default=True,
                     type=click.FloatRange(0, 1, min_open=True)),
        click.option("--dropout", type=click.FloatRange(0, 1, max_open=True),
                     help="default: the architecture's"),
        click.option("--workers", default=2, show_default=True, type=click.IntRange(min=0)),
        click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0)),
        click.option("--device", default="auto", show_default=True, help="cpu, cuda or auto"),
        click.option("--no-amp", is_flag=True, help="full precision on CUDA (no bf16 autocast)"),
        click.option("--val-stacks", default=5, show_default=True, type=click.IntRange(min=1)),
        click.option("--max-batches", type=click.IntRange(min=1), help="per epoch (smoke runs)"),
        click.option("--resume", is_flag=True, help="continue from OUT/last.pt"),
    ]  # fmt: skip
    for option in reversed(options):
        fn = option(fn)
    return user_errors(fn)


def _run_training(stream: str, options: dict[str, Any]) -> None:
    """Build the TrainConfig of a train command, train, print the summary as JSON."""
    from flowpipe.train.config import TrainConfig
    from flowpipe.train.trainer import train

    resume = options.pop("resume")
    options["amp"] = not options.pop("no_amp")
    options["init_from"] = options.pop("pretrained", None) or options.pop("inflate_from", None)
    cfg = TrainConfig(stream=stream, **options)
    json.dump(train(cfg, resume=resume), sys.stdout, indent=2)
    sys.stdout.write("\n")


@cli.group("train")
def train_group() -> None:
    """Trainers: temporal stream (2L flow channels), I3D flow stream, spatial stream (RGB)."""


@train_group.command("temporal")
@train_options
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
    help="RGB ImageNet checkpoint: cross-modality init of conv1, the rest copied",
)
def train_temporal(**options: Any) -> None:
    """Two-stream temporal ConvNet on stacks of L flow fields."""
    _run_training("temporal", options)


@train_group.command("i3d")
@train_options
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
    "--inflate-from",
    type=click.Path(dir_okay=False),
    help="torchvision GoogLeNet state dict to inflate (bootstrapping)",
)
def train_i3d(**options: Any) -> None:
    """I3D flow stream: inflated Inception-V1 on [2, T, crop, crop] clips in [-1, 1]."""
    _run_training("i3d", options)


@train_group.command("spatial")
@train_options
@click.option("--pretrained", type=click.Path(dir_okay=False), help="RGB ImageNet checkpoint")
def train_spatial(**options: Any) -> None:
    """Spatial stream: single RGB frames (img_ files; extract with --rgb)."""
    _run_training("spatial", options)


@cli.command("eval")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.argument("data", required=False)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="SCORES.npz (and SCORES.png, the confusion matrix)",
)
@click.option("--split", help="split to score (default: the dataset's own labels)")
@click.option("--subset", type=click.Choice(["train", "test"]), default="test", show_default=True)
@click.option("--fold", type=click.IntRange(1, 3), help="default: the training run's")
@click.option(
    "--test-stacks",
    default=25,
    show_default=True,
    type=click.IntRange(min=1),
    help="stacks (2-D streams) or frames (spatial) per video",
)
@click.option("--test-crops", type=click.Choice(["1", "10"]), default="10", show_default=True)
@click.option("--batch-size", default=4, show_default=True, type=click.IntRange(min=1))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=0))
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda")
@user_errors
def eval_command(
    checkpoint: str, data: str | None, output: str, test_crops: str, **options: Any
) -> None:
    """Video-level scores of a trained checkpoint: top-1/top-5, per class, confusion PNG."""
    from flowpipe.train.evaluate import evaluate, write_evaluation

    scores = evaluate(checkpoint, data, test_crops=int(test_crops), **options)
    json.dump(write_evaluation(scores, output), sys.stdout, indent=2)
    sys.stdout.write("\n")
