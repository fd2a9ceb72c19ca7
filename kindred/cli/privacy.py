"""`kindred privacy`: export, delete and retention for server admins (no Discord connection).

None of these loads the embedding model. `--member` takes an id or a name (see `kindred members`);
a request that matches no one fails with one line instead of doing nothing quietly. Deleting asks
first, or takes `--yes`.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from kindred.cli.common import (
    ConfigOpt,
    DataDir,
    GuildOpt,
    KindredCommand,
    YesOpt,
    fail,
    new_app,
    note,
    opened,
    resolve_member,
    say,
    settings_for,
)
from kindred.cli.render import counted
from knowledge.store.db import PRIVATE_FILE_MODE

app = new_app("Members own their data: export, delete, retention.")

MemberOpt = Annotated[
    str,
    typer.Option(
        "--member",
        metavar="ID_OR_NAME",
        help="The member: a user id, or a name from a loaded file (see kindred members).",
    ),
]


def write_private_text(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only (exports hold health data)."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, PRIVATE_FILE_MODE)


@app.command(cls=KindredCommand)
def export(
    guild: GuildOpt,
    member: MemberOpt,
    out_path: Annotated[
        Path | None,
        typer.Option("--out", metavar="FILE", help="Write the JSON here (mode 0600), not stdout."),
    ] = None,
    data_dir: DataDir = None,
    config: ConfigOpt = None,
) -> None:
    """Everything Kindred holds about one member of one guild, as JSON."""
    settings = settings_for(config, data_dir)
    with opened(settings, guild=guild) as service:
        who = resolve_member(service, guild, member)
        data = service.privacy.export(guild, who.user_id)
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if out_path is None:
        typer.echo(text)
        return
    write_private_text(out_path, text + "\n")
    posts = len(data.get("tables", {}).get("post", []))
    note(f"Wrote {counted(posts, 'post')} and related rows about member {who.label} to {out_path}.")


@app.command(cls=KindredCommand)
def delete(
    guild: GuildOpt,
    member: MemberOpt,
    yes: YesOpt = False,
    vacuum: Annotated[
        bool, typer.Option("--vacuum", help="Also rewrite the database file (VACUUM).")
    ] = False,
    data_dir: DataDir = None,
    config: ConfigOpt = None,
) -> None:
    """Delete a member's posts, consent and history from every store; cannot be undone.

    A running bot on the same database applies it within seconds (it follows the change log);
    members can do the same themselves with /privacy delete.
    """
    settings = settings_for(config, data_dir)
    with opened(settings, guild=guild) as service:
        who = resolve_member(service, guild, member)
        question = (
            f"Delete everything Kindred holds about member {who.label} in guild {guild} "
            f"({counted(who.posts, 'post')})? This cannot be undone."
        )
        if not yes and not typer.confirm(question):
            note("Nothing deleted.")
            raise typer.Exit(code=1)
        report = service.privacy.delete_member(guild, who.user_id, vacuum=vacuum)
    rows = ", ".join(f"{name} {count}" for name, count in sorted(report.rows.items()) if count)
    say(
        f"Deleted {counted(report.posts, 'post')} of member {who.label} from guild {guild}"
        + (f" (rows: {rows})" if rows else "")
        + f"; {counted(report.tombstones, 'message id')} kept as tombstones so they are never "
        "indexed again."
    )
    if not report.wal_truncated:
        note("warning: the WAL could not be truncated (database busy); run again later.")


@app.command(cls=KindredCommand)
def retention(
    guild: GuildOpt,
    days: Annotated[
        int | None,
        typer.Option("--days", metavar="N", min=1, help="Keep posts at most N days."),
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="Keep posts until deleted.")] = False,
    apply: Annotated[
        bool, typer.Option("--apply", help="Delete posts older than the limit now (asks first).")
    ] = False,
    yes: YesOpt = False,
    data_dir: DataDir = None,
    config: ConfigOpt = None,
) -> None:
    """Show or set how long a guild's posts are kept; --apply deletes older posts now."""
    if days is not None and off:
        fail("use either --days or --off")
    settings = settings_for(config, data_dir)
    with opened(settings, guild=guild) as service:
        privacy = service.privacy
        limit = None if off else (days if days is not None else privacy.retention_days(guild))
        now = datetime.now(UTC)
        older = service.directory.posts_before(guild, now - timedelta(days=limit)) if limit else 0
        if apply and older and limit and not yes:
            question = (
                f"Delete {counted(older, 'post')} older than {counted(limit, 'day')} "
                f"from guild {guild}? This cannot be undone."
            )
            if not typer.confirm(question):
                note("Nothing deleted; retention unchanged.")
                raise typer.Exit(code=1)
        if days is not None or off:
            privacy.set_retention(guild, limit)
        removed = privacy.apply_retention(guild, now) if apply and older else 0
    kept = "until deleted" if limit is None else f"for {counted(limit, 'day')}"
    say(f"Guild {guild}: posts are kept {kept}.")
    if apply and limit is None:
        say("No retention limit is set: nothing removed.")
    elif apply:
        say(f"Removed {counted(removed, 'post')} older than the retention period.")
    elif older:
        say(
            f"{counted(older, 'post')} {'is' if older == 1 else 'are'} older than that: --apply "
            "removes them now, and a "
            "running bot removes them within the hour."
        )
