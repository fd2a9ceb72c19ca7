"""The SQL store plus the derived per-guild vector indexes and catalogs, kept in step.

SQL is the truth. Full-text rows follow posts through triggers in the same transaction; vectors are
stored in SQL (`postvector`) and mirrored in faiss, which is caught up from SQL whenever a saved
index is missing, stale or built by another model.

One writer, free readers:

- `lock` is the single writer. A unit of work holds it around its SQL transaction (`write`) *and*
  the catalog, condition-vector and faiss updates that follow the commit, so no other write (a
  delete above all) can land between a post's commit and its derived rows. Slow work (encoding)
  happens before a unit, never inside it.
- Readers never take `lock` once a guild is loaded. The catalog publishes copy-on-write snapshots
  (`PostCatalog`); condition vectors are a dict replaced entry by entry; faiss is read and changed
  under a short per-guild guard (`search_vectors`, `stored_vectors`), which writers hold only for
  the `add`/`remove` itself, never during SQL. A reader may see a post in SQL before its vector or
  catalog row exists, or a vector of a post whose delete is under way; rows are re-checked against
  the asker's scope when they are loaded (`Searcher.hits`), and post ids are never reused.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from knowledge.conditions import ConditionTagger
from knowledge.errors import IndexMismatch
from knowledge.scope import epoch_seconds
from knowledge.store import text_index
from knowledge.store.catalog import CatalogRow, PostCatalog
from knowledge.store.changes import ChangeLog, Changes
from knowledge.store.condition_vectors import ConditionVectors, sparse_entries
from knowledge.store.db import (
    checkpoint,
    is_read_only,
    open_database,
    prepare_data_dir,
    sqlite_url,
    truncate_wal,
    vacuum,
)
from knowledge.store.models import (
    Channel,
    Guild,
    Post,
    PostCondition,
    PostVector,
    StoreMeta,
    VectorIndexState,
    utcnow,
)
from knowledge.store.readers import ReaderPriority
from knowledge.store.vector_index import FloatArray, IdArray, VectorIndex, hash_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoreCounts:
    """Row counts for stats: posts, their vectors, and channels enabled for indexing."""

    posts: int
    vectors: int
    channels_enabled: int


def catalog_row(post: Post) -> CatalogRow:
    assert post.id is not None
    return CatalogRow(
        post_id=post.id,
        channel_id=post.channel_id,
        thread_id=post.thread_id,
        author_id=post.author_id,
        created=epoch_seconds(post.created_at),
        hidden=post.hidden,
        crisis=post.crisis_level == "crisis",
        curated=post.curated,
    )


class Store:
    """Owns the engine, one writer lock, and each guild's VectorIndex and PostCatalog.

    A unit of the one writer (see the module docstring)::

        with store.lock:
            with store.write() as session:
                ...  # SQL
            store.apply_committed(...)  # derived state, before the lock is released
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        model_name: str,
        dimension: int,
        tagger: ConditionTagger,
        database_url: str | None = None,
        ivf_threshold: int = 20_000,
        nprobe: int = 24,
        pool: tuple[int, int] = (5, 5),
    ) -> None:
        self.data_dir = data_dir
        self.index_dir = data_dir / "indexes"
        # A read-only data folder is left untouched and opened read-only: reads work, writes raise
        # StoreUnwritable; a damaged database raises StoreDamaged untouched (knowledge.store.db).
        self.read_only = prepare_data_dir(data_dir, self.index_dir)
        self.model_name = model_name
        self.dimension = dimension
        self.engine: Engine = open_database(
            database_url or sqlite_url(data_dir / "kindred.db"),
            read_only=self.read_only,
            pool=pool,
        )
        self.read_only = self.read_only or is_read_only(self.engine)
        self.ivf_threshold = ivf_threshold
        self.nprobe = nprobe
        self.lock = threading.RLock()
        self.readers = ReaderPriority()  # searches in flight; bulk writers step aside for them
        self._indexes: dict[int, VectorIndex] = {}
        self._catalogs: dict[int, PostCatalog] = {}
        self._conditions: dict[int, ConditionVectors] = {}
        self._index_guards: dict[int, threading.Lock] = {}
        self.tagger = tagger
        # Changes other processes make reach this one's indexes through the change log.
        self.changes = ChangeLog(self.engine)
        self.changes.enabled = not self.read_only
        self._change_mark = self.changes.head()
        if not self.read_only:  # a read-only store searches with the tags it has
            self._retag_if_vocabulary_changed()

    # -- sessions -----------------------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction under the single writer lock; commits on success."""
        with self.lock, Session(self.engine, expire_on_commit=False) as session:
            yield session
            session.commit()

    # -- derived state --------------------------------------------------------------------------

    def index_path(self, guild_id: int) -> Path:
        return self.index_dir / f"guild-{guild_id}"

    def vector_index(self, guild_id: int) -> VectorIndex:
        """The guild's faiss index: change it only inside a unit of the writer, and under
        `index_guard`; read it through `search_vectors` / `stored_vectors`."""
        index = self._indexes.get(guild_id)  # loaded: no lock (a reader must not wait for SQL)
        if index is not None:
            return index
        with self.lock:  # first use: built from SQL under the writer lock, then published
            if guild_id not in self._indexes:
                self._indexes[guild_id] = self._open_index(guild_id)
            return self._indexes[guild_id]

    def index_guard(self, guild_id: int) -> threading.Lock:
        """The short lock around one guild's faiss index (held for an add, remove or search)."""
        guards = self._index_guards  # made on first use; dict.setdefault is atomic
        return guards.get(guild_id) or guards.setdefault(guild_id, threading.Lock())

    def search_vectors(
        self, guild_id: int, query: FloatArray, k: int, allowed: IdArray | None
    ) -> tuple[IdArray, FloatArray]:
        """Top-k (ids, scores) of the guild's faiss index within `allowed` (a reader)."""
        index = self.vector_index(guild_id)
        with self.index_guard(guild_id):
            return index.search(query, k, allowed)

    def stored_vectors(self, guild_id: int, post_ids: IdArray) -> FloatArray:
        """The faiss vectors of `post_ids`, a zero row for each id without one (a reader)."""
        index = self.vector_index(guild_id)
        out = np.zeros((len(post_ids), index.dimension), dtype=np.float32)
        with self.index_guard(guild_id):
            rows = [row for row, i in enumerate(post_ids.tolist()) if i in index]
            if rows:
                out[rows] = index.reconstruct(np.asarray(post_ids)[rows])
        return out

    def add_vectors(
        self, guild_id: int, post_ids: Sequence[int], vectors: FloatArray, hashes: Sequence[str]
    ) -> None:
        """Put committed vectors into the guild's faiss index (inside a unit of the writer)."""
        with self.lock:
            index = self.vector_index(guild_id)
            with self.index_guard(guild_id):
                index.add(post_ids, vectors, hashes)
        self.changes.record(guild_id, post_ids)

    def catalog(self, guild_id: int) -> PostCatalog:
        catalog = self._catalogs.get(guild_id)  # loaded: no lock
        if catalog is not None:
            return catalog
        with self.lock:
            if guild_id not in self._catalogs:
                catalog = PostCatalog()
                with self.session() as session:
                    posts = session.exec(select(Post).where(Post.guild_id == guild_id)).all()
                    catalog.upsert([catalog_row(p) for p in posts])
                self._catalogs[guild_id] = catalog
            return self._catalogs[guild_id]

    def condition_vectors(self, guild_id: int) -> ConditionVectors:
        vectors = self._conditions.get(guild_id)  # loaded: no lock
        if vectors is not None:
            return vectors
        with self.lock:
            if guild_id not in self._conditions:
                vectors = ConditionVectors(self.tagger)
                query = (
                    select(PostCondition)
                    .join(Post, col(Post.id) == col(PostCondition.post_id))
                    .where(Post.guild_id == guild_id)
                )
                rows: dict[int, dict[str, float]] = {}
                with self.session() as session:
                    for entry in session.exec(query).all():
                        rows.setdefault(entry.post_id, {})[entry.condition_id] = entry.weight
                for post_id, entries in rows.items():
                    vectors.set(post_id, entries)
                self._conditions[guild_id] = vectors
            return self._conditions[guild_id]

    def write_conditions(
        self, session: Session, posts: Iterable[Post]
    ) -> dict[int, dict[str, float]]:
        """Tag posts and replace their `postcondition` rows (inside the caller's transaction)."""
        written: dict[int, dict[str, float]] = {}
        for post in posts:
            assert post.id is not None
            self.readers.pause_writer()
            entries = sparse_entries(self.tagger, post.content)
            session.execute(sa.delete(PostCondition).where(col(PostCondition.post_id) == post.id))
            session.add_all(
                PostCondition(post_id=post.id, condition_id=c, weight=w) for c, w in entries.items()
            )
            written[post.id] = entries
        return written

    def apply_conditions(self, guild_id: int, written: dict[int, dict[str, float]]) -> None:
        with self.lock:
            vectors = self.condition_vectors(guild_id)
            for post_id, entries in written.items():
                vectors.set(post_id, entries)

    def _retag_if_vocabulary_changed(self) -> None:
        key = "condition_fingerprint"
        with self.session() as session:
            meta = session.get(StoreMeta, key)
        if meta is not None and meta.value == self.tagger.fingerprint:
            return
        with self.session() as session:
            ids = [int(i) for i in session.exec(select(Post.id)).all() if i is not None]
        for chunk in _chunks(ids, 2000):
            with self.write() as session:
                posts = session.exec(select(Post).where(col(Post.id).in_(chunk))).all()
                self.write_conditions(session, posts)
        with self.write() as session:
            session.merge(StoreMeta(key=key, value=self.tagger.fingerprint))
        if ids:
            log.info("re-tagged conditions of %d posts (vocabulary changed)", len(ids))

    def _open_index(self, guild_id: int) -> VectorIndex:
        path = self.index_path(guild_id)
        try:
            index = VectorIndex.load(
                path, self.dimension, self.model_name, self.ivf_threshold, self.nprobe
            )
        except IndexMismatch as exc:
            if path.with_suffix(".json").exists():
                log.warning(
                    "guild %s: saved index rejected (%s); rebuilding from SQL", guild_id, exc
                )
            index = VectorIndex(self.dimension, self.model_name, self.ivf_threshold, self.nprobe)
        self._reconcile(guild_id, index)
        return index

    def _reconcile(self, guild_id: int, index: VectorIndex) -> None:
        """Make `index` hold exactly the vectors SQL holds for this guild and model."""
        wanted = self._stored_vector_keys(guild_id)
        held = index.keys()
        stale = [i for i, key in held.items() if wanted.get(i) != key]
        missing = [i for i, key in wanted.items() if held.get(i) != key]
        index.remove(stale)
        for chunk in _chunks(missing, 2048):
            ids, vectors, hashes = self._load_vectors(chunk)
            index.add(ids, vectors, hashes)
        if stale or missing:
            log.info(
                "guild %s: index caught up (%d removed, %d added)",
                guild_id,
                len(stale),
                len(missing),
            )

    def _stored_vector_keys(self, guild_id: int) -> dict[int, int]:
        query = (
            select(PostVector.post_id, PostVector.content_hash)
            .join(Post, col(Post.id) == col(PostVector.post_id))
            .where(Post.guild_id == guild_id, PostVector.model == self.model_name)
        )
        with self.session() as session:
            return {int(pid): hash_key(digest) for pid, digest in session.exec(query).all()}

    def _load_vectors(
        self, post_ids: Sequence[int], model: str | None = None
    ) -> tuple[list[int], np.ndarray, list[str]]:
        query = select(PostVector).where(col(PostVector.post_id).in_(post_ids))
        if model is not None:
            query = query.where(PostVector.model == model)
        with self.session() as session:
            rows = session.exec(query).all()
        vectors = np.frombuffer(b"".join(r.vector for r in rows), dtype=np.float32)
        return (
            [r.post_id for r in rows],
            vectors.reshape(len(rows), self.dimension),
            [r.content_hash for r in rows],
        )

    def save_indexes(self, *, only_dirty: bool = True) -> int:
        """Write every (dirty) guild index to disk and record it; returns how many were saved."""
        if self.read_only:
            return 0  # a read-only store keeps its files; in-memory indexes still serve reads
        saved = 0
        with self.lock:
            for guild_id, index in self._indexes.items():
                if only_dirty and not index.dirty:
                    continue
                index.save(self.index_path(guild_id))
                self._record_index_state(guild_id, index)
                saved += 1
        return saved

    def _record_index_state(self, guild_id: int, index: VectorIndex) -> None:
        meta = index.meta()
        with self.write() as session:
            state = session.get(VectorIndexState, guild_id) or VectorIndexState(
                guild_id=guild_id, model=meta.model, dimension=meta.dimension
            )
            state.model, state.dimension, state.kind = meta.model, meta.dimension, meta.kind
            state.vectors, state.max_post_id, state.saved_at = (
                meta.vectors,
                meta.max_post_id,
                utcnow(),
            )
            session.add(state)

    def drop_index(self, guild_id: int) -> None:
        """Forget a guild's index in memory and on disk (used by reindex and guild purge)."""
        with self.lock:
            self._forget_loaded(guild_id)
            for suffix in (".faiss", ".json"):
                self.index_path(guild_id).with_suffix(suffix).unlink(missing_ok=True)

    # -- rows -----------------------------------------------------------------------------------

    def guild_ids(self) -> list[int]:
        with self.session() as session:
            return [int(g) for g in session.exec(select(Guild.id)).all()]

    def enabled_channel_ids(self, guild_id: int) -> set[int]:
        query = select(Channel.id).where(
            Channel.guild_id == guild_id, col(Channel.indexing_enabled).is_(True)
        )
        with self.session() as session:
            return {int(c) for c in session.exec(query).all()}

    def apply_committed(self, guild_id: int, posts: Iterable[Post]) -> None:
        """Mirror committed post rows into the guild catalog (inside a unit of the writer)."""
        rows = [catalog_row(p) for p in posts]
        with self.lock:
            self.catalog(guild_id).upsert(rows)
        self.changes.record(guild_id, (row.post_id for row in rows))

    def forget_posts(self, guild_id: int, post_ids: list[int]) -> None:
        """Drop deleted posts from the catalog, condition vectors and vector index (after the SQL
        commit, inside the same unit of the writer)."""
        if not post_ids:
            return
        with self.lock:
            self.catalog(guild_id).remove(post_ids)
            self.condition_vectors(guild_id).remove(post_ids)
            index = self.vector_index(guild_id)
            with self.index_guard(guild_id):
                index.remove(post_ids)
        self.changes.record(guild_id, post_ids)

    # -- following other processes --------------------------------------------------------------

    @property
    def change_mark(self) -> int:
        """The newest change-log id this process has applied (for health reports)."""
        return self._change_mark

    def loaded_guilds(self) -> set[int]:
        """Guilds whose indexes this process holds in memory (a shard process: only its own)."""
        return set(self._indexes) | set(self._catalogs) | set(self._conditions)

    def follow(self) -> Changes:
        """Apply what other processes changed since the last call (the change log), refreshing
        those posts of the guilds loaded here from SQL; returns what was seen."""
        changes = self.changes.since(self._change_mark)
        self._change_mark = changes.mark
        for guild_id, post_ids in changes.posts.items():
            self._refresh(guild_id, sorted(post_ids))
        loaded = self.loaded_guilds()
        if loaded:
            for guild_id in loaded - set(self.guild_ids()):  # removed elsewhere: forget it
                self._forget_loaded(guild_id)
        return changes

    def _refresh(self, guild_id: int, post_ids: list[int]) -> None:
        """Make this process's loaded state of `post_ids` match SQL (idempotent)."""
        with self.lock:
            loaded = (
                guild_id in self._catalogs,
                guild_id in self._conditions,
                guild_id in self._indexes,
            )
            if not any(loaded):
                return  # nothing loaded: a first use reads SQL
            for chunk in _chunks(post_ids, 2000):
                self._refresh_chunk(guild_id, list(chunk), *loaded)

    def _refresh_chunk(
        self, guild_id: int, ids: list[int], catalog: bool, conditions: bool, vectors: bool
    ) -> None:
        query = select(Post).where(Post.guild_id == guild_id, col(Post.id).in_(ids))
        with self.session() as session:
            posts = list(session.exec(query).all())
            entries = session.exec(
                select(PostCondition).where(col(PostCondition.post_id).in_(ids))
            ).all()
        present = {int(p.id) for p in posts if p.id is not None}
        gone = [i for i in ids if i not in present]
        if catalog:
            self._catalogs[guild_id].remove(gone)
            self._catalogs[guild_id].upsert([catalog_row(p) for p in posts])
        if conditions:
            tags: dict[int, dict[str, float]] = {i: {} for i in present}
            for entry in entries:
                tags.setdefault(entry.post_id, {})[entry.condition_id] = entry.weight
            self._conditions[guild_id].remove(gone)
            for post_id, weights in tags.items():
                self._conditions[guild_id].set(post_id, weights)
        if vectors:
            found, matrix, hashes = self._load_vectors(sorted(present), model=self.model_name)
            with self.index_guard(guild_id):
                self._indexes[guild_id].remove(ids)
                if found:
                    self._indexes[guild_id].add(found, matrix, hashes)

    def _forget_loaded(self, guild_id: int) -> None:
        with self.lock:
            self._indexes.pop(guild_id, None)
            self._catalogs.pop(guild_id, None)
            self._conditions.pop(guild_id, None)

    def find_post(self, guild_id: int, external_id: str) -> Post | None:
        """The stored post of a Discord message, or None."""
        query = select(Post).where(Post.guild_id == guild_id, Post.external_id == external_id)
        with self.session() as session:
            return session.exec(query).first()

    def posts_of(self, guild_id: int) -> list[Post]:
        """Every stored post of a guild, oldest id first."""
        query = select(Post).where(Post.guild_id == guild_id).order_by(col(Post.id))
        with self.session() as session:
            return list(session.exec(query).all())

    def counts(self, guild_id: int | None = None) -> StoreCounts:
        """How many posts, post vectors and enabled channels (in one guild, or in all)."""
        posts_q = select(func.count()).select_from(Post)
        vec_q = select(func.count()).select_from(PostVector).join(Post)
        chan_q = (
            select(func.count()).select_from(Channel).where(col(Channel.indexing_enabled).is_(True))
        )
        if guild_id is not None:
            posts_q = posts_q.where(Post.guild_id == guild_id)
            vec_q = vec_q.where(Post.guild_id == guild_id)
            chan_q = chan_q.where(Channel.guild_id == guild_id)
        with self.session() as session:
            return StoreCounts(
                posts=int(session.exec(posts_q).one()),
                vectors=int(session.exec(vec_q).one()),
                channels_enabled=int(session.exec(chan_q).one()),
            )

    # -- upkeep ---------------------------------------------------------------------------------

    @property
    def is_sqlite(self) -> bool:
        return self.engine.url.get_backend_name() == "sqlite"

    def rebuild_text_index(self) -> None:
        """Rebuild the full-text index from the posts table."""
        with self.lock:
            text_index.rebuild(self.engine)

    def optimize_text_index(self) -> None:
        """Merge full-text segments so the terms of deleted posts leave the index."""
        with self.lock:
            text_index.optimize(self.engine)

    def compact_text_index(self) -> None:
        """Merge full-text segments, then fold the WAL."""
        self.optimize_text_index()
        checkpoint(self.engine)

    def text_index_ok(self) -> bool:
        """FTS5's own integrity check of the text index against the posts table."""
        return text_index.integrity_ok(self.engine)

    def rewrite_indexes(self, guild_ids: Iterable[int]) -> None:
        """Save these guilds' vector index files now (so removed vectors leave the disk)."""
        with self.lock:
            for guild_id in guild_ids:
                self.vector_index(guild_id).dirty = True
            self.save_indexes()

    def truncate_wal(self) -> bool:
        """Fold the WAL into the database and truncate it (retried); True if it truncated."""
        return truncate_wal(self.engine)

    def vacuum(self) -> bool:
        """Rewrite the database file; True if it ran (SQLite only)."""
        with self.lock:
            return vacuum(self.engine)

    def close(self) -> None:
        self.save_indexes()
        checkpoint(self.engine)
        self.engine.dispose()


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
