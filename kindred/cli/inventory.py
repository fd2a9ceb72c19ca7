"""`kindred stats`, `kindred members` and `kindred channels`: what Kindred holds, as tables (or
JSON for scripts). None of them loads the embedding model."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from kindred.cli.common import (
    ConfigOpt,
    DataDir,
    GuildOpt,
    JsonOpt,
    opened,
    out,
    say,
    settings_for,
)


def stats(
    guild: Annotated[
        int | None,
        typer.Option("--guild", metavar="ID", help="Only this guild (default: every guild)."),
    ] = None,
    as_json: JsonOpt = False,
    data_dir: DataDir = None,
    config: ConfigOpt = None,
) -> None:
    """Counts of what Kindred holds: guilds, enabled channels, posts and vectors."""
    settings = settings_for(config, data_dir)
    with opened(settings, guild=guild) as service:
        figures = service.stats(guild)
        guilds = [g for g in service.directory.guilds() if guild is None or g.id == guild]
    if as_json:
        typer.echo(json.dumps({**figures.__dict__, "by_guild": [asdict(g) for g in guilds]}))
        return
    scope = f"guild {guild}" if guild is not None else f"{settings.storage.data_dir}/"
    table = Table(title=f"What Kindred holds in {escape(scope)}")
    table.add_column("what")
    table.add_column("count", justify="right")
    rows = [
        ("guilds (servers)", figures.guilds),
        ("channels enabled for indexing", figures.channels_enabled),
        ("posts stored", figures.posts),
        ("posts with a vector", figures.vectors),
        ("vectors in the search index", figures.indexed_vectors),
    ]
    for label, value in rows:
        table.add_row(label, f"{value:,}")
    out.print(table)
    if guild is None and guilds:
        per = Table(title="By guild")
        for column in ("guild id", "name", "enabled channels", "members", "posts"):
            per.add_column(column, justify="left" if column == "name" else "right")
        for g in guilds:
            name = escape(g.name or "")
            per.add_row(str(g.id), name, str(g.channels_enabled), str(g.members), f"{g.posts:,}")
        out.print(per)
    if figures.vectors < figures.posts:
        say(
            f"{figures.posts - figures.vectors} posts have no vector yet; "
            "the next ingest, import or search embeds them."
        )


def members(
    guild: GuildOpt,
    as_json: JsonOpt = False,
    data_dir: DataDir = None,
    config: ConfigOpt = None,
) -> None:
    """Members Kindred holds posts or rows for: ids, names (from files) and post counts.

    Use the id or the name with `kindred privacy export` or `kindred privacy delete`.
    """
    settings = settings_for(config, data_dir)
    with opened(settings, guild=guild) as service:
        entries = service.directory.members(guild)
    if as_json:
        typer.echo(json.dumps([asdict(e) for e in entries]))
        return
    table = Table(title=f"Members of guild {guild}")
    table.add_column("member id", justify="right")
    table.add_column("name")
    table.add_column("posts", justify="right")
    for entry in entries:
        table.add_row(str(entry.user_id), escape(entry.handle or "—"), f"{entry.posts:,}")
    out.print(table)
    say(
        f"{len(entries)} members. Names come from loaded files; members who joined through "
        "Discord are listed by id only."
    )


def channels(
    guild: GuildOpt,
    as_json: JsonOpt = False,
    data_dir: DataDir = None,
    config: ConfigOpt = None,
) -> None:
    """Channels and threads Kindred knows: ids, names, whether indexed, post counts.

    Use the id or the name with `kindred search --channel`.
    """
    settings = settings_for(config, data_dir)
    with opened(settings, guild=guild) as service:
        entries = service.directory.channels(guild)
    if as_json:
        typer.echo(json.dumps([asdict(e) for e in entries]))
        return
    table = Table(title=f"Channels of guild {guild}")
    table.add_column("channel id", justify="right")
    table.add_column("name")
    table.add_column("kind")
    table.add_column("indexed")
    table.add_column("posts", justify="right")
    for entry in entries:
        name = f"  › {entry.name or entry.id}" if entry.is_thread else entry.label
        indexed = "" if entry.is_thread else ("yes" if entry.enabled else "no")
        table.add_row(str(entry.id), escape(name), entry.kind, indexed, f"{entry.posts:,}")
    out.print(table)
