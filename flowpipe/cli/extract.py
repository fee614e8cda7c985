"""`flowpipe extract` (videos -> flow dataset) and `flowpipe info` (what a dataset holds)."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click

from flowpipe.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_PARTIAL,
    DatasetOptions,
    as_user_errors,
    dataset_options,
    device_option,
    parse_size,
    suspect_options,
    tvl1_options,
    user_errors,
)

_SETTINGS_OPTIONS = [
    click.option("--size", default=None, callback=parse_size, help="resize frames to WxH"),
    click.option(
        "--short-side",
        type=click.IntRange(min=8),
        help="resize so the short side is N; a video whose short side is already at most N is "
        "not enlarged (denseflow's rule)",
    ),
    click.option("--fps", type=click.FloatRange(min=0, min_open=True), help="resample frame rate"),
    click.option("--max-frames", type=click.IntRange(min=2), help="first N frames only"),
    click.option("--no-backward", is_flag=True, help="forward flow only"),
    click.option("--rgb", is_flag=True, help="also store the frames as img_NNNNN.jpg"),
    click.option(
        "--bound",
        default=20.0,
        show_default=True,
        type=click.FloatRange(min=0, min_open=True),
        help="flow clipped to +-bound px before 8-bit quantisation",
    ),
    click.option(
        "--quality",
        default=95,
        show_default=True,
        type=click.IntRange(1, 100),
        help="JPEG quality of the stored planes",
    ),
    click.option(
        "--i3d",
        is_flag=True,
        help="I3D's preprocessing (Carreira & Zisserman): 25 fps, short side 256",
    ),
]


def settings_options(fn: Callable) -> Callable:
    """The options that define the output (and the TV-L1 ones); the command gets them as one
    ExtractSettings, `settings`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with as_user_errors():
            kwargs["settings"] = _extract_settings(kwargs)
        return fn(*args, **kwargs)

    wrapper = tvl1_options(wrapper)
    for option in reversed(_SETTINGS_OPTIONS):
        wrapper = option(wrapper)
    return wrapper


def _extract_settings(options: dict[str, Any]) -> Any:
    """The ExtractSettings of the options (popped from them)."""
    from flowpipe.extraction.settings import I3D_FPS, I3D_SHORT_SIDE, ExtractSettings
    from flowpipe.extraction.video import Resize

    size, short_side, fps = options.pop("size"), options.pop("short_side"), options.pop("fps")
    if options.pop("i3d"):
        if size is not None:
            raise ValueError("--i3d resizes to a short side of 256: give it or --size, not both")
        short_side = short_side or I3D_SHORT_SIDE
        fps = fps or I3D_FPS
    return ExtractSettings(
        params=options.pop("params"),
        bound=options.pop("bound"),
        quality=options.pop("quality"),
        backward=not options.pop("no_backward"),
        rgb=options.pop("rgb"),
        resize=Resize(size, short_side),
        fps=fps,
        max_frames=options.pop("max_frames"),
    )


_CLUSTER_OPTIONS = [
    click.option("--workers", type=click.IntRange(min=1), help="local workers (default: GPUs)"),
    click.option("--scheduler", help="address of an existing Dask scheduler, tcp://HOST:PORT"),
    click.option("--scheduler-file", type=click.Path(dir_okay=False), help="Dask scheduler file"),
    click.option(
        "--batch",
        type=click.IntRange(min=1),
        help="frame pairs per chunk of a video (default: 16 on CPU, 64 on a GPU, whose workers "
        "merge the chunks of their videos)",
    ),
    click.option("--retries", default=2, show_default=True, type=click.IntRange(min=0)),
]


def cluster_options(fn: Callable) -> Callable:
    """Where the job runs; the command gets them as one ClusterOptions, `cluster`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from flowpipe.extraction.cluster import ClusterOptions

        names = ("scheduler", "scheduler_file", "workers", "device", "batch", "retries")
        with as_user_errors():
            kwargs["cluster"] = ClusterOptions(**{name: kwargs.pop(name) for name in names})
        return fn(*args, **kwargs)

    wrapper = device_option()(wrapper)
    for option in reversed(_CLUSTER_OPTIONS):
        wrapper = option(wrapper)
    return wrapper


def _storage_options(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> Any:
    """click callback: KEY=VALUE pairs -> StorageOptions (values parsed as JSON when they can
    be, so numbers and booleans arrive typed; the values are never printed)."""
    from flowpipe.storage.files import StorageOptions

    options: dict[str, Any] = {}
    for item in value:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item.split('=')[0]!r}=...")
        try:
            options[key] = json.loads(text)
        except ValueError:
            options[key] = text
    return StorageOptions(options)


_RUN_OPTIONS = [
    click.option(
        "--pack", type=click.Choice(["folder", "zip"]), default="folder", show_default=True
    ),
    click.option("--overwrite", is_flag=True, help="redo finished videos (also with new settings)"),
    click.option(
        "--force",
        is_flag=True,
        help="write into a folder that holds other files (kept as they are)",
    ),
    click.option(
        "--storage-option",
        "storage_options",
        multiple=True,
        callback=_storage_options,
        metavar="KEY=VALUE",
        help="fsspec option for URLs of inputs and OUT (repeatable), e.g. "
        "endpoint_url=http://127.0.0.1:9000; environment variables and fsspec's config files "
        "work too",
    ),
    click.option("--no-progress", is_flag=True, help="no progress display"),
]


def run_options(fn: Callable) -> Callable:
    """How the run treats OUT; the command gets them as one RunOptions, `options` (with the
    tuning of the FLOWPIPE_JOB_* variables)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from flowpipe.extraction.plan import RunOptions
        from flowpipe.extraction.settings import JobTuning

        with as_user_errors():
            kwargs["options"] = RunOptions(
                pack=kwargs.pop("pack"),
                overwrite=kwargs.pop("overwrite"),
                force=kwargs.pop("force"),
                progress=not kwargs.pop("no_progress"),
                storage_options=kwargs.pop("storage_options"),
                tuning=JobTuning.from_environment(),
            )
        return fn(*args, **kwargs)

    for option in reversed(_RUN_OPTIONS):
        wrapper = option(wrapper)
    return wrapper


@click.command()
@click.argument("inputs", nargs=-1)
@click.option("-o", "--output", "out", required=True, help="dataset folder or fsspec URL")
@click.option(
    "--list", "list_file", type=click.Path(), help="file of '<path> [<label>]' lines (# comments)"
)
@click.option(
    "--frames",
    is_flag=True,
    help="inputs are folders of frame images (img_00001.jpg, ...), one video a folder",
)
@run_options
@settings_options
@cluster_options
@user_errors
def extract(
    inputs: tuple[str, ...],
    out: str,
    list_file: str | None,
    frames: bool,
    options: Any,
    settings: Any,
    cluster: Any,
) -> None:
    """Videos (files, folders, --list; paths or fsspec URLs) -> flow dataset OUT: JPEG x/y
    flow pairs per video. Exit code 0 when every input is done, 1 when some failed or are
    being written by another run, 2 for a usage error (nothing started)."""
    from flowpipe.extraction.run import run_extraction
    from flowpipe.extraction.tasks import collect_tasks

    if not inputs and list_file is None:
        raise click.UsageError("give at least one video, folder or --list FILE")
    tasks = collect_tasks(list(inputs), list_file, options.storage_options, frames)
    try:
        summary = run_extraction(tasks, out, settings, cluster, options, echo=_stderr_echo)
    except KeyboardInterrupt:
        click.echo(
            "interrupted: finished videos are kept; run the same command to resume", err=True
        )
        sys.exit(EXIT_INTERRUPTED)
    busy = f", {len(summary.busy)} being written by another run" if summary.busy else ""
    click.echo(
        f"{len(summary.done)} extracted, {len(summary.skipped)} already done, "
        f"{len(summary.failed)} failed{busy} -> {out}"
    )
    if not summary.complete:
        sys.exit(EXIT_PARTIAL)


def _system(as_json: bool) -> None:
    from flowpipe.system import report_text, system_report

    report = system_report()
    if as_json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        click.echo(report_text(report))


def _stderr_echo(line: str) -> None:
    click.echo(line, err=True)


@click.command()
@click.argument("out", required=False)
@click.option("--json", "as_json", is_flag=True, help="one JSON object (for scripts)")
@click.option(
    "--system",
    is_flag=True,
    help="instead of a dataset: which of flowpipe's paths this machine runs (C kernels, "
    "libjpeg-turbo, torch.compile, Triton, CUDA) and why not the others",
)
@click.option(
    "--per-video",
    "sort",
    type=click.Choice(["inconsistent", "error", "id"]),
    default=None,
    help="also list every video's forward-backward consistency and worst pairs, sorted by "
    "mean inconsistent fraction, mean error (worst first) or id",
)
@suspect_options
@dataset_options
@user_errors
def info(
    out: str | None,
    as_json: bool,
    system: bool,
    sort: str | None,
    rule: Any,
    dataset: DatasetOptions,
) -> None:
    """What an extracted dataset holds: videos, flows, failures, bytes, ratio to float32
    (also flow another tool wrote: give its --bound), and the forward-backward consistency
    of its flow (suspect videos and pairs). With --system: this machine's paths."""
    from flowpipe.storage.summary import dataset_summary, summary_text, videos_text

    if system:
        _system(as_json)
        return
    if out is None:
        raise click.UsageError("give the dataset OUT (or --system)")
    summary = dataset_summary(dataset.open(out), rule=rule, sort=sort)
    if as_json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        click.echo(summary_text(summary))
        if sort:
            click.echo(videos_text(summary["video_rows"]))
