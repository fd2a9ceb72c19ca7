"""`kindred doctor`: check config, database, migrations, indexes, model and Discord, and say what
to fix; `kindred health`: one line and an exit code for process supervisors (the bot's health
file). Neither creates a database, a folder or an index."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from kindred.cli.common import ConfigOpt, DataDir, JsonOpt, out, say
from knowledge.config import KindredSettings
from knowledge.embeddings import Embedder
from knowledge.health import (
    Check,
    check_config,
    check_indexes,
    check_model,
    check_schema,
    read_health,
    reading_engine,
    stored_dimension,
)
from knowledge.logs import configure_logging
from knowledge.service import default_embedder

# How doctor builds the embedder it checks; tests replace it (e.g. with a fake embedder).
embedder_factory: Callable[[KindredSettings], Embedder] = default_embedder

STYLE = {"ok": "green", "warn": "yellow", "fail": "red", "skip": "dim"}
SkipModel = Annotated[
    bool, typer.Option("--skip-model", help="Do not load the embedding model (faster).")
]
MaxAge = Annotated[
    float | None,
    typer.Option(
        "--max-age",
        metavar="SECONDS",
        min=1,
        help="Stale after this many seconds (default: three of the bot's write intervals).",
    ),
]


def store_checks(settings: KindredSettings, skip_model: bool) -> list[Check]:
    """Database, migrations, per-guild indexes and the model, all read-only."""
    checks: list[Check] = []
    embedder: Embedder | None = None
    expected: int | None = None
    with reading_engine(settings) as (reached, engine):
        checks.append(reached)
        if engine is not None and reached.status != "fail":
            schema = check_schema(engine)
            checks.append(schema)
            if schema.status == "ok":
                try:
                    embedder = embedder_factory(settings)
                    name, dimension = embedder.name, embedder.dimension
                except Exception:  # the model check below says why
                    name, dimension = settings.embedding.model_name, None
                expected = stored_dimension(engine, name)
                index_dir = settings.storage.data_dir / "indexes"
                shared = engine.url.get_backend_name() != "sqlite"
                found = check_indexes(
                    engine, index_dir, name, dimension or expected or 0, shared=shared
                )
                checks.extend(found)

    def make() -> Embedder:
        return embedder or embedder_factory(settings)

    checks.append(check_model(make, load=not skip_model, expected=expected))
    return checks


def all_checks(config: Path | None, data_dir: Path | None, skip_model: bool) -> list[Check]:
    from bot.config import BotSettings, health_path
    from bot.doctor import check_discord

    found, settings = check_config(config, BotSettings, data_dir)
    if settings is None:
        return [found]
    checks = [found, *store_checks(settings, skip_model)]
    checks.extend(asyncio.run(check_discord(os.environ.get("DISCORD_TOKEN", "").strip())))
    checks.append(read_health(health_path(settings)))
    return checks


def doctor(
    config: ConfigOpt = None,
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
    skip_model: SkipModel = False,
) -> None:
    """Check the config, database, migrations, indexes, model and Discord; say what to fix.

    Exit code 0 when nothing failed (warnings allowed), 1 otherwise. Reads only: it never creates
    a database or a folder. Discord is checked when DISCORD_TOKEN is set.
    """
    configure_logging("WARNING")
    checks = all_checks(config, data_dir, skip_model)
    failed = [c for c in checks if c.status == "fail"]
    if as_json:
        payload = {"ok": not failed, "checks": [c.as_dict() for c in checks]}
        typer.echo(json.dumps(payload, indent=2))
    else:
        table = Table(title="kindred doctor", show_lines=False)
        for column in ("check", "status", "detail", "fix"):
            table.add_column(column, overflow="fold")
        for c in checks:
            style = STYLE[c.status]
            status = f"[{style}]{c.status}[/{style}]"
            table.add_row(escape(c.name), status, escape(c.detail), escape(c.fix))
        out.print(table)
        warned = sum(1 for c in checks if c.status == "warn")
        if failed:
            say(f"{len(failed)} problem(s) to fix, {warned} warning(s).")
        else:
            say(f"Nothing to fix ({warned} warning(s)).")
    if failed:
        raise typer.Exit(code=1)


def health(config: ConfigOpt = None, data_dir: DataDir = None, max_age: MaxAge = None) -> None:
    """Whether the running bot is alive and connected, from its health file (for supervisors).

    Prints one line; exit code 0 when the file is fresh and the bot is ready, 1 otherwise.
    """
    from bot.config import health_path, load_bot_settings

    settings = load_bot_settings(config).with_data_dir(data_dir)  # errors: one line, exit 2
    found = read_health(health_path(settings), max_age=max_age)
    say(f"{found.status}: {found.detail}" + (f" ({found.fix})" if found.fix else ""))
    if found.status != "ok":
        raise typer.Exit(code=1)
