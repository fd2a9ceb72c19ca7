"""Removing a member's data from every store, and making the removed bytes unrecoverable.

Rows leave SQL (posts with their vectors and condition rows, then every member table), the
catalog and the faiss index; then `scrub` merges the FTS5 segments (`optimize`, so deleted tokens
are gone from the text index), rewrites the guild's faiss files at once, folds and truncates the
WAL (`wal_checkpoint(TRUNCATE)`) and, when asked, runs VACUUM. SQLite runs with
`secure_delete=ON`, so freed pages are zeroed in the database file itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from knowledge.privacy.tables import ACTOR_COLUMNS, MEMBER_TABLES, POST_CHILD_TABLES
from knowledge.store.models import Post, PostTombstone, utcnow
from knowledge.store.store import Store

log = logging.getLogger(__name__)

_POST = Post.__table__  # type: ignore[attr-defined]
_CHUNK = 500
CHECKPOINT_ATTEMPTS = 20


@dataclass
class DeleteReport:
    """What a deletion removed (counts only) and whether the scrub steps completed."""

    posts: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    tombstones: int = 0
    wal_truncated: bool = False
    vacuumed: bool = False


def purge_posts(
    session: Session,
    guild_id: int,
    condition: sa.ColumnElement[bool],
    *,
    tombstone_reason: str | None = None,
) -> tuple[list[int], int]:
    """Delete matching posts of a guild and their child rows; returns (post ids, tombstones).

    With `tombstone_reason` each removed message id is recorded (no text) so the ingest gate keeps
    it out for good. Runs in the caller's transaction; call `Store.forget_posts` after commit.
    """
    found = session.execute(
        sa.select(_POST.c.id, _POST.c.external_id, _POST.c.author_id).where(
            _POST.c.guild_id == guild_id, condition
        )
    ).all()
    ids = [int(row[0]) for row in found]
    tombstones = 0
    if tombstone_reason is not None:
        for row in found:
            stmt = sqlite_insert(PostTombstone).values(
                guild_id=guild_id,
                external_id=str(row[1]),
                author_id=int(row[2]),
                reason=tombstone_reason,
                created_at=utcnow(),
            )
            result = session.execute(stmt.on_conflict_do_nothing())
            tombstones += int(getattr(result, "rowcount", 0) or 0)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for child in POST_CHILD_TABLES:
            session.execute(
                sa.delete(child.table).where(child.table.c[child.post_column].in_(chunk))
            )
        session.execute(sa.delete(_POST).where(_POST.c.id.in_(chunk)))
    return ids, tombstones


def purge_member_rows(session: Session, guild_id: int, member_id: int) -> dict[str, int]:
    """Delete the member's rows from every member table marked "delete" (posts excepted)."""
    removed: dict[str, int] = {}
    for spec in MEMBER_TABLES:
        if spec.on_delete != "delete" or spec.model is Post:
            continue
        table = spec.table
        result = session.execute(
            sa.delete(table).where(
                table.c[spec.guild_column] == guild_id, table.c[spec.member_column] == member_id
            )
        )
        removed[spec.name] = int(getattr(result, "rowcount", 0) or 0)
    for actor in ACTOR_COLUMNS:
        table = actor.table
        session.execute(
            sa.update(table)
            .where(table.c[actor.guild_column] == guild_id, table.c[actor.column] == member_id)
            .values({actor.column: None})
        )
    return removed


def scrub(store: Store, guild_ids: Sequence[int], *, vacuum: bool = False) -> tuple[bool, bool]:
    """Make deleted bytes unrecoverable; returns (WAL truncated, vacuumed)."""
    with store.lock:
        for guild_id in guild_ids:
            store.vector_index(guild_id).dirty = True  # rewrite the files now, not at next flush
        store.save_indexes()
        if store.engine.url.get_backend_name() != "sqlite":
            return False, False
        with store.engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO post_fts(post_fts) VALUES ('optimize')")
        if vacuum:
            with store.engine.connect() as connection:
                connection.exec_driver_sql("VACUUM")
        truncated = truncate_wal(store)
    return truncated, vacuum


def truncate_wal(store: Store) -> bool:
    """`wal_checkpoint(TRUNCATE)`, retried while a reader holds an old snapshot."""
    for attempt in range(CHECKPOINT_ATTEMPTS):
        with store.engine.connect() as connection:
            row = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
        if row is not None and int(row[0]) == 0:
            return True
        time.sleep(0.05 * (attempt + 1))
    log.warning("WAL checkpoint stayed busy; deleted pages remain in the WAL until the next one")
    return False
