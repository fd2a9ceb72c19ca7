"""Permission-aware hybrid search over one guild: candidates from FTS5 and faiss, then fusion.

Both candidate sources apply the asker's scope inside retrieval (SQL WHERE for full text, an id
bitmap inside faiss), so a page is full whenever enough readable posts exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import numpy.typing as npt
from sqlmodel import col, select

from knowledge.config import SearchSettings
from knowledge.embeddings import Embedder
from knowledge.records import SearchHit, SearchPage
from knowledge.scope import SearchScope
from knowledge.search.fts_query import query_terms
from knowledge.search.fusion import HybridRanker, Mode, QueryConditions, Ranked
from knowledge.search.snippets import make_snippet
from knowledge.store.catalog import ids_in_scope
from knowledge.store.models import Channel, Member, Post
from knowledge.store.store import Store, catalog_row
from knowledge.store.text_index import ranked_matches

IdArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]

_POST = Post.__table__  # type: ignore[attr-defined]
MAX_LEXICAL_TERMS = 32
CENTROID_SAMPLE = 2048


class GuildCentroids:
    """The mean embedding of each guild's readable posts (from an evenly spread sample of at
    most CENTROID_SAMPLE), kept until the number of posts changes by a tenth."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[int, FloatArray]] = {}

    def get(self, source: StoreCandidates) -> FloatArray | None:
        ids = source.allowed()
        n = len(ids)
        if n == 0:
            return None
        cached = self._cache.get(source.scope.guild_id)
        if cached is not None and abs(n - cached[0]) <= 0.1 * cached[0]:
            return cached[1]
        sample = np.asarray(ids)[np.linspace(0, n - 1, min(n, CENTROID_SAMPLE)).astype(np.int64)]
        mean = np.asarray(source.vectors(np.asarray(sample, dtype=np.int64)).mean(axis=0))
        self._cache[source.scope.guild_id] = (n, mean.astype(np.float32))
        return self._cache[source.scope.guild_id][1]


class StoreCandidates:
    """Candidates for one query and scope, drawn from the store's text and vector indexes.

    `budget` bounds how many matching posts full text ranks (`text_index.bounded_terms`; 0: none).
    """

    def __init__(
        self,
        store: Store,
        scope: SearchScope,
        centroids: GuildCentroids | None = None,
        budget: int = 0,
    ) -> None:
        self.store = store
        self.scope = scope
        self._centroids = centroids
        self.budget = budget or None
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
        # A reader: the faiss guard only, never the writer lock (see knowledge.store.store).
        return self.store.search_vectors(self.scope.guild_id, vector, k, self.allowed())

    def lexical(self, query_text: str, k: int) -> tuple[IdArray, FloatArray]:
        future = self._prefetched.pop((query_text, k), None)
        return future.result() if future is not None else self._lexical(query_text, k)

    def _lexical(self, query_text: str, k: int) -> tuple[IdArray, FloatArray]:
        terms = query_terms(query_text, max_terms=MAX_LEXICAL_TERMS)
        with self.store.engine.connect() as connection:
            rows = ranked_matches(
                connection, terms, self.scope.sql_conditions(), k, budget=self.budget
            )
        ids = np.asarray([r[0] for r in rows], dtype=np.int64)
        return ids, np.asarray([r[1] for r in rows], dtype=np.float32)

    def vectors(self, ids: IdArray) -> FloatArray:
        return self.store.stored_vectors(self.scope.guild_id, ids)

    def conditions(self, ids: IdArray) -> FloatArray:
        return self.store.condition_vectors(self.scope.guild_id).matrix(ids)

    def centroid(self) -> FloatArray | None:
        return self._centroids.get(self) if self._centroids is not None else None


class Searcher:
    """Runs a query through the ranker and turns ranked ids into hits with snippets."""

    def __init__(self, store: Store, embedder: Embedder, settings: SearchSettings) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.ranker = HybridRanker(settings.fusion)
        self._centroids = GuildCentroids()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kindred-fts")

    def ranked_ids(
        self,
        query: str,
        scope: SearchScope,
        limit: int,
        mode: Mode = "hybrid",
        query_vector: FloatArray | None = None,
    ) -> list[tuple[int, float]]:
        ranked = self.ranked(query, scope, limit, mode, query_vector)
        return [(r.post_id, r.score) for r in ranked]

    def ranked(
        self,
        query: str,
        scope: SearchScope,
        limit: int,
        mode: Mode = "hybrid",
        query_vector: FloatArray | None = None,
    ) -> list[Ranked]:
        """Ranked post ids with fused scores and plain similarities (for the relevance floor)."""
        with self.store.readers.reading():
            return self._ranked(query, scope, limit, mode, query_vector)

    def _ranked(
        self,
        query: str,
        scope: SearchScope,
        limit: int,
        mode: Mode,
        query_vector: FloatArray | None,
    ) -> list[Ranked]:
        source = StoreCandidates(self.store, scope, self._centroids, self.settings.full_text_budget)
        if mode == "bm25":
            source.prefetch_lexical(self._pool, query, limit)
        elif mode == "hybrid" and self.ranker.uses_lexical(query):
            source.prefetch_lexical(self._pool, query, self.settings.fusion.lexical_depth)
        if mode == "bm25":  # full text alone needs no embedding
            zero = np.zeros(1, np.float32)
            return self.ranker.rank_posts(query, zero, None, source, limit, mode)
        vector = query_vector if query_vector is not None else self.embedder.encode([query])[0]
        conditions = self.query_conditions(query)
        return self.ranker.rank_posts(query, vector, conditions, source, limit, mode)

    def query_conditions(self, query: str) -> QueryConditions:
        """The query's own condition vector and how much evidence stands behind it."""
        tagger = self.store.tagger
        evidence = sum(tagger.evidence(query).values())
        return QueryConditions(tagger.vector(query), evidence)

    def search(
        self,
        query: str,
        scope: SearchScope,
        limit: int,
        mode: Mode = "hybrid",
        query_vector: FloatArray | None = None,
    ) -> list[SearchHit]:
        with self.store.readers.reading():
            ranked = self.ranked(query, scope, limit, mode, query_vector)
            hits = self.hits([(r.post_id, r.score) for r in ranked], query, scope)
        return curated_first(self.with_floor(hits, ranked))

    def with_floor(self, hits: Sequence[SearchHit], ranked: Sequence[Ranked]) -> list[SearchHit]:
        """Mark each hit with its similarity and whether it clears the relevance floor (hits
        ranked by full text alone have no similarity and are not judged)."""
        floor = self.settings.relevance_floor
        similarity = {r.post_id: r.similarity for r in ranked}
        out = []
        for hit in hits:
            value = similarity.get(hit.post_id)
            out.append(replace(hit, similarity=value, close=value is None or value >= floor))
        return out

    def hits(
        self, ranked: Sequence[tuple[int, float]], query: str, scope: SearchScope
    ) -> list[SearchHit]:
        """Load ranked posts; a second wall re-checks each loaded row against `scope` (guild,
        channels, consent, hidden and crisis rules), so a row the indexes should not have offered
        (deleted, moved, or another guild's) is dropped, never shown. The rule runs over the
        rows (`ids_in_scope`), not as SQL: SQLite would scan the guild's index instead of
        looking the ids up."""
        if not ranked:
            return []
        ids = [post_id for post_id, _ in ranked]
        with self.store.session() as session:
            loaded = session.exec(select(Post).where(col(Post.id).in_(ids))).all()
            mine = [p for p in loaded if p.guild_id == scope.guild_id]
            readable = ids_in_scope([catalog_row(p) for p in mine], scope)
            posts = {p.id: p for p in mine if p.id in readable}
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
                continue  # deleted between ranking and loading, or outside the scope
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


def curated_first(hits: Sequence[SearchHit]) -> list[SearchHit]:
    """Moderators' curated entries that clear the relevance floor first (in their own order),
    then every other hit as ranked; a curated entry that does not clear it is left out. Only
    curated hits move, so a result list without them is unchanged."""
    curated = [hit for hit in hits if hit.curated and hit.close]
    return curated + [hit for hit in hits if not hit.curated]


def paginate(hits: Sequence[SearchHit], offset: int, page_size: int) -> SearchPage:
    offset = max(0, min(offset, max(0, len(hits) - 1)))
    nothing_close = not any(hit.close for hit in hits)
    return SearchPage(
        tuple(hits[offset : offset + page_size]), len(hits), offset, page_size, nothing_close
    )
