"""`kindred privacy`: export, delete and retention for server admins (no Discord connection)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from kindred.cli.common import ConfigOpt, DataDir, fail, open_service, settings_for
from knowledge.errors import KindredError
from knowledge.privacy.consent import PrivacyManager
from knowledge.store.db import PRIVATE_FILE_MODE

app = typer.Typer(
    help="Members own their data: export, delete, retention.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

GuildOpt = Annotated[int, typer.Option("--guild", help="Guild (server) id.")]
MemberOpt = Annotated[int, typer.Option("--member", help="Member (user) id.")]


def write_private_text(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only (exports hold health data)."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, PRIVATE_FILE_MODE)


@app.command()
def export(
    guild: GuildOpt,
    member: MemberOpt,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Write the JSON here (mode 0600), not stdout.")
    ] = None,
    data_dir: DataDir = None,
    config: ConfigOpt = None,
) -> None:
    """Everything Kindred holds about one member of one guild, as JSON."""
    service = open_service(settings_for(config, data_dir))
    try:
        data = PrivacyManager(service.store).export(guild, member)
    finally:
        service.close()
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if out_path is None:
        typer.echo(text)
        return
    write_private_text(out_path, text + "\n")
    posts = len(data["tables"].get("post", []))
    err.print(f"Wrote {posts} posts and related rows to {out_path}.")


@app.command()
def delete(
    guild: GuildOpt,
    member: MemberOpt,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    vacuum: Annotated[
        bool, typer.Option("--vacuum", help="Also rewrite the database file (VACUUM).")
    ] = False,
    data_dir: DataDir = None,
    config: ConfigOpt = None,
) -> None:
    """Delete a member's posts, consent and history from every store; cannot be undone.

    Run it while the bot is stopped (a running bot holds its own copy of the vector index);
    with the bot running, members use /privacy delete.
    """
    settings = settings_for(config, data_dir)
    if not yes and not typer.confirm(
        f"Delete everything Kindred holds about member {member} in guild {guild}?"
    ):
        err.print("Nothing deleted.")
        raise typer.Exit(code=1)
    service = open_service(settings)
    try:
        report = PrivacyManager(service.store).delete_member(guild, member, vacuum=vacuum)
    finally:
        service.close()
    rows = ", ".join(f"{name} {count}" for name, count in sorted(report.rows.items()))
    out.print(
        f"Deleted {report.posts} posts ({rows}); {report.tombstones} message ids kept as "
        f"tombstones so they are never indexed again."
    )
    if not report.wal_truncated:
        err.print("[yellow]warning:[/yellow] the WAL could not be truncated (database busy).")


@app.command()
def retention(
    guild: GuildOpt,
    days: Annotated[
        int | None, typer.Option("--days", min=1, help="Keep posts at most this many days.")
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="Keep posts until deleted.")] = False,
    apply: Annotated[bool, typer.Option("--apply", help="Delete older posts now.")] = False,
    data_dir: DataDir = None,
    config: ConfigOpt = None,
) -> None:
    """Show or set how long a guild's posts are kept; `--apply` deletes older posts now."""
    if days is not None and off:
        fail("use either --days or --off")
    service = open_service(settings_for(config, data_dir))
    try:
        manager = PrivacyManager(service.store)
        if days is not None or off:
            manager.set_retention(guild, None if off else days)
        current = manager.retention_days(guild)
        removed = manager.apply_retention(guild, datetime.now(UTC)) if apply else None
    except KindredError as exc:
        fail(exc.detail)
    finally:
        service.close()
    kept = "until deleted" if current is None else f"for {current} days"
    out.print(f"Guild {guild}: posts are kept {kept}.")
    if removed is not None:
        out.print(f"Removed {removed} posts older than the retention period.")
