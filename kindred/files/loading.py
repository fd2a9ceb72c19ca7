"""Loading a JSON Lines community file into the store: channels enabled, posts ingested in batches.

A file an operator loads counts as the admin enabling the channels it names. Problems with the
file itself (a folder, a missing or unreadable file, binary data) raise `FileProblem` with one line
that says what to do; problems with single lines are recorded skips, and the good lines all load.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from kindred.files.jsonl import FilePost, read_posts
from knowledge.directory import Directory
from knowledge.errors import KindredError
from knowledge.privacy.consent import OPT_OUT
from knowledge.records import ChannelRecord, IngestReport, PostRecord, Skip
from knowledge.service import KnowledgeService
from knowledge.store.models import ChannelKind, PostKind

FILE_ADMIN_ID = 0  # the "admin" who enables channels named in a file loaded from the CLI
SKIP_OTHER_GUILD = "channel_of_other_guild"
SNIFF_BYTES = 8192


class FileProblem(KindredError):
    """A file (or folder) that cannot be read at all; the message says which and why."""

    user_message = "That file cannot be read."


def describe_os_error(path: Path, exc: OSError) -> FileProblem:
    """One line for an OSError met while reading `path`."""
    if exc.errno == errno.ENOENT:
        return FileProblem(f"{path} does not exist")
    if exc.errno == errno.EACCES:
        return FileProblem(f"cannot read {path}: permission denied")
    if exc.errno == errno.EISDIR:
        return FileProblem(f"{path} is a folder, not a file")
    return FileProblem(f"cannot read {path}: {exc.strerror or type(exc).__name__}")


def check_text_file(path: Path, expected: str) -> None:
    """Raise FileProblem unless `path` is a readable file that does not look binary."""
    if not path.exists():
        raise FileProblem(f"{path} does not exist")
    if path.is_dir():
        raise FileProblem(f"{path} is a folder; give one {expected} file")
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError as exc:
        raise describe_os_error(path, exc) from None
    if b"\x00" in head:
        raise FileProblem(f"{path} is a binary file, not {expected}")


@dataclass
class LoadResult:
    report: IngestReport
    bad_lines: list[Skip] = field(default_factory=list)
    posts: list[FilePost] = field(default_factory=list)
    refused_channels: dict[int, int] = field(default_factory=dict)  # channel id -> its guild


def read_file(path: Path, guild_id: int) -> tuple[list[FilePost], list[Skip]]:
    """Every good post of a JSON Lines file, and a Skip per bad line (raises FileProblem)."""
    check_text_file(path, "JSON Lines (.jsonl)")
    posts: list[FilePost] = []
    bad: list[Skip] = []
    try:
        for item in read_posts(path, guild_id):
            if isinstance(item, Skip):
                bad.append(item)
            else:
                posts.append(item)
    except OSError as exc:
        raise describe_os_error(path, exc) from None
    return posts, bad


def mark_thread_starters(posts: list[FilePost]) -> list[PostRecord]:
    """The earliest post of each named thread becomes its starter."""
    first: dict[int, FilePost] = {}
    for post in posts:
        tid = post.record.thread_id
        if tid is not None and (
            tid not in first or post.record.created_at < first[tid].record.created_at
        ):
            first[tid] = post
    starters = {id(p) for p in first.values()}
    return [
        replace(p.record, kind=PostKind.THREAD_STARTER) if id(p) in starters else p.record
        for p in posts
    ]


def channel_records(
    guild_id: int, posts: Iterable[FilePost], known: dict[int, str | None]
) -> tuple[list[ChannelRecord], list[ChannelRecord]]:
    """(channels, threads) the posts name; a channel given by id keeps the name Kindred knows."""
    channels: dict[int, ChannelRecord] = {}
    threads: dict[int, ChannelRecord] = {}
    for post in posts:
        record = post.record
        name = post.channel_name or known.get(record.channel_id)
        channels.setdefault(
            record.channel_id, ChannelRecord(record.channel_id, guild_id, name, ChannelKind.TEXT)
        )
        if record.thread_id is not None:
            thread_name = post.thread_name or known.get(record.thread_id)
            threads.setdefault(
                record.thread_id,
                ChannelRecord(
                    record.thread_id, guild_id, thread_name, ChannelKind.THREAD, record.channel_id
                ),
            )
    return list(channels.values()), list(threads.values())


def enable_channels(
    service: KnowledgeService, guild_id: int, channels: Iterable[ChannelRecord]
) -> None:
    """Enable each channel not enabled yet (an admin's earlier enabling is left as it was)."""
    enabled = service.enabled_channel_ids(guild_id)
    for channel in channels:
        if channel.id in enabled:
            service.upsert_channels([channel])
        else:
            service.enable_channel(guild_id, channel, enabled_by=FILE_ADMIN_ID)


def split_other_guilds(
    guild_id: int, posts: list[FilePost], directory: Directory | None
) -> tuple[list[FilePost], list[Skip], dict[int, int]]:
    """Posts in channels that already belong to another guild cannot load here (ids are global)."""
    if directory is None:
        return posts, [], {}
    owners: dict[int, int | None] = {}
    for post in posts:
        for place in (post.record.channel_id, post.record.thread_id):
            if place is not None and place not in owners:
                owners[place] = directory.channel_owner(place)
    refused = {c: g for c, g in owners.items() if g is not None and g != guild_id}
    keep: list[FilePost] = []
    skipped: list[Skip] = []
    for post in posts:
        other = refused.get(post.record.channel_id) or refused.get(post.record.thread_id or 0)
        if other is None:
            keep.append(post)
        else:
            detail = f"channel {post.record.channel_id} belongs to guild {other}"
            skipped.append(Skip(post.record.external_id, SKIP_OTHER_GUILD, post.line, detail))
    return keep, skipped, refused


def load_posts(
    service: KnowledgeService,
    guild_id: int,
    posts: list[FilePost],
    bad: list[Skip],
    progress: Callable[[int], None] | None = None,
    directory: Directory | None = None,
) -> LoadResult:
    """Enable the channels the posts name and ingest them; bad lines join the report's skips."""
    posts, refused_posts, refused = split_other_guilds(guild_id, posts, directory)
    if service.privacy.mode_changed_at(guild_id) is None:
        # A community loaded from a file by its operator is searchable unless a member opts out
        # (documented in PRIVACY.md); a guild whose admin already chose a mode keeps it.
        service.privacy.set_search_mode(guild_id, OPT_OUT, by=FILE_ADMIN_ID)
    known = {c.id: c.name for c in directory.channels(guild_id)} if directory else {}
    channels, threads = channel_records(guild_id, posts, known)
    enable_channels(service, guild_id, channels)
    if threads:
        service.upsert_channels(threads)
    report = service.ingest(mark_thread_starters(posts), progress)
    if progress is not None and refused_posts:
        progress(len(refused_posts))
    report.received += len(bad) + len(refused_posts)
    report.skipped.extend([*bad, *refused_posts])
    return LoadResult(report, bad, posts, refused)


def load_file(
    service: KnowledgeService,
    path: Path,
    guild_id: int,
    progress: Callable[[int], None] | None = None,
    posts: list[FilePost] | None = None,
    bad: list[Skip] | None = None,
    directory: Directory | None = None,
) -> LoadResult:
    """Read (unless `posts` are given) and load a JSON Lines file."""
    if posts is None or bad is None:
        posts, bad = read_file(path, guild_id)
    return load_posts(service, guild_id, posts, bad, progress, directory)
