"""`flowpipe index OUT`: the dataset's index, checked against or rebuilt from meta.json."""

from __future__ import annotations

import json
import sys

import click

from flowpipe.cli.common import EXIT_PARTIAL, user_errors


@click.command("index")
@click.argument("out")
@click.option("--check", is_flag=True, help="compare every claim with its meta.json (slow)")
@click.option("--rebuild", is_flag=True, help="make the index anew from the meta.json files")
@click.option("--json", "as_json", is_flag=True, help="one JSON object (for scripts)")
@user_errors
def index(out: str, check: bool, rebuild: bool, as_json: bool) -> None:
    """The index of the dataset OUT: what it claims, its shards; --check compares it with the
    meta.json files (exit 1 when it claims a video that is not finished as it says),
    --rebuild makes it anew from them. Both read one meta.json per video."""
    from flowpipe.storage import DatasetStore
    from flowpipe.storage.reindex import check_index, index_status, rebuild_index

    store = DatasetStore(out)
    if rebuild:
        count = rebuild_index(store)
        click.echo(f"indexed {count:,} finished videos of {out}", err=as_json)
    result = check_index(store).as_dict() if check else index_status(store)
    if as_json:
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        click.echo(_text(out, result, check))
    if check and not result["consistent"]:
        sys.exit(EXIT_PARTIAL)


def _text(out: str, result: dict, checked: bool) -> str:
    if not checked:
        if not result["indexed"]:
            return f"{out}: no index (run `flowpipe index {out} --rebuild`)"
        return f"{out}: {result['claimed']:,} videos in {result['shards']} shard(s)"
    lines = [f"{out}: {result['claimed']:,} videos claimed in {result['shards']} shard(s)"]
    for key, what in (
        ("absent", "claimed without meta.json"),
        ("different", "claimed, meta.json differs"),
        ("unclaimed", "finished, not in the index"),
    ):
        if result[key]:
            lines.append(f"  {len(result[key]):,} {what}, e.g. {result[key][0]}")
    lines.append("  consistent" if result["consistent"] else "  NOT consistent: run with --rebuild")
    return "\n".join(lines)
