"""The `flowpipe` command line: thin click wrappers over the importable modules, one module per
command group. Every error a user can cause is one line on stderr and exit code 2."""

from __future__ import annotations

import sys

import click

from flowpipe import __version__
from flowpipe.cli.bench import bench
from flowpipe.cli.engine import flow, synth
from flowpipe.cli.extract import extract, info
from flowpipe.cli.index import index
from flowpipe.cli.lists import lists
from flowpipe.cli.train import eval_command, fuse, train_group
from flowpipe.cli.viz import viz


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flowpipe")
def cli() -> None:
    """flowpipe: dense TV-L1 optical flow for video action recognition."""


for command in (
    flow,
    synth,
    extract,
    info,
    index,
    lists,
    bench,
    viz,
    train_group,
    eval_command,
    fuse,
):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: every error a user can cause is one line on stderr, no traceback."""
    # Worker processes of an interrupted job leave semaphores to multiprocessing's resource
    # tracker, whose warning at exit would follow our one line; the tracker takes its warning
    # filters from these options when it starts.
    sys.warnoptions.append("ignore::UserWarning:multiprocessing.resource_tracker")
    try:
        cli.main(args=argv, prog_name="flowpipe", standalone_mode=False)
    except click.ClickException as err:
        click.echo(f"error: {err.format_message()}", err=True)
        sys.exit(err.exit_code)
    except click.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(130)


__all__ = ["cli", "main"]
