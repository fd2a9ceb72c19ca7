"""Guild and channel rows: registering guilds, recording channels as Discord describes them, and
the admin action that enables one. Removing them is the erase path's job (`knowledge.privacy`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import col, func, select

from knowledge.records import ChannelRecord
from knowledge.store.models import Channel, ChannelKind, Guild, Post, utcnow
from knowledge.store.store import Store
from knowledge.store.upsert import insert_ignore, upsert


@dataclass(frozen=True)
class ChannelCount:
    """A text or forum channel and how many posts are stored from it (threads included)."""

    channel: Channel
    posts: int


class GuildChannels:
    """Guild and channel rows in the store (writes take the store's one writer lock)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def register_guild(self, guild_id: int, name: str | None = None) -> None:
        with self.store.write() as session:
            values = {"id": guild_id, "name": name, "created_at": utcnow()}
            upsert(session, Guild, values, ["id"], {"name": name})

    def upsert(self, channels: Sequence[ChannelRecord]) -> None:
        """Record channels and threads as Discord describes them (never changes enablement)."""
        with self.store.write() as session:
            for record in channels:
                insert_ignore(
                    session, Guild, {"id": record.guild_id, "created_at": utcnow()}, ["id"]
                )
                described = {
                    "name": record.name,
                    "kind": str(record.kind),
                    "parent_id": record.parent_id,
                }
                values = {
                    "id": record.id,
                    "guild_id": record.guild_id,
                    "indexing_enabled": False,
                    **described,
                }
                upsert(session, Channel, values, ["id"], described)

    def enable(self, channel: ChannelRecord, enabled_by: int) -> None:
        """Record the channel and allow it (and its threads) to be indexed."""
        self.upsert([channel])
        with self.store.write() as session:
            row = session.get(Channel, channel.id)
            assert row is not None
            row.indexing_enabled, row.enabled_by, row.enabled_at = True, enabled_by, utcnow()
            session.add(row)

    def get(self, channel_id: int) -> Channel | None:
        with self.store.session() as session:
            return session.get(Channel, channel_id)

    def with_post_counts(self, guild_id: int) -> list[ChannelCount]:
        """The guild's text and forum channels (not threads) with their stored post counts."""
        counts = (
            select(Post.channel_id, func.count())
            .where(Post.guild_id == guild_id)
            .group_by(col(Post.channel_id))
        )
        query = select(Channel).where(
            Channel.guild_id == guild_id, Channel.kind != ChannelKind.THREAD
        )
        with self.store.session() as session:
            per_channel = {int(c): int(n) for c, n in session.exec(counts).all()}
            rows = session.exec(query).all()
        return [ChannelCount(row, per_channel.get(row.id, 0)) for row in rows]
