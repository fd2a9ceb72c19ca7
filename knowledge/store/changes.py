"""The change log several processes share: which posts' derived state changed, in order.

A process writes one row per post whose catalog entry, condition vector or faiss vector it
changed (and one guild-wide row, `post_id` NULL, for consent changes and a removed guild), after
the SQL commit. Every process follows the log from its high-water mark (`follow`) and refreshes
those posts from SQL, skipping the rows it wrote itself (`origin`). SQL stays the truth: the log
only says where to look.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from knowledge.store.models import IndexChange, utcnow

KEEP = timedelta(days=1)  # a process down longer reloads its indexes from SQL anyway
_TABLE: sa.Table = IndexChange.__table__  # type: ignore[attr-defined]
_CHUNK = 500


@dataclass(frozen=True)
class Changes:
    """What changed elsewhere since the last look: posts by guild, and whole guilds."""

    posts: dict[int, set[int]] = field(default_factory=dict)
    guilds: set[int] = field(default_factory=set)
    mark: int = 0

    def __bool__(self) -> bool:
        return bool(self.posts or self.guilds)


class ChangeLog:
    """Writes and reads `indexchange` rows for one process (its own `origin`)."""

    def __init__(self, engine: Engine, origin: str | None = None) -> None:
        self.engine = engine
        self.origin = origin or uuid.uuid4().hex
        self.enabled = True  # a read-only store writes nothing

    def record(self, guild_id: int, post_ids: Iterable[int]) -> None:
        """Posts of one guild whose derived state this process just changed."""
        ids = sorted({int(i) for i in post_ids})
        if ids and self.enabled:
            now = utcnow()
            rows = [self._row(guild_id, post_id, now) for post_id in ids]
            with self.engine.begin() as connection:
                for start in range(0, len(rows), _CHUNK):
                    connection.execute(sa.insert(_TABLE), rows[start : start + _CHUNK])

    def record_guild(self, guild_id: int) -> None:
        """The whole guild changed (consent, or it was removed): reload it."""
        if self.enabled:
            with self.engine.begin() as connection:
                connection.execute(sa.insert(_TABLE), [self._row(guild_id, None, utcnow())])

    def head(self) -> int:
        """The newest change id (where a process starts following after loading from SQL)."""
        with self.engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.max(_TABLE.c.id))).scalar() or 0)

    def since(self, mark: int, limit: int = 10_000) -> Changes:
        """Changes written by other processes after `mark` (up to `limit` rows)."""
        query = (
            sa.select(_TABLE.c.id, _TABLE.c.guild_id, _TABLE.c.post_id, _TABLE.c.origin)
            .where(_TABLE.c.id > mark)
            .order_by(_TABLE.c.id)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        changes = Changes(mark=int(rows[-1][0]) if rows else mark)
        for _, guild_id, post_id, origin in rows:
            if origin == self.origin:
                continue
            if post_id is None:
                changes.guilds.add(int(guild_id))
            else:
                changes.posts.setdefault(int(guild_id), set()).add(int(post_id))
        return changes

    def trim(self, now: datetime | None = None) -> int:
        """Drop rows older than `KEEP`; returns how many."""
        if not self.enabled:
            return 0
        cutoff = (now or utcnow()) - KEEP
        with self.engine.begin() as connection:
            result = connection.execute(sa.delete(_TABLE).where(_TABLE.c.created_at < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)

    def _row(self, guild_id: int, post_id: int | None, now: datetime) -> dict[str, object]:
        return {"guild_id": guild_id, "post_id": post_id, "origin": self.origin, "created_at": now}
