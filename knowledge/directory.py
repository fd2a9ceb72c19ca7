"""Who and what a guild holds, in the words an operator uses: guilds, members and channels with
their post counts, and `--member` / `--channel` values resolved whether given as an id or a name.

Read-only apart from `continue_history_after`. Ids come first: a value made only of digits is an
id when Kindred holds something under it; otherwise it is a name (a member's handle, a channel's
or thread's name, a leading `@` or `#` ignored), matched exactly and then ignoring case. A name
that fits more than one row is refused with the candidates' ids, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel, col, func, select

from knowledge.errors import InvalidInput, NotFound
from knowledge.store.checkpoints import BackfillCheckpoints
from knowledge.store.models import (
    Channel,
    ChannelKind,
    ConsentEvent,
    Guild,
    Member,
    MemberConsent,
    MemberNotice,
    Post,
    SafetyAlert,
)
from knowledge.store.store import Store

AMBIGUOUS_NAME = "ambiguous_name"


@dataclass(frozen=True)
class GuildEntry:
    id: int
    name: str | None
    posts: int
    members: int
    channels_enabled: int


@dataclass(frozen=True)
class MemberEntry:
    user_id: int
    handle: str | None
    posts: int

    @property
    def label(self) -> str:
        return f"{self.user_id} ({self.handle})" if self.handle else str(self.user_id)


@dataclass(frozen=True)
class ChannelEntry:
    """A text or forum channel, or a thread (`parent_id` set); `posts` counts its threads too."""

    id: int
    guild_id: int
    name: str | None
    kind: str
    parent_id: int | None
    enabled: bool
    posts: int

    @property
    def is_thread(self) -> bool:
        return self.kind == ChannelKind.THREAD

    @property
    def label(self) -> str:
        return f"#{self.name}" if self.name else f"#{self.id}"


def _as_id(value: str) -> int | None:
    text = value.strip()
    if text.isascii() and text.isdigit():
        number = int(text)
        return number if 0 < number < 2**63 else None
    return None


def _pick(value: str, kind: str, candidates: list[tuple[str | None, int]]) -> int | None:
    """The one id whose name matches `value` (exactly, else ignoring case); None if none does."""
    named = [(n, i) for n, i in candidates if n is not None]
    for fold in (False, True):
        wanted = value.casefold() if fold else value
        found = sorted({i for n, i in named if (n.casefold() if fold else n) == wanted})
        if len(found) == 1:
            return found[0]
        if found:
            ids = ", ".join(str(i) for i in found)
            raise InvalidInput(
                AMBIGUOUS_NAME, f"{len(found)} {kind}s are called {value!r} ({ids}); give the id"
            )
    return None


class Directory:
    """Listing and resolving what the store holds; every query is plain SQL, any dialect."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- guilds -----------------------------------------------------------------------------------

    def has_guild(self, guild_id: int) -> bool:
        with self.store.session() as session:
            return session.get(Guild, guild_id) is not None

    def guilds(self) -> list[GuildEntry]:
        posts = select(Post.guild_id, func.count()).group_by(col(Post.guild_id))
        members = select(Member.guild_id, func.count()).group_by(col(Member.guild_id))
        enabled = (
            select(Channel.guild_id, func.count())
            .where(col(Channel.indexing_enabled).is_(True))
            .group_by(col(Channel.guild_id))
        )
        with self.store.session() as session:
            rows = session.exec(select(Guild).order_by(col(Guild.id))).all()
            by_posts = _counts(session.exec(posts).all())
            by_members = _counts(session.exec(members).all())
            by_enabled = _counts(session.exec(enabled).all())
        return [
            GuildEntry(
                g.id,
                g.name,
                by_posts.get(g.id, 0),
                by_members.get(g.id, 0),
                by_enabled.get(g.id, 0),
            )
            for g in rows
        ]

    # -- members ----------------------------------------------------------------------------------

    def members(self, guild_id: int) -> list[MemberEntry]:
        """Members with a row or a post in the guild, most posts first."""
        counts = (
            select(Post.author_id, func.count())
            .where(Post.guild_id == guild_id, col(Post.curated).is_(False))  # entries: no author
            .group_by(col(Post.author_id))
        )
        with self.store.session() as session:
            posts = _counts(session.exec(counts).all())
            rows = session.exec(select(Member).where(Member.guild_id == guild_id)).all()
        handles: dict[int, str | None] = {int(r.user_id): r.handle for r in rows}
        ids = set(handles) | set(posts)
        entries = [MemberEntry(i, handles.get(i), posts.get(i, 0)) for i in ids]
        return sorted(
            entries,
            key=lambda e: (-e.posts, e.handle is None, (e.handle or "").casefold(), e.user_id),
        )

    def member(self, guild_id: int, user_id: int) -> MemberEntry | None:
        """The member with this id, if Kindred holds anything about them in the guild."""
        if not self.knows_member(guild_id, user_id):
            return None
        count = select(func.count()).where(Post.guild_id == guild_id, Post.author_id == user_id)
        with self.store.session() as session:
            row = session.get(Member, (guild_id, user_id))
            posts = int(session.exec(count).one())
        return MemberEntry(user_id, row.handle if row else None, posts)

    def knows_member(self, guild_id: int, user_id: int) -> bool:
        """True when any row about this member exists in the guild (posts, consent, alerts...)."""
        checks: list[tuple[type[SQLModel], str]] = [
            (Member, "user_id"),
            (Post, "author_id"),
            (MemberConsent, "user_id"),
            (ConsentEvent, "user_id"),
            (SafetyAlert, "author_id"),
            (MemberNotice, "user_id"),
        ]
        with self.store.engine.connect() as connection:
            for model, column in checks:
                table: sa.Table = model.__table__  # type: ignore[attr-defined]
                query = (
                    sa.select(sa.literal(1))
                    .where(table.c.guild_id == guild_id, table.c[column] == user_id)
                    .limit(1)
                )
                if connection.execute(query).first() is not None:
                    return True
        return False

    def resolve_member(self, guild_id: int, value: str) -> MemberEntry:
        """The member a `--member` value means: an id Kindred holds, else a unique handle."""
        text = value.strip().removeprefix("@")
        number = _as_id(text)
        if number is not None:
            found = self.member(guild_id, number)
            if found is not None:
                return found
        query = select(Member.handle, Member.user_id).where(
            Member.guild_id == guild_id, col(Member.handle).is_not(None)
        )
        with self.store.session() as session:
            candidates = [(h, int(u)) for h, u in session.exec(query).all()]
        user_id = _pick(text, "member", candidates)
        found = None if user_id is None else self.member(guild_id, user_id)
        if found is None:
            raise NotFound(f"no member {value!r} in guild {guild_id}")
        return found

    # -- channels ---------------------------------------------------------------------------------

    def channels(self, guild_id: int) -> list[ChannelEntry]:
        """Text and forum channels by name, each followed by its threads."""
        per_channel = (
            select(Post.channel_id, func.count())
            .where(Post.guild_id == guild_id)
            .group_by(col(Post.channel_id))
        )
        per_thread = (
            select(Post.thread_id, func.count())
            .where(Post.guild_id == guild_id, col(Post.thread_id).is_not(None))
            .group_by(col(Post.thread_id))
        )
        with self.store.session() as session:
            rows = session.exec(select(Channel).where(Channel.guild_id == guild_id)).all()
            channel_posts = _counts(session.exec(per_channel).all())
            thread_posts = _counts(session.exec(per_thread).all())
        entries = [
            _entry(r, (thread_posts if r.kind == ChannelKind.THREAD else channel_posts))
            for r in rows
        ]
        known = {e.id for e in entries}
        for orphan in sorted(set(channel_posts) - known):  # posts whose channel row is gone
            entries.append(
                ChannelEntry(orphan, guild_id, None, "unknown", None, False, channel_posts[orphan])
            )
        return _ordered(entries)

    def channel(self, channel_id: int) -> ChannelEntry | None:
        """One channel or thread by id (any guild), with its post count; None if unknown."""
        with self.store.session() as session:
            row = session.get(Channel, channel_id)
            if row is None:
                return None
            column = Post.thread_id if row.kind == ChannelKind.THREAD else Post.channel_id
            count = select(func.count()).where(Post.guild_id == row.guild_id, column == row.id)
            posts = int(session.exec(count).one())
        return _entry(row, {int(row.id): posts})

    def channel_owner(self, channel_id: int) -> int | None:
        """The guild a channel or thread id belongs to, or None if Kindred has no row for it."""
        with self.store.session() as session:
            row = session.get(Channel, channel_id)
        return None if row is None else int(row.guild_id)

    def resolve_channel(self, guild_id: int, value: str) -> ChannelEntry:
        """The channel or thread a `--channel` value means: an id, else a unique name."""
        text = value.strip().removeprefix("#")
        entries = self.channels(guild_id)
        number = _as_id(text)
        if number is not None:
            for entry in entries:
                if entry.id == number:
                    return entry
        channels = [(e.name, e.id) for e in entries if not e.is_thread]
        picked = _pick(text, "channel", channels)
        if picked is None:
            picked = _pick(text, "thread", [(e.name, e.id) for e in entries if e.is_thread])
        for entry in entries:
            if entry.id == picked:
                return entry
        raise NotFound(f"no channel {value!r} in guild {guild_id}")

    # -- posts and history ------------------------------------------------------------------------

    def posts_before(self, guild_id: int, cutoff: datetime) -> int:
        """How many of the guild's posts were created before `cutoff` (what retention removes)."""
        query = select(func.count()).where(Post.guild_id == guild_id, Post.created_at < cutoff)
        with self.store.session() as session:
            return int(session.exec(query).one())

    def continue_history_after(
        self, guild_id: int, channel_id: int, source_id: int, newest_id: int, added: int
    ) -> None:
        """Record that a channel's or thread's (`source_id`) history is stored up to message
        `newest_id` (a full import of it), so the bot's backfill continues after it instead of
        reading it all again. A checkpoint already further along is kept."""
        BackfillCheckpoints(self.store).advance(
            guild_id, channel_id, source_id, cursor=newest_id, added=added, latest_id=newest_id
        )


def _counts(rows: Iterable[tuple[Any, Any]]) -> dict[int, int]:
    return {int(k): int(n) for k, n in rows if k is not None}


def _entry(row: Channel, posts: dict[int, int]) -> ChannelEntry:
    return ChannelEntry(
        id=int(row.id),
        guild_id=int(row.guild_id),
        name=row.name,
        kind=str(row.kind),
        parent_id=row.parent_id,
        enabled=bool(row.indexing_enabled),
        posts=posts.get(int(row.id), 0),
    )


def _ordered(entries: list[ChannelEntry]) -> list[ChannelEntry]:
    """Channels by name, each followed by its threads by name; threads of unknown parents last."""

    def key(e: ChannelEntry) -> tuple[str, int]:
        return ((e.name or "").casefold(), e.id)

    channels = sorted((e for e in entries if not e.is_thread), key=key)
    threads = sorted((e for e in entries if e.is_thread), key=key)
    out: list[ChannelEntry] = []
    for channel in channels:
        out.append(channel)
        out.extend(t for t in threads if t.parent_id == channel.id)
    placed = {e.id for e in out}
    out.extend(t for t in threads if t.id not in placed)
    return out
