"""Backfill checkpoints: how far each channel's and thread's history has been read.

The bot pages history oldest first; after each ingested batch it records the newest message id
it holds (`cursor`), so a restart continues from there instead of from the beginning. No discord
import here: ids are plain ints.

Teardown does not need the `forget_*` methods: the service's erase path removes a channel's,
thread's or guild's checkpoints with everything else (they are in the table registry).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import col, func, select

from knowledge.store.models import BackfillCheckpoint, Post
from knowledge.store.store import Store
from knowledge.store.upsert import upsert


@dataclass(frozen=True)
class Checkpoint:
    """One source's (channel or thread) backfill position."""

    source_id: int
    guild_id: int
    channel_id: int
    cursor: int
    latest_id: int
    fetched: int
    complete: bool


def _plain(row: BackfillCheckpoint) -> Checkpoint:
    return Checkpoint(
        row.source_id,
        row.guild_id,
        row.channel_id,
        row.cursor,
        row.latest_id,
        row.fetched,
        row.complete,
    )


class BackfillCheckpoints:
    """Read and write checkpoints in the store's database (writes take the store's lock)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, source_id: int) -> Checkpoint | None:
        with self.store.session() as session:
            row = session.get(BackfillCheckpoint, source_id)
            return _plain(row) if row is not None else None

    def for_channel(self, guild_id: int, channel_id: int) -> list[Checkpoint]:
        query = select(BackfillCheckpoint).where(
            BackfillCheckpoint.guild_id == guild_id, BackfillCheckpoint.channel_id == channel_id
        )
        with self.store.session() as session:
            return [_plain(r) for r in session.exec(query).all()]

    def advance(
        self,
        guild_id: int,
        channel_id: int,
        source_id: int,
        *,
        cursor: int,
        added: int,
        latest_id: int,
        complete: bool = False,
    ) -> None:
        """Record that messages up to `cursor` are ingested (`added` more than before)."""
        values = {
            "guild_id": guild_id,
            "channel_id": channel_id,
            "cursor": cursor,
            "latest_id": latest_id,
            "complete": complete,
            "updated_at": datetime.now(UTC),
        }
        table = BackfillCheckpoint.__table__  # type: ignore[attr-defined]
        update = {**values, "fetched": table.c.fetched + added}
        update["cursor"] = sa.case((table.c.cursor > cursor, table.c.cursor), else_=cursor)
        with self.store.write() as session:
            upsert(
                session,
                BackfillCheckpoint,
                {"source_id": source_id, "fetched": added, **values},
                ["source_id"],
                update,
            )

    def forget_source(self, source_id: int) -> None:
        self._delete(col(BackfillCheckpoint.source_id) == source_id)

    def forget_channel(self, guild_id: int, channel_id: int) -> None:
        self._delete(
            (col(BackfillCheckpoint.guild_id) == guild_id)
            & (
                (col(BackfillCheckpoint.channel_id) == channel_id)
                | (col(BackfillCheckpoint.source_id) == channel_id)
            )
        )

    def forget_guild(self, guild_id: int) -> None:
        self._delete(col(BackfillCheckpoint.guild_id) == guild_id)

    def _delete(self, condition: sa.ColumnElement[bool]) -> None:
        with self.store.write() as session:
            session.execute(sa.delete(BackfillCheckpoint).where(condition))

    def newest_post_id(self, guild_id: int, channel_id: int, thread_id: int | None) -> int:
        """The largest Discord message id stored for a channel (thread_id None) or a thread."""
        in_thread = (
            col(Post.thread_id).is_(None) if thread_id is None else col(Post.thread_id) == thread_id
        )
        where = [col(Post.guild_id) == guild_id, col(Post.channel_id) == channel_id, in_thread]
        as_int = sa.cast(col(Post.external_id), sa.BigInteger)
        query = select(func.max(as_int)).where(*where)
        with self.store.session() as session:
            value = session.exec(query).one()
        return int(value or 0)
