"""What every command group shares: exit codes, one-line errors, option types and bundles."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import click

EXIT_PARTIAL = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # as a shell reports a process ended by SIGINT
PRESETS = ("opencv", "fast", "accurate")


class UserError(click.ClickException):
    """An error the user caused (bad option value, unreadable file): one line, exit code 2."""

    exit_code = EXIT_USAGE


@contextlib.contextmanager
def as_user_errors() -> Iterator[None]:
    """ValueError/OSError raised by the library inside the block become a one-line UserError."""
    try:
        yield
    except (ValueError, OSError) as err:
        raise UserError(one_line(err)) from None


def user_errors(fn: Callable) -> Callable:
    """Turn ValueError/OSError raised by the library into a one-line UserError."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with as_user_errors():
            return fn(*args, **kwargs)

    return wrapper


def one_line(err: BaseException) -> str:
    """The error's message; for one re-raised from a DataLoader worker (message = the worker's
    traceback), the traceback's last line, which is the original error."""
    text = str(err)
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    if len(lines) > 1 and "Traceback" in text:
        return lines[-1]
    return " ".join(text.split()) or type(err).__name__


def parse_size(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """click callback: WIDTHxHEIGHT -> (width, height)."""
    if value is None:
        return None
    try:
        width, height = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"expected WIDTHxHEIGHT such as 340x256, got {value!r}") from None
    return width, height


def parse_numbers(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """click callback: '1,2.5' -> [1.0, 2.5]."""
    if value is None:
        return None
    try:
        return [float(v) for v in value.split(",")]
    except ValueError:
        raise click.BadParameter(
            f"expected comma-separated numbers such as 1,2, got {value!r}"
        ) from None


def parse_ints(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """click callback: '30,40' -> (30, 40)."""
    numbers = parse_numbers(ctx, param, value) or []
    if any(v != int(v) for v in numbers):
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}")
    return tuple(int(v) for v in numbers)


def _parse_nscales(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """click callback: an integer number of pyramid levels, or 'auto'."""
    if value is None or value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter(f"expected an integer or 'auto', got {value!r}") from None


# TVL1Params field -> (option name, click type); every field is settable from the CLI.
TVL1_OPTIONS: dict[str, tuple[str, Any]] = {
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
    """--preset and one option per TVL1Params field (overriding the preset); the command gets
    them as one argument, `params` (a TVL1Params)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with as_user_errors():
            kwargs["params"] = tvl1_params(kwargs.pop("preset"), kwargs)
        return fn(*args, **kwargs)

    for field, (name, kind) in reversed(TVL1_OPTIONS.items()):
        callback = _parse_nscales if field == "nscales" else None
        help_text = f"TVL1Params.{field} (default: the preset's)"
        wrapper = click.option(
            name, field, type=kind, default=None, callback=callback, help=help_text
        )(wrapper)
    return click.option(
        "--preset",
        type=click.Choice(PRESETS),
        default="opencv",
        show_default=True,
        help="named TV-L1 settings",
    )(wrapper)


def tvl1_params(preset_name: str, options: dict[str, Any]) -> Any:
    """The preset with the TV-L1 options the user gave applied on top (popped from options)."""
    from flowpipe.flow import preset

    given = {f: options.pop(f) for f in TVL1_OPTIONS}
    changes = {f: v for f, v in given.items() if v is not None}
    return preset(preset_name).replace(**changes)


def device_option(default: str = "auto") -> Callable:
    """--device, a torch device name."""
    return click.option(
        "--device", default=default, show_default=True, help="cpu, cuda, cuda:N or auto"
    )


def data_option(fn: Callable) -> Callable:
    """--data, the folder of the benchmark's shared clips and Middlebury pairs."""
    return click.option(
        "--data",
        type=click.Path(file_okay=False),
        default=None,
        help="folder of test clips and Middlebury pairs (default: $FLOWPIPE_DATA; without it "
        "the benchmark uses synthetic clips)",
    )(fn)


@dataclass(frozen=True)
class DatasetOptions:
    """How to open a dataset: `bound` and `videos` (a list file) for flow another tool wrote
    (no flowpipe.json); both None for flowpipe's own datasets."""

    bound: float | None = None
    videos: str | None = None

    def open(self, root: str) -> Any:
        """The dataset at root (flowpipe.storage.open_store)."""
        from flowpipe.storage import open_store

        return open_store(root, self.bound, self.videos)


def dataset_options(fn: Callable) -> Callable:
    """--bound and --videos, for flow that another tool wrote (denseflow, mmaction2 or TSN
    rawframes, two-stream u/v folders); the command gets them as one DatasetOptions,
    `dataset`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["dataset"] = DatasetOptions(kwargs.pop("bound"), kwargs.pop("videos"))
        return fn(*args, **kwargs)

    wrapper = click.option(
        "--videos",
        type=click.Path(dir_okay=False),
        help="mmaction2/TSN list file naming the videos of flow without flowpipe.json "
        "(default: its folders)",
    )(wrapper)
    return click.option(
        "--bound",
        type=click.FloatRange(min=0, min_open=True),
        help="the bound flow without flowpipe.json was stored with (other tools' layouts)",
    )(wrapper)


def suspect_options(fn: Callable) -> Callable:
    """--suspect-pair and --suspect-video (fractions of checked pixels); the command gets them
    as one argument, `rule` (a flowpipe.quality.suspects.SuspectRule)."""
    from flowpipe.quality.suspects import SuspectRule

    defaults = SuspectRule()

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        pair, video = kwargs.pop("suspect_pair"), kwargs.pop("suspect_video")
        kwargs["rule"] = SuspectRule(pair_inconsistent=pair, video_inconsistent=video)
        return fn(*args, **kwargs)

    fraction = click.FloatRange(0, 1)
    wrapper = click.option(
        "--suspect-video",
        type=fraction,
        default=defaults.video_inconsistent,
        show_default=True,
        help="a video whose mean inconsistent fraction (forward-backward check) exceeds this "
        "is listed as suspect",
    )(wrapper)
    return click.option(
        "--suspect-pair",
        type=fraction,
        default=defaults.pair_inconsistent,
        show_default=True,
        help="a flow pair whose inconsistent fraction exceeds this is listed as suspect",
    )(wrapper)
