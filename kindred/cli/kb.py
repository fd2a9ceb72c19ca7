"""`kindred kb export|import`: the moderators' knowledge base as Markdown or JSON, for backups and
for sharing between servers (no Discord connection).

Export reads only (the embedding model is never loaded) and writes the moderators' words alone:
no member's quote, source message or name. Import adds each entry to one enabled channel (its
readers are who may see the entries), skips titles already in the knowledge base, and indexes
what it adds (this loads the model).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kindred.cli.common import (
    ConfigOpt,
    DataDir,
    GuildOpt,
    KindredCommand,
    fail,
    new_app,
    note,
    opened,
    resolve_channel,
    say,
    settings_for,
)
from kindred.cli.privacy import write_private_text
from kindred.cli.render import counted
from knowledge.curation.kb_files import FORMATS, dump_entries, load_entries

app = new_app("The moderators' knowledge base: export and import (Markdown or JSON).")

FormatOpt = Annotated[
    str,
    typer.Option("--format", metavar="md|json", help="Markdown (md) or JSON (json)."),
]


@app.command("export", cls=KindredCommand)
def export(
    guild: GuildOpt,
    fmt: FormatOpt = "md",
    out_path: Annotated[
        Path | None,
        typer.Option("--out", metavar="FILE", help="Write the file here, not to stdout."),
    ] = None,
    retired: Annotated[
        bool, typer.Option("--include-retired", help="Also export retired entries.")
    ] = False,
    data_dir: DataDir = None,
    config: ConfigOpt = None,
) -> None:
    """Write a guild's knowledge base (moderators' words only) as Markdown or JSON."""
    if fmt not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}")
    settings = settings_for(config, data_dir)
    with opened(settings, guild=guild) as service:
        entries = service.curation.entries.list_entries(guild, include_retired=retired)
    text = dump_entries(entries, fmt, guild)
    if out_path is None:
        typer.echo(text, nl=False)
        return
    write_private_text(out_path, text)
    note(f"Wrote {counted(len(entries), 'entry', 'entries')} to {out_path}.")


@app.command("import", cls=KindredCommand)
def import_(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A .md or .json knowledge base.")],
    guild: GuildOpt,
    channel: Annotated[
        str,
        typer.Option(
            "--channel",
            metavar="ID_OR_NAME",
            help="An enabled channel: members who can read it can see the entries.",
        ),
    ],
    by: Annotated[
        int | None,
        typer.Option("--by", metavar="ID", help="The moderator's user id, for the audit."),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", metavar="md|json", help="Default: from the file's contents."),
    ] = None,
    data_dir: DataDir = None,
    config: ConfigOpt = None,
) -> None:
    """Add the entries of a knowledge-base file to a guild (titles it has already are skipped)."""
    if fmt is not None and fmt not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}")
    drafts = load_entries(file.read_text(encoding="utf-8"), fmt)
    settings = settings_for(config, data_dir)
    with opened(settings, guild=guild) as service:
        place = resolve_channel(service, guild, channel)
        if not place.enabled or place.parent_id is not None:
            fail(f"#{place.name or place.id} is not an enabled channel: entries need one")
        added, skipped = service.curation.import_entries(guild, drafts, place.id, by)
        service.flush(force=True)
    say(f"Imported {counted(len(added), 'entry', 'entries')} into #{place.name or place.id}.")
    if skipped:
        note(f"Skipped {counted(len(skipped), 'title')} already in the knowledge base.")
