"""The in-memory catalog of a guild's posts that lets faiss filter inside retrieval.

It mirrors the few post columns that scopes filter on, is rebuilt from SQL on start and updated by
the store after each committed write, so computing the readable id set costs a numpy mask, not a
query.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from knowledge.scope import (
    FLAG_CRISIS,
    FLAG_CURATED,
    FLAG_HIDDEN,
    NO_THREAD,
    CatalogColumns,
    SearchScope,
)

_COLUMNS = ("ids", "channel", "thread", "author", "created", "flags")


@dataclass(frozen=True)
class CatalogRow:
    post_id: int
    channel_id: int
    thread_id: int | None
    author_id: int
    created: int
    hidden: bool
    crisis: bool
    curated: bool

    def values(self) -> tuple[int, int, int, int, int, int]:
        flags = (
            (FLAG_HIDDEN if self.hidden else 0)
            | (FLAG_CRISIS if self.crisis else 0)
            | (FLAG_CURATED if self.curated else 0)
        )
        thread = NO_THREAD if self.thread_id is None else self.thread_id
        return (self.post_id, self.channel_id, thread, self.author_id, self.created, flags)


class PostCatalog:
    """Append-mostly column store with in-place updates and lazy compaction."""

    def __init__(self) -> None:
        self._cols = {name: np.zeros(0, dtype=np.int64) for name in _COLUMNS}
        self._alive = np.zeros(0, dtype=bool)
        self._position: dict[int, int] = {}
        self._pending: list[tuple[int, int, int, int, int, int]] = []
        self._pending_position: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._position) + len(self._pending_position)

    def __contains__(self, post_id: int) -> bool:
        return post_id in self._position or post_id in self._pending_position

    def upsert(self, rows: list[CatalogRow]) -> None:
        for row in rows:
            values = row.values()
            if row.post_id in self._position:
                at = self._position[row.post_id]
                for name, value in zip(_COLUMNS, values, strict=True):
                    self._cols[name][at] = value
            elif row.post_id in self._pending_position:
                self._pending[self._pending_position[row.post_id]] = values
            else:
                self._pending_position[row.post_id] = len(self._pending)
                self._pending.append(values)

    def remove(self, post_ids: list[int]) -> None:
        if any(i in self._pending_position for i in post_ids):
            self._flush()
        for post_id in post_ids:
            at = self._position.pop(post_id, None)
            if at is not None:
                self._alive[at] = False
        dead = len(self._alive) - len(self._position)
        if dead > 1024 and dead > len(self._alive) // 4:
            self._compact()

    def columns(self) -> CatalogColumns:
        self._flush()
        return CatalogColumns(alive=self._alive, **self._cols)

    def allowed_ids(self, scope: SearchScope) -> npt.NDArray[np.int64]:
        columns = self.columns()
        return columns.ids[scope.mask(columns)]

    def _flush(self) -> None:
        if not self._pending:
            return
        block = np.asarray(self._pending, dtype=np.int64).reshape(-1, len(_COLUMNS))
        start = len(self._alive)
        for j, name in enumerate(_COLUMNS):
            self._cols[name] = np.concatenate([self._cols[name], block[:, j]])
        self._alive = np.concatenate([self._alive, np.ones(len(block), dtype=bool)])
        for offset, post_id in enumerate(block[:, 0].tolist()):
            self._position[post_id] = start + offset
        self._pending.clear()
        self._pending_position.clear()

    def _compact(self) -> None:
        keep = self._alive
        for name in _COLUMNS:
            self._cols[name] = self._cols[name][keep]
        self._alive = np.ones(int(keep.sum()), dtype=bool)
        self._position = {int(p): i for i, p in enumerate(self._cols["ids"].tolist())}
