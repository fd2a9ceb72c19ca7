"""`kindred run`: start the Discord bot (the bot package is loaded only for this command)."""

from __future__ import annotations

import typer
from rich.markup import escape

from kindred.cli.common import ConfigOpt, DataDir, err


def run(config: ConfigOpt = None, data_dir: DataDir = None) -> None:
    """Run the Discord bot (token from the DISCORD_TOKEN environment variable)."""
    from bot.runner import StartupError, main

    try:
        main(config, data_dir)
    except StartupError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(code=2) from None
