"""Loading a JSONL community file into the store: channels enabled, posts ingested in batches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from kindred.files.jsonl import FilePost, read_posts, stable_id
from knowledge.privacy.consent import OPT_OUT
from knowledge.records import ChannelRecord, IngestReport, PostRecord, Skip
from knowledge.service import KnowledgeService
from knowledge.store.models import ChannelKind, PostKind

FILE_ADMIN_ID = 0  # the "admin" who enables channels named in a file loaded from the CLI


@dataclass
class LoadResult:
    report: IngestReport
    bad_lines: list[Skip] = field(default_factory=list)
    posts: list[FilePost] = field(default_factory=list)


def read_file(path: Path, guild_id: int) -> tuple[list[FilePost], list[Skip]]:
    posts: list[FilePost] = []
    bad: list[Skip] = []
    for item in read_posts(path, guild_id):
        (bad if isinstance(item, Skip) else posts).append(item)  # type: ignore[arg-type]
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


def enable_file_channels(service: KnowledgeService, guild_id: int, posts: list[FilePost]) -> None:
    """A file loaded by an operator counts as the admin enabling the channels it names."""
    channels = {p.channel for p in posts}
    for name in sorted(channels):
        record = ChannelRecord(stable_id("channel", name), guild_id, name, ChannelKind.TEXT)
        service.enable_channel(guild_id, record, enabled_by=FILE_ADMIN_ID)
    threads = {(p.channel, p.thread) for p in posts if p.thread}
    service.upsert_channels(
        [
            ChannelRecord(
                stable_id("thread", f"{c}/{t}"),
                guild_id,
                t,
                ChannelKind.THREAD,
                stable_id("channel", c),
            )
            for c, t in sorted(threads)
        ]
    )


def load_file(
    service: KnowledgeService,
    path: Path,
    guild_id: int,
    progress: Callable[[int], None] | None = None,
    posts: list[FilePost] | None = None,
    bad: list[Skip] | None = None,
) -> LoadResult:
    if posts is None or bad is None:
        posts, bad = read_file(path, guild_id)
    if service.privacy.mode_changed_at(guild_id) is None:
        # A community loaded from a file by its operator is searchable unless a member opts out
        # (documented in PRIVACY.md); a guild whose admin already chose a mode keeps it.
        service.privacy.set_search_mode(guild_id, OPT_OUT, by=FILE_ADMIN_ID)
    service.register_guild(guild_id)
    enable_file_channels(service, guild_id, posts)
    report = service.ingest(mark_thread_starters(posts), progress)
    report.received += len(bad)
    report.skipped.extend(bad)
    return LoadResult(report, bad, posts)
