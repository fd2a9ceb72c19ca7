"""`kindred ingest` (JSON Lines) and `kindred import` (DiscordChatExporter JSON): files an operator
loads, reported in words, with crisis posts listed by id and place."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kindred.cli.common import (
    ConfigOpt,
    DataDir,
    fail,
    note,
    opened,
    say,
    settings_for,
)
from kindred.cli.progress import progress_bar
from kindred.cli.render import counted, crisis_lines, line_details, summary_lines
from kindred.files.discord_export import (
    ImportResult,
    find_export_files,
    import_exports,
    read_exports,
)
from kindred.files.loading import load_posts, read_file
from knowledge.privacy.consent import OPT_IN
from knowledge.records import Flag


def ingest(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="JSON Lines: one post a line with id and text; optional author, channel, "
            "thread (a name, or a numeric id that is kept) and created_at (ISO 8601).",
            show_default=False,
        ),
    ],
    guild: Annotated[
        int, typer.Option("--guild", metavar="ID", help="Guild (server) id to load into.")
    ],
    data_dir: DataDir = None,
    config: ConfigOpt = None,
) -> None:
    """Load posts from a JSON Lines file; bad lines are reported by number, the rest load.

    Loading a file counts as the operator enabling the channels it names.
    """
    settings = settings_for(config, data_dir)
    if file.is_dir():
        fail(
            f"{file} is a folder: kindred ingest reads one JSON Lines file "
            "(kindred import reads a folder of DiscordChatExporter exports)"
        )
    posts, bad = read_file(file, guild)  # file problems fail before anything is created
    with opened(settings, existing=False, start=True) as service:
        with progress_bar("Indexing posts", len(posts)) as advance:
            result = load_posts(service, guild, posts, bad, advance, service.directory)
        names = {c.id: c.name or str(c.id) for c in service.directory.channels(guild)}
    for line in line_details(result.bad_lines):
        note(line)
    for line in summary_lines(result.report, guild):
        say(line)
    for channel, other in sorted(result.refused_channels.items()):
        note(f"channel {channel} already belongs to guild {other}: its posts were not loaded here")

    def place(flag: Flag) -> str:
        where = f"#{names.get(flag.channel_id, flag.channel_id)}"
        if flag.thread_id is None:
            return where
        return f"{where} › {names.get(flag.thread_id, flag.thread_id)}"

    for line in crisis_lines(result.report, place, lambda flag: None):
        say(line)


def import_(
    source: Annotated[
        Path,
        typer.Argument(
            metavar="FILE_OR_FOLDER",
            help="A DiscordChatExporter JSON export, or a folder of them (one file per channel "
            "or thread; read recursively).",
            show_default=False,
        ),
    ],
    guild: Annotated[
        int,
        typer.Option(
            "--guild", metavar="ID", help="Guild (server) id the exports come from and load into."
        ),
    ],
    data_dir: DataDir = None,
    config: ConfigOpt = None,
) -> None:
    """Import Discord history exported with DiscordChatExporter (JSON format).

    Real message, channel and author ids are kept, so the bot later continues the same
    channels live without duplicates. Bots, webhooks, system messages and private threads are
    skipped. Safe to run again: nothing is stored twice and unchanged posts are not re-embedded.
    """
    settings = settings_for(config, data_dir)
    result = ImportResult()
    exports = read_exports(find_export_files(source), guild, result)
    for line in result.left_out:
        note(f"left out: {line}")
    for line in result.problems:
        note(f"not imported: {line}")
    if not exports:
        fail(f"nothing to import from {source}: no usable export of guild {guild}")
    total = sum(e.messages for e in exports)
    with opened(settings, existing=False, start=True) as service:
        with progress_bar(f"Importing {len(exports)} channels and threads", total) as advance:
            import_exports(service, service.directory, exports, result, advance)
        mode = service.privacy.search_mode(guild)
    report_import(result, guild, mode)
    if result.problems:
        raise typer.Exit(code=1)


def report_import(result: ImportResult, guild: int, mode: str) -> None:
    for line in line_details(s for s in result.report.skipped if s.detail):
        note(line)
    channels = len({e.channel_id for e in result.files})
    threads = len({e.thread_id for e in result.files if e.thread_id})
    say(
        f"Imported {counted(channels, 'channel')} and {counted(threads, 'thread')} "
        f"from {counted(len(result.files), 'file')}."
    )
    for line in summary_lines(result.report, guild, "message"):
        say(line)

    def link(flag: Flag) -> str:
        place = flag.thread_id or flag.channel_id
        return f"https://discord.com/channels/{guild}/{place}/{flag.external_id}"

    for line in crisis_lines(result.report, result.place_of, link):
        say(line)
    if mode == OPT_IN:
        say(
            f"Guild {guild} is opt-in: members' imported posts are found by others only after "
            "they agree (/privacy view); an admin can switch with /privacy mode opt_out."
        )
    say(
        "Next: run the bot (kindred run); it continues these channels after the newest "
        "imported message."
    )
    if result.problems:
        failed = len(result.problems)
        note(f"{failed} files were not imported (listed above); fix them and run again.")
