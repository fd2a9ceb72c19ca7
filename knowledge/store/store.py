"""The SQL store plus the derived per-guild vector indexes and catalogs, kept in step.

SQL is the truth. Full-text rows follow posts through triggers in the same transaction; vectors are
stored in SQL (`postvector`) and mirrored in faiss, which is caught up from SQL whenever a saved
index is missing, stale or built by another model.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from knowledge.conditions import ConditionTagger
from knowledge.errors import IndexMismatch
from knowledge.scope import epoch_seconds
from knowledge.store.catalog import CatalogRow, PostCatalog
from knowledge.store.condition_vectors import ConditionVectors, sparse_entries
from knowledge.store.db import checkpoint, make_engine, migrate, sqlite_url
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
from knowledge.store.vector_index import VectorIndex, hash_key

log = logging.getLogger(__name__)


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
    """Owns the engine, one writer lock, and each guild's VectorIndex and PostCatalog."""

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
    ) -> None:
        self.data_dir = data_dir
        self.index_dir = data_dir / "indexes"
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir.chmod(0o700)
        self.index_dir.mkdir(mode=0o700, exist_ok=True)
        self.index_dir.chmod(0o700)
        self.model_name = model_name
        self.dimension = dimension
        self.engine: Engine = make_engine(database_url or sqlite_url(data_dir / "kindred.db"))
        migrate(self.engine)
        self.ivf_threshold = ivf_threshold
        self.nprobe = nprobe
        self.lock = threading.RLock()
        self._indexes: dict[int, VectorIndex] = {}
        self._catalogs: dict[int, PostCatalog] = {}
        self._conditions: dict[int, ConditionVectors] = {}
        self.tagger = tagger
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
        with self.lock:
            if guild_id not in self._indexes:
                self._indexes[guild_id] = self._open_index(guild_id)
            return self._indexes[guild_id]

    def catalog(self, guild_id: int) -> PostCatalog:
        with self.lock:
            if guild_id not in self._catalogs:
                catalog = PostCatalog()
                with self.session() as session:
                    posts = session.exec(select(Post).where(Post.guild_id == guild_id)).all()
                    catalog.upsert([catalog_row(p) for p in posts])
                self._catalogs[guild_id] = catalog
            return self._catalogs[guild_id]

    def condition_vectors(self, guild_id: int) -> ConditionVectors:
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

    def _load_vectors(self, post_ids: Sequence[int]) -> tuple[list[int], np.ndarray, list[str]]:
        query = select(PostVector).where(col(PostVector.post_id).in_(post_ids))
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
            self._indexes.pop(guild_id, None)
            self._catalogs.pop(guild_id, None)
            self._conditions.pop(guild_id, None)
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
        """Mirror committed post rows into the guild catalog."""
        self.catalog(guild_id).upsert([catalog_row(p) for p in posts])

    def forget_posts(self, guild_id: int, post_ids: list[int]) -> None:
        """Drop deleted posts from the catalog and the vector index (after the SQL commit)."""
        if not post_ids:
            return
        with self.lock:
            self.catalog(guild_id).remove(post_ids)
            self.vector_index(guild_id).remove(post_ids)
            self.condition_vectors(guild_id).remove(post_ids)

    def compact_text_index(self) -> None:
        """Merge full-text segments so deleted terms leave the index, then fold the WAL."""
        with self.lock, self.engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO post_fts(post_fts) VALUES ('optimize')")
        checkpoint(self.engine)

    def text_index_ok(self) -> bool:
        """FTS5's own integrity check of the text index against the posts table."""
        try:
            with self.engine.begin() as connection:
                connection.exec_driver_sql(
                    "INSERT INTO post_fts(post_fts, rank) VALUES ('integrity-check', 1)"
                )
        except sa.exc.DatabaseError:
            return False
        return True

    def close(self) -> None:
        self.save_indexes()
        checkpoint(self.engine)
        self.engine.dispose()


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
