"""`flowpipe lists`: list files for training frameworks (mmaction2, TSN) and flowpipe."""

from __future__ import annotations

import click

from flowpipe.cli.common import DatasetOptions, dataset_options, user_errors
from flowpipe.interop.lists import FORMATS


@click.command("lists")
@click.argument("out")
@click.option(
    "--split",
    help="UCF-101 split folder (classInd.txt, trainlist0N.txt, testlist0N.txt), HMDB-51 "
    "split folder, Kinetics-style CSV, mmaction2 list, or a folder of class folders of videos "
    "(default: the dataset's own labels)",
)
@click.option(
    "--fold",
    "folds",
    multiple=True,
    type=click.IntRange(min=1),
    help="fold to write, repeatable (default: every fold the split has)",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="mmaction2", show_default=True)
@click.option(
    "-o", "--output", required=True, type=click.Path(file_okay=False), help="folder for the lists"
)
@click.option("--strict", is_flag=True, help="a split video not in the dataset is an error")
@dataset_options
@user_errors
def lists(
    out: str,
    split: str | None,
    folds: tuple[int, ...],
    fmt: str,
    output: str,
    strict: bool,
    dataset: DatasetOptions,
) -> None:
    """Train and val list files of the finished videos of OUT, for mmaction2 (rawframes:
    <frame_dir> <total_frames> <label>), TSN (<frame_dir> <num_frames> <label>) or flowpipe;
    0-based labels; flow lists count flows, RGB lists (--rgb datasets) frames. Split videos
    not in OUT are left out and reported (--strict: an error, nothing written)."""
    from flowpipe.interop.lists import ListRequest, write_lists

    request = ListRequest(output, split, folds, fmt, strict)
    written = write_lists(dataset.open(out), request)
    for path, count in written.files:
        click.echo(
            f"wrote {path} ({count} {'classes' if path.name == 'classes.txt' else 'videos'})"
        )
    report = written.report()
    if report:
        click.echo(f"warning: {report}", err=True)
