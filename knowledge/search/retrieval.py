"""Permission-aware hybrid search over one guild: candidates from FTS5 and faiss, then fusion.

Both candidate sources apply the asker's scope inside retrieval (SQL WHERE for full text, an id
bitmap inside faiss), so a page is full whenever enough readable posts exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlmodel import col, select

from knowledge.config import SearchSettings
from knowledge.embeddings import Embedder
from knowledge.records import SearchHit, SearchPage
from knowledge.scope import SearchScope
from knowledge.search.fts_query import build_match_query
from knowledge.search.fusion import HybridRanker, Mode
from knowledge.search.snippets import make_snippet
from knowledge.store.models import Channel, Member, Post
from knowledge.store.store import Store

IdArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]

_FTS = sa.table("post_fts", sa.column("rowid"))
_POST = Post.__table__  # type: ignore[attr-defined]
MAX_LEXICAL_TERMS = 32


class StoreCandidates:
    """Candidates for one query and scope, drawn from the store's text and vector indexes."""

    def __init__(self, store: Store, scope: SearchScope) -> None:
        self.store = store
        self.scope = scope
        self._allowed: IdArray | None = None
        self._prefetched: dict[tuple[str, int], Future[tuple[IdArray, FloatArray]]] = {}

    def prefetch_lexical(self, pool: ThreadPoolExecutor, query_text: str, k: int) -> None:
        """Start the full-text search now (SQLite releases the GIL) while the query is embedded."""
        self._prefetched[(query_text, k)] = pool.submit(self._lexical, query_text, k)

    def allowed(self) -> IdArray:
        if self._allowed is None:
            self._allowed = self.store.catalog(self.scope.guild_id).allowed_ids(self.scope)
        return self._allowed

    def dense(self, vector: FloatArray, k: int) -> tuple[IdArray, FloatArray]:
        with self.store.lock:
            return self.store.vector_index(self.scope.guild_id).search(vector, k, self.allowed())

    def lexical(self, query_text: str, k: int) -> tuple[IdArray, FloatArray]:
        future = self._prefetched.pop((query_text, k), None)
        return future.result() if future is not None else self._lexical(query_text, k)

    def _lexical(self, query_text: str, k: int) -> tuple[IdArray, FloatArray]:
        match = build_match_query(query_text, max_terms=MAX_LEXICAL_TERMS)
        if match is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        rank = sa.func.bm25(sa.literal_column("post_fts"))
        stmt = (
            sa.select(_POST.c.id, rank)
            .select_from(_FTS.join(_POST, _POST.c.id == _FTS.c.rowid))
            .where(sa.literal_column("post_fts").op("MATCH")(match), *self.scope.sql_conditions())
            .order_by(rank)
            .limit(k)
        )
        with self.store.engine.connect() as connection:
            rows = connection.execute(stmt).all()
        ids = np.asarray([r[0] for r in rows], dtype=np.int64)
        return ids, -np.asarray([r[1] for r in rows], dtype=np.float32)

    def vectors(self, ids: IdArray) -> FloatArray:
        with self.store.lock:
            index = self.store.vector_index(self.scope.guild_id)
            present = np.asarray([i for i in ids.tolist() if i in index], dtype=np.int64)
            out = np.zeros((len(ids), index.dimension), dtype=np.float32)
            if len(present):
                found = dict(zip(present.tolist(), index.reconstruct(present), strict=True))
                for row, post_id in enumerate(ids.tolist()):
                    if post_id in found:
                        out[row] = found[post_id]
            return out

    def conditions(self, ids: IdArray) -> FloatArray:
        return self.store.condition_vectors(self.scope.guild_id).matrix(ids)


class Searcher:
    """Runs a query through the ranker and turns ranked ids into hits with snippets."""

    def __init__(self, store: Store, embedder: Embedder, settings: SearchSettings) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.ranker = HybridRanker(settings.fusion)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kindred-fts")

    def ranked_ids(
        self,
        query: str,
        scope: SearchScope,
        limit: int,
        mode: Mode = "hybrid",
        query_vector: FloatArray | None = None,
    ) -> list[tuple[int, float]]:
        source = StoreCandidates(self.store, scope)
        if mode == "bm25":
            source.prefetch_lexical(self._pool, query, limit)
        elif mode == "hybrid" and self.ranker.uses_lexical(query):
            source.prefetch_lexical(self._pool, query, self.settings.fusion.lexical_depth)
        if mode == "bm25":  # full text alone needs no embedding
            return self.ranker.rank(query, np.zeros(1, np.float32), None, source, limit, mode)
        vector = query_vector if query_vector is not None else self.embedder.encode([query])[0]
        conditions = self.store.tagger.vector(query)
        return self.ranker.rank(query, vector, conditions, source, limit, mode)

    def search(
        self,
        query: str,
        scope: SearchScope,
        limit: int,
        mode: Mode = "hybrid",
        query_vector: FloatArray | None = None,
    ) -> list[SearchHit]:
        ranked = self.ranked_ids(query, scope, limit, mode, query_vector)
        return self.hits(ranked, query)

    def hits(self, ranked: Sequence[tuple[int, float]], query: str) -> list[SearchHit]:
        if not ranked:
            return []
        ids = [post_id for post_id, _ in ranked]
        with self.store.session() as session:
            posts = {p.id: p for p in session.exec(select(Post).where(col(Post.id).in_(ids))).all()}
            channel_ids = {p.channel_id for p in posts.values()} | {
                p.thread_id for p in posts.values() if p.thread_id is not None
            }
            names = dict(
                session.exec(
                    select(Channel.id, Channel.name).where(col(Channel.id).in_(channel_ids))
                ).all()
            )
            authors = {p.author_id for p in posts.values()}
            guild_ids = {p.guild_id for p in posts.values()}
            members = session.exec(
                select(Member).where(
                    col(Member.guild_id).in_(guild_ids), col(Member.user_id).in_(authors)
                )
            ).all()
            handles = {(m.guild_id, m.user_id): m.handle for m in members if m.handle}
        out: list[SearchHit] = []
        for post_id, score in ranked:
            post = posts.get(post_id)
            if post is None or post.id is None:
                continue  # deleted between ranking and loading
            out.append(
                SearchHit(
                    post_id=post.id,
                    external_id=post.external_id,
                    guild_id=post.guild_id,
                    channel_id=post.channel_id,
                    thread_id=post.thread_id,
                    author_id=post.author_id,
                    created_at=post.created_at,
                    score=float(score),
                    snippet=make_snippet(post.content, query),
                    curated=post.curated,
                    channel_name=names.get(post.channel_id),
                    thread_name=names.get(post.thread_id) if post.thread_id else None,
                    author_handle=handles.get((post.guild_id, post.author_id)),
                )
            )
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def paginate(hits: Sequence[SearchHit], offset: int, page_size: int) -> SearchPage:
    offset = max(0, min(offset, max(0, len(hits) - 1)))
    return SearchPage(tuple(hits[offset : offset + page_size]), len(hits), offset, page_size)
