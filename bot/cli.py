"""`kindred`: the knowledge command line plus `kindred run`, which starts the Discord bot."""

from __future__ import annotations

import typer
from rich.markup import escape

from knowledge.cli import app
from knowledge.cli_common import ConfigOpt, DataDir, err

__all__ = ["app"]


@app.command()
def run(config: ConfigOpt = None, data_dir: DataDir = None) -> None:
    """Run the Discord bot (token from the DISCORD_TOKEN environment variable)."""
    from bot.runner import StartupError, main

    try:
        main(config, data_dir)
    except StartupError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(code=2) from None
