"""`kindred insights`: the moderators' `/insights` figures and chart as one self-contained HTML
page (no Discord connection, no embedding model). The page holds counts only: no message text."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kindred.cli.common import ConfigOpt, DataDir, GuildOpt, opened, say, settings_for
from kindred.cli.privacy import write_private_text


def insights(
    guild: GuildOpt,
    out_path: Annotated[
        Path,
        typer.Option("--out", metavar="FILE", help="Where to write the HTML page."),
    ],
    days: Annotated[
        int,
        typer.Option("--days", metavar="N", min=1, max=366, help="How far back to look."),
    ] = 30,
    data_dir: DataDir = None,
    config: ConfigOpt = None,
) -> None:
    """Write a guild's insights (questions, answers, conditions, gaps, chart) as an HTML page."""
    settings = settings_for(config, data_dir)
    with opened(settings, guild=guild) as service:
        report = service.insights.report(guild, days)
        page = service.insights.html(report)
    write_private_text(out_path, page)
    say(
        f"Wrote {out_path}: {report.asked} questions in the last {report.days} days, "
        f"{report.answered_24h} answered within 24 hours."
    )
