"""`kindred run`: start the Discord bot (the bot package is loaded only for this command)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from kindred.cli.common import ConfigOpt, DataDir, err

ShardsOpt = Annotated[
    str | None,
    typer.Option(
        "--shards",
        metavar="IDS",
        help="Run only these of Discord's shards, e.g. 0-3 or 0,2 (needs --shard-count).",
    ),
]
ShardCountOpt = Annotated[
    int | None,
    typer.Option(
        "--shard-count",
        metavar="N",
        min=1,
        help="How many shards all processes run together (with --shards).",
    ),
]


def run(
    config: ConfigOpt = None,
    data_dir: DataDir = None,
    shards: ShardsOpt = None,
    shard_count: ShardCountOpt = None,
) -> None:
    """Run the Discord bot (token from the DISCORD_TOKEN environment variable).

    Several processes can share one PostgreSQL database, each running a set of shards:
    `kindred run --shards 0-3 --shard-count 8` here, `--shards 4-7 --shard-count 8` elsewhere.
    """
    from bot.runner import StartupError, main
    from bot.sharding import ShardSet

    shard_set = None
    if (shards is None) != (shard_count is None):
        err.print("[red]error:[/red] --shards and --shard-count go together")
        raise typer.Exit(code=2)
    if shards is not None and shard_count is not None:
        try:
            shard_set = ShardSet.parse(shards, shard_count)
        except ValueError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(code=2) from None
    try:
        main(config, data_dir, shard_set)
    except StartupError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(code=2) from None
