"""Importing DiscordChatExporter JSON exports (one file per channel or thread).

Each file holds `guild {id, name}`, `channel {id, type, categoryId, category, name}` and
`messages [...]`, every message with its Discord snowflake, author id and name, timestamps, edit
time and reply reference. The records built here are the ones the live bot builds for the same
messages (`bot/adapters.py`): the message id as `external_id`, the text or forum channel as
`channel_id`, the thread (a thread's file has the parent's id in `categoryId`) as `thread_id`, the
author's id, the snowflake's time as `created_at`. So after an import the bot's live sync, edits and
deletes meet the same rows, and nothing is stored twice.

Skipped like the bot skips them: bots and webhooks, system messages (joins, pins, "started a
thread"...), private threads and direct messages. Importing again is safe: unchanged messages are
neither stored twice nor embedded again, an edited one is updated. When a file holds a channel's
whole history (no `--after` date range), the import also records how far it reaches, so the bot's
backfill continues after it instead of reading it all again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kindred.files.loading import FileProblem, check_text_file, describe_os_error, enable_channels
from knowledge.directory import Directory
from knowledge.records import ChannelRecord, Flag, IngestReport, PostRecord, Skip
from knowledge.service import KnowledgeService
from knowledge.store.models import ChannelKind, PostKind
from knowledge.text import SkipReason

DISCORD_EPOCH_MS = 1_420_070_400_000
SKIP_BOT = "bot_message"
SKIP_SYSTEM = "system_message"

# Message types the bot indexes (discord.py's `Message.is_system()` is False for these); DCE writes
# the type's name, or its number for types it has no name for.
MEMBER_MESSAGE_TYPES = frozenset(
    {
        "Default",
        "Reply",
        "ChatInputCommand",
        "ContextMenuCommand",
        "ThreadStarterMessage",
        "PollResult",
        *("0", "19", "20", "21", "23", "46"),
    }
)
TEXT_CHANNEL_TYPES = frozenset({"GuildTextChat", "GuildNews", "GuildAnnouncement", "0", "5"})
THREAD_TYPES = frozenset({"GuildPublicThread", "GuildNewsThread", "10", "11"})
PRIVATE_THREAD_TYPES = frozenset({"GuildPrivateThread", "12"})
DIRECT_TYPES = frozenset({"DirectTextChat", "DirectGroupTextChat", "1", "3"})


class NotIndexed(FileProblem):
    """An export Kindred deliberately leaves out (a private thread, a voice channel's chat)."""


def snowflake_time(snowflake: int) -> datetime:
    """When a Discord id was made (what discord.py reports as `created_at`)."""
    return datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, tz=UTC)


@dataclass(frozen=True)
class ExportFile:
    """One exported channel or thread, turned into records."""

    path: Path
    guild_id: int
    guild_name: str | None
    channel: ChannelRecord  # the text channel, or the thread
    parent: ChannelRecord | None  # a thread's parent channel
    records: list[PostRecord]
    skipped: list[Skip]
    newest_id: int  # the newest message in the file, whoever wrote it
    whole_history: bool  # exported without an `--after` date: it starts at the beginning

    @property
    def channel_id(self) -> int:
        """The text or forum channel an admin enables (a thread's parent)."""
        return self.parent.id if self.parent else self.channel.id

    @property
    def thread_id(self) -> int | None:
        return self.channel.id if self.parent else None

    @property
    def label(self) -> str:
        if self.parent is not None:
            return f"#{self.parent.name or self.parent.id} › {self.channel.name or self.channel.id}"
        return f"#{self.channel.name or self.channel.id}"

    @property
    def messages(self) -> int:
        return len(self.records) + len(self.skipped)


@dataclass
class ImportResult:
    report: IngestReport = field(default_factory=IngestReport)
    files: list[ExportFile] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one line per file that failed
    left_out: list[str] = field(default_factory=list)  # one line per file skipped on purpose

    def place_of(self, flag: Flag) -> str:
        for export in self.files:
            if export.channel_id == flag.channel_id and export.thread_id == flag.thread_id:
                return export.label
        return f"#{flag.channel_id}"


def find_export_files(path: Path) -> list[Path]:
    """The JSON files to import: `path` itself, or every `*.json` under a folder."""
    if not path.exists():
        raise FileProblem(f"{path} does not exist")
    if not path.is_dir():
        return [path]
    try:
        found = sorted(p for p in path.rglob("*.json") if p.is_file())
    except OSError as exc:
        raise describe_os_error(path, exc) from None
    if not found:
        raise FileProblem(f"{path} holds no .json files (DiscordChatExporter JSON exports)")
    return found


def read_export(path: Path) -> ExportFile:
    """Parse one export; raise FileProblem (or NotIndexed) with one line saying what is wrong."""
    check_text_file(path, "a DiscordChatExporter JSON export")
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise describe_os_error(path, exc) from None
    except UnicodeDecodeError:
        raise FileProblem(f"{path} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise FileProblem(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not _is_export(data):
        raise FileProblem(
            f"{path} is not a DiscordChatExporter JSON export (no guild, channel and messages; "
            "JSON Lines files load with `kindred ingest`)"
        )
    return _parse(path, data)


def _is_export(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("guild"), dict)
        and isinstance(data.get("channel"), dict)
        and isinstance(data.get("messages"), list)
    )


def _snowflake(value: Any) -> int | None:
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    return int(text) if text.isascii() and text.isdigit() and 0 < int(text) < 2**63 else None


def _parse(path: Path, data: dict[str, Any]) -> ExportFile:
    guild, channel = data["guild"], data["channel"]
    guild_id, channel_id = _snowflake(guild.get("id")), _snowflake(channel.get("id"))
    kind = str(channel.get("type") or "")
    if kind in DIRECT_TYPES or not guild_id:
        raise NotIndexed(f"{path}: a direct-message export; Kindred indexes server channels only")
    if kind in PRIVATE_THREAD_TYPES:
        raise NotIndexed(f"{path}: a private thread; Kindred never indexes private threads")
    if channel_id is None:
        raise FileProblem(f"{path}: the channel has no valid id")
    name = channel.get("name") if isinstance(channel.get("name"), str) else None
    messages = data["messages"]
    parent: ChannelRecord | None = None
    if kind in THREAD_TYPES:
        parent_id = _snowflake(channel.get("categoryId"))
        if parent_id is None:
            raise FileProblem(f"{path}: the thread's parent channel (categoryId) is missing")
        forum = any(_snowflake(m.get("id")) == channel_id for m in messages if isinstance(m, dict))
        parent_name = channel.get("category") if isinstance(channel.get("category"), str) else None
        parent_kind = ChannelKind.FORUM if forum else ChannelKind.TEXT
        parent = ChannelRecord(parent_id, guild_id, parent_name, parent_kind)
        record = ChannelRecord(channel_id, guild_id, name, ChannelKind.THREAD, parent_id)
    elif kind in TEXT_CHANNEL_TYPES:
        record = ChannelRecord(channel_id, guild_id, name, ChannelKind.TEXT)
    else:
        raise NotIndexed(f"{path}: a {kind or 'unknown'} channel; Kindred indexes text channels")
    records, skipped, newest = _read_messages(guild_id, record, parent, messages)
    return ExportFile(
        path=path,
        guild_id=guild_id,
        guild_name=guild.get("name") if isinstance(guild.get("name"), str) else None,
        channel=record,
        parent=parent,
        records=records,
        skipped=skipped,
        newest_id=newest,
        whole_history=not _date_range_after(data),
    )


def _date_range_after(data: dict[str, Any]) -> bool:
    window = data.get("dateRange")
    return isinstance(window, dict) and window.get("after") not in (None, "")


def _read_messages(
    guild_id: int, channel: ChannelRecord, parent: ChannelRecord | None, messages: list[Any]
) -> tuple[list[PostRecord], list[Skip], int]:
    """(records, skips, newest message id) for a file's messages."""
    place = _Place(guild_id, channel, parent)
    records: list[PostRecord] = []
    skipped: list[Skip] = []
    newest = 0
    for number, message in enumerate(messages, start=1):
        message_id = _snowflake(message.get("id")) if isinstance(message, dict) else None
        if message_id is None:
            detail = f"message {number} has no valid id"
            skipped.append(Skip(f"message {number}", SkipReason.BAD_RECORD, None, detail))
            continue
        newest = max(newest, message_id)
        try:
            outcome = place.record(message, message_id)
        except ValueError as exc:
            detail = f"message {message_id}: {exc}"
            skipped.append(Skip(str(message_id), SkipReason.BAD_RECORD, None, detail))
            continue
        (skipped if isinstance(outcome, Skip) else records).append(outcome)  # type: ignore[arg-type]
    return records, skipped, newest


@dataclass(frozen=True)
class _Place:
    guild_id: int
    channel: ChannelRecord
    parent: ChannelRecord | None

    def record(self, message: dict[str, Any], message_id: int) -> PostRecord | Skip:
        """The record the bot would build for this message, or the Skip its filter implies."""
        author = message.get("author")
        if not isinstance(author, dict):
            raise ValueError("no author")
        author_id = _snowflake(author.get("id"))
        if author_id is None:
            raise ValueError("the author has no valid id")
        if author.get("isBot") is True:
            return Skip(str(message_id), SKIP_BOT)
        if str(message.get("type") or "Default") not in MEMBER_MESSAGE_TYPES:
            return Skip(str(message_id), SKIP_SYSTEM)
        content = message.get("content", "")
        if not isinstance(content, str):
            raise ValueError("content is not text")
        thread_id = self.channel.id if self.parent is not None else None
        kind = PostKind.MESSAGE
        if self.parent is not None and message_id == thread_id:
            forum = self.parent.kind == ChannelKind.FORUM
            kind = PostKind.FORUM_POST if forum else PostKind.THREAD_STARTER
        reference = message.get("reference")
        reply_to = _snowflake(reference.get("messageId")) if isinstance(reference, dict) else None
        return PostRecord(
            guild_id=self.guild_id,
            external_id=str(message_id),
            channel_id=self.parent.id if self.parent is not None else self.channel.id,
            author_id=author_id,
            text=content,
            created_at=snowflake_time(message_id),
            thread_id=thread_id,
            kind=kind,
            reply_to=None if reply_to is None else str(reply_to),
            edited_at=_time(message.get("timestampEdited")),
            author_handle=_handle(author),
        )


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"unreadable time {value!r}") from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _handle(author: dict[str, Any]) -> str | None:
    name = author.get("name")
    if not isinstance(name, str) or not name:
        return None
    discriminator = str(author.get("discriminator") or "0")
    return name if discriminator.strip("0") == "" else f"{name}#{discriminator}"


# -- importing ----------------------------------------------------------------------------------


def read_exports(paths: list[Path], guild_id: int, result: ImportResult) -> list[ExportFile]:
    """Parse every file; a file that fails, or belongs to another guild, becomes one line."""
    exports: list[ExportFile] = []
    for path in paths:
        try:
            export = read_export(path)
        except NotIndexed as exc:
            result.left_out.append(exc.detail)
            continue
        except FileProblem as exc:
            result.problems.append(exc.detail)
            continue
        if export.guild_id != guild_id:
            server = f"{export.guild_id} ({export.guild_name})" if export.guild_name else ""
            result.problems.append(
                f"{path} is an export of server {server or export.guild_id}, "
                f"not of --guild {guild_id}"
            )
            continue
        exports.append(export)
    # Channels before threads, so a thread's parent is recorded with its own name first.
    return sorted(exports, key=lambda e: (e.parent is not None, str(e.path)))


def import_exports(
    service: KnowledgeService,
    directory: Directory,
    exports: list[ExportFile],
    result: ImportResult,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Store every export's records (channels enabled as by an admin); one ingest per file."""
    guilds = {g.id: g for g in directory.guilds()}
    for export in exports:
        known = guilds.get(export.guild_id)
        if known is None or not known.name:
            service.register_guild(export.guild_id, export.guild_name)
            guilds = {g.id: g for g in directory.guilds()}
        problem = _owned_elsewhere(directory, export)
        if problem is not None:
            result.problems.append(problem)
            if progress is not None:
                progress(export.messages)
            continue
        _store(service, directory, export, result, progress)
    return result


def _owned_elsewhere(directory: Directory, export: ExportFile) -> str | None:
    for place in (export.channel_id, export.thread_id):
        owner = None if place is None else directory.channel_owner(place)
        if owner is not None and owner != export.guild_id:
            return f"{export.path}: channel {place} already belongs to guild {owner}"
    return None


def _as_known(directory: Directory, export: ExportFile) -> ChannelRecord:
    """The channel to enable: a thread's parent as Kindred already knows it (its own export or
    the bot recorded its name and kind), else as the thread's file describes it."""
    if export.parent is None:
        return export.channel
    known = directory.channel(export.parent.id)
    if known is None or known.is_thread:
        return export.parent
    kind = ChannelKind.FORUM if known.kind == ChannelKind.FORUM else ChannelKind.TEXT
    return ChannelRecord(known.id, export.guild_id, known.name or export.parent.name, kind)


def _store(
    service: KnowledgeService,
    directory: Directory,
    export: ExportFile,
    result: ImportResult,
    progress: Callable[[int], None] | None,
) -> None:
    enable_channels(service, export.guild_id, [_as_known(directory, export)])
    if export.parent is not None:
        service.upsert_channels([export.channel])
    report = service.ingest(export.records, progress)
    if progress is not None and export.skipped:
        progress(len(export.skipped))
    report.received += len(export.skipped)
    report.skipped.extend(export.skipped)
    result.report.merge(report)
    result.files.append(export)
    if export.whole_history and export.newest_id:
        directory.continue_history_after(
            export.guild_id,
            export.channel_id,
            export.channel.id,
            export.newest_id,
            len(export.records),
        )
