"""The in-memory catalog of a guild's posts that lets faiss filter inside retrieval.

It mirrors the few post columns that scopes filter on, is rebuilt from SQL on start and updated by
the store after each committed write, so computing the readable id set costs a numpy mask, not a
query.

One writer, free readers: changes come from the store's single writer (its lock serialises them),
and every change publishes a new snapshot of the columns. A reader takes the current snapshot with
one attribute read and no lock; a snapshot is never written after it is published. New rows go
into spare capacity past the end of every published snapshot; rewriting or removing a row copies
the arrays it touches first (copy-on-write).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

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
Values = tuple[int, int, int, int, int, int]
_T = TypeVar("_T", bound=np.generic)


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

    def values(self) -> Values:
        flags = (
            (FLAG_HIDDEN if self.hidden else 0)
            | (FLAG_CRISIS if self.crisis else 0)
            | (FLAG_CURATED if self.curated else 0)
        )
        thread = NO_THREAD if self.thread_id is None else self.thread_id
        return (self.post_id, self.channel_id, thread, self.author_id, self.created, flags)


def ids_in_scope(rows: Sequence[CatalogRow], scope: SearchScope) -> set[int]:
    """The ids among `rows` (of the scope's guild) that `scope` lets its asker read: the same
    rule as the catalog mask and as SQL, over rows just loaded (the second wall of a search)."""
    block = np.asarray([row.values() for row in rows], dtype=np.int64).reshape(-1, len(_COLUMNS))
    columns = {name: block[:, j] for j, name in enumerate(_COLUMNS)}
    mask = scope.mask(CatalogColumns(alive=np.ones(len(block), dtype=bool), **columns))
    return {int(i) for i in columns["ids"][mask]}


class PostCatalog:
    """Column store of one guild's posts: copy-on-write snapshots for lock-free readers.

    `upsert` and `remove` must be serialised by the caller (the store's writer lock);
    `columns`, `allowed_ids`, `len` and `in` may run in any thread at any time.
    """

    def __init__(self) -> None:
        self._cols = {name: np.zeros(0, dtype=np.int64) for name in _COLUMNS}  # with capacity
        self._alive = np.zeros(0, dtype=bool)
        self._size = 0  # rows used in the buffers (alive or not)
        self._position: dict[int, int] = {}
        self._snapshot = self._view()

    def __len__(self) -> int:
        return len(self._position)

    def __contains__(self, post_id: int) -> bool:
        return post_id in self._position

    # -- readers --------------------------------------------------------------------------------

    def columns(self) -> CatalogColumns:
        """The latest published snapshot (never changes after it is returned)."""
        return self._snapshot

    def allowed_ids(self, scope: SearchScope) -> npt.NDArray[np.int64]:
        columns = self._snapshot
        return columns.ids[scope.mask(columns)]

    # -- the writer -----------------------------------------------------------------------------

    def upsert(self, rows: list[CatalogRow]) -> None:
        fresh: dict[int, Values] = {}
        rewrites: dict[int, Values] = {}
        for row in rows:
            values = row.values()
            at = self._position.get(row.post_id)
            if at is None:
                fresh[row.post_id] = values
            elif self._row(at) != values:
                rewrites[at] = values
        if not fresh and not rewrites:
            return
        if rewrites:
            self._rewrite(rewrites)
        if fresh:
            self._append(list(fresh.values()))
        self._snapshot = self._view()

    def remove(self, post_ids: list[int]) -> None:
        gone = [at for at in (self._position.pop(i, None) for i in post_ids) if at is not None]
        if not gone:
            return
        alive = self._alive.copy()  # readers may hold the old mask
        alive[gone] = False
        self._alive = alive
        dead = self._size - len(self._position)
        if dead > 1024 and dead > self._size // 4:
            self._compact()
        self._snapshot = self._view()

    def _row(self, at: int) -> Values:
        ids, channel, thread, author, created, flags = (int(self._cols[n][at]) for n in _COLUMNS)
        return (ids, channel, thread, author, created, flags)

    def _rewrite(self, rewrites: dict[int, Values]) -> None:
        positions = np.fromiter(rewrites, dtype=np.int64, count=len(rewrites))
        block = np.asarray(list(rewrites.values()), dtype=np.int64).reshape(-1, len(_COLUMNS))
        for j, name in enumerate(_COLUMNS):
            column = self._cols[name]
            if not np.array_equal(column[positions], block[:, j]):
                column = column.copy()
                column[positions] = block[:, j]
                self._cols[name] = column

    def _append(self, rows: list[Values]) -> None:
        block = np.asarray(rows, dtype=np.int64).reshape(-1, len(_COLUMNS))
        start, end = self._size, self._size + len(block)
        if end > len(self._alive):
            self._grow(max(end, 2 * len(self._alive), 256))
        # Past the end of every published snapshot: no reader sees these rows until published.
        for j, name in enumerate(_COLUMNS):
            self._cols[name][start:end] = block[:, j]
        self._alive[start:end] = True
        for offset, post_id in enumerate(block[:, 0].tolist()):
            self._position[post_id] = start + offset
        self._size = end

    def _grow(self, capacity: int) -> None:
        for name in _COLUMNS:
            column = np.zeros(capacity, dtype=np.int64)
            column[: self._size] = self._cols[name][: self._size]
            self._cols[name] = column
        alive = np.zeros(capacity, dtype=bool)
        alive[: self._size] = self._alive[: self._size]
        self._alive = alive

    def _compact(self) -> None:
        keep = np.flatnonzero(self._alive[: self._size])
        capacity = max(256, 2 * len(keep))
        for name in _COLUMNS:
            column = np.zeros(capacity, dtype=np.int64)
            column[: len(keep)] = self._cols[name][keep]
            self._cols[name] = column
        self._alive = np.zeros(capacity, dtype=bool)
        self._alive[: len(keep)] = True
        self._size = len(keep)
        self._position = {int(p): i for i, p in enumerate(self._cols["ids"][: self._size])}

    def _view(self) -> CatalogColumns:
        cols = {name: _frozen(self._cols[name], self._size) for name in _COLUMNS}
        return CatalogColumns(alive=_frozen(self._alive, self._size), **cols)


def _frozen(array: npt.NDArray[_T], size: int) -> npt.NDArray[_T]:
    """A read-only view of the first `size` items (the buffer behind it stays writable)."""
    view = array[:size]
    view.flags.writeable = False
    return view
