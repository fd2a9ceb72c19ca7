"""The one object the bot (and the CLI) holds: a synchronous facade over store, ingest and search.

Everything here may block (encode, faiss, SQL); the bot calls it off the event loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, func, select

from knowledge.conditions import default_tagger
from knowledge.config import KindredSettings
from knowledge.embeddings import Embedder, SentenceTransformerEmbedder
from knowledge.errors import NotFound
from knowledge.ingest import Ingestor, Progress
from knowledge.privacy.consent import PrivacyManager
from knowledge.records import ChannelRecord, IngestReport, PostRecord, SearchHit
from knowledge.safety.assessment import SafetyAssessment, SafetyAssessor
from knowledge.safety.desk import SafetyDesk
from knowledge.scope import SearchScope
from knowledge.search.fusion import Mode
from knowledge.search.retrieval import Searcher
from knowledge.store.models import Channel, ChannelKind, Guild, Post, PostVector
from knowledge.store.store import Store
from knowledge.text import clean_query

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChannelStatus:
    channel_id: int
    name: str | None
    kind: str
    enabled: bool
    posts: int


@dataclass(frozen=True)
class Stats:
    guilds: int
    channels_enabled: int
    posts: int
    vectors: int
    indexed_vectors: int


def default_embedder(settings: KindredSettings) -> Embedder:
    emb = settings.embedding
    return SentenceTransformerEmbedder(
        emb.model_path, name=emb.model_name, batch_size=emb.batch_size, threads=emb.threads
    )


class KnowledgeService:
    """Facade: admin actions, ingest and deletes, search and similar posts, maintenance."""

    def __init__(
        self,
        settings: KindredSettings,
        embedder: Embedder | None = None,
        safety: SafetyAssessor | None = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder or default_embedder(settings)
        self.safety = safety or SafetyAssessor(self.embedder, settings.safety)
        self.store = Store(
            settings.storage.data_dir,
            model_name=self.embedder.name,
            dimension=self.embedder.dimension,
            tagger=default_tagger(),
            database_url=settings.storage.database_url,
            ivf_threshold=settings.vector_index.ivf_threshold,
            nprobe=settings.vector_index.ivf_nprobe,
        )
        self.ingestor = Ingestor(
            self.store, self.embedder, settings.ingest, self.safety.assess_for_ingest
        )
        self.searcher = Searcher(self.store, self.embedder, settings.search)
        # Rules applied to every read scope (consent): a caller's scope can only be narrowed.
        self.read_policies: list[Callable[[SearchScope], SearchScope]] = []
        self.privacy = PrivacyManager(self.store)
        self.read_policies.append(self.privacy.read_policy)
        self.ingestor.gates.append(self.privacy.ingest_gate)
        self.safety_desk = SafetyDesk(self.store, settings.crisis_response)
        self._last_save = time.monotonic()

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, progress: Progress | None = None) -> int:
        """Embed anything left without a vector (a crash, a new model) and load every index."""
        done = self.ingestor.catch_up(progress=progress)
        for guild_id in self.store.guild_ids():
            self.store.vector_index(guild_id)
        self.store.save_indexes()
        return done

    def flush(self, *, force: bool = False) -> int:
        """Save dirty indexes if the save interval has passed (or `force`)."""
        interval = self.settings.vector_index.save_every_seconds
        if not force and time.monotonic() - self._last_save < interval:
            return 0
        self._last_save = time.monotonic()
        return self.store.save_indexes()

    def close(self) -> None:
        self.searcher.close()
        self.store.close()

    # -- guilds and channels ----------------------------------------------------------------------

    def register_guild(self, guild_id: int, name: str | None = None) -> None:
        with self.store.write() as session:
            stmt = sqlite_insert(Guild).values(id=guild_id, name=name)
            session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_={"name": name}))

    def upsert_channels(self, channels: Sequence[ChannelRecord]) -> None:
        """Record channels and threads as Discord describes them (never changes enablement)."""
        with self.store.write() as session:
            for record in channels:
                session.execute(
                    sqlite_insert(Guild).values(id=record.guild_id).on_conflict_do_nothing()
                )
                values = {
                    "name": record.name,
                    "kind": str(record.kind),
                    "parent_id": record.parent_id,
                }
                stmt = sqlite_insert(Channel).values(
                    id=record.id, guild_id=record.guild_id, indexing_enabled=False, **values
                )
                session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=values))

    def enable_channel(self, guild_id: int, channel: ChannelRecord, enabled_by: int) -> None:
        """The admin action that allows a channel (and its threads) to be indexed."""
        self.upsert_channels([channel])
        with self.store.write() as session:
            row = session.get(Channel, channel.id)
            assert row is not None
            row.indexing_enabled, row.enabled_by = True, enabled_by
            row.enabled_at = datetime.now(UTC)
            session.add(row)

    def disable_channel(self, guild_id: int, channel_id: int) -> int:
        """Stop indexing a channel and purge everything stored from it; returns posts removed."""
        with self.store.write() as session:
            row = session.get(Channel, channel_id)
            if row is None or row.guild_id != guild_id:
                raise NotFound("that channel is not known to Kindred")
            row.indexing_enabled = False
            session.add(row)
        return self._delete_where(guild_id, col(Post.channel_id) == channel_id)

    def is_enabled(self, guild_id: int, channel_id: int) -> bool:
        return channel_id in self.store.enabled_channel_ids(guild_id)

    def enabled_channel_ids(self, guild_id: int) -> set[int]:
        return self.store.enabled_channel_ids(guild_id)

    def channel_status(self, guild_id: int) -> list[ChannelStatus]:
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
        return [
            ChannelStatus(r.id, r.name, r.kind, r.indexing_enabled, per_channel.get(r.id, 0))
            for r in sorted(rows, key=lambda r: (not r.indexing_enabled, r.name or ""))
        ]

    # -- ingest and delete -------------------------------------------------------------------------

    def ingest(
        self, records: Sequence[PostRecord], progress: Progress | None = None
    ) -> IngestReport:
        report = self.ingestor.ingest(records, progress)
        log.info(
            "ingest: received=%d inserted=%d updated=%d unchanged=%d embedded=%d skipped=%s",
            report.received,
            report.inserted,
            report.updated,
            report.unchanged,
            report.embedded,
            report.skip_counts(),
        )
        return report

    def delete_messages(self, guild_id: int, external_ids: Sequence[str]) -> int:
        return self._delete_where(guild_id, col(Post.external_id).in_(list(external_ids)))

    def delete_thread(self, guild_id: int, thread_id: int) -> int:
        return self._delete_where(guild_id, col(Post.thread_id) == thread_id)

    def purge_channel(self, guild_id: int, channel_id: int) -> int:
        removed = self._delete_where(guild_id, col(Post.channel_id) == channel_id)
        with self.store.write() as session:
            session.execute(
                sa.delete(Channel).where(
                    (col(Channel.id) == channel_id) | (col(Channel.parent_id) == channel_id)
                )
            )
        return removed

    def purge_guild(self, guild_id: int) -> int:
        """Remove everything held about a guild (the bot was removed from it)."""
        removed = self._delete_where(guild_id, sa.true())
        with self.store.write() as session:
            session.execute(sa.delete(Channel).where(col(Channel.guild_id) == guild_id))
            session.execute(
                sa.text("DELETE FROM member WHERE guild_id = :g").bindparams(g=guild_id)
            )
            session.execute(sa.delete(Guild).where(col(Guild.id) == guild_id))
        self.store.drop_index(guild_id)
        self.privacy.forget_guild(guild_id)
        self.store.compact_text_index()
        return removed

    def maintain(self, now: datetime | None = None) -> int:
        """Periodic upkeep: apply retention limits, then scrub deleted bytes from every store."""
        removed = self.privacy.apply_retention(None, now or datetime.now(UTC))
        self.privacy.compact()
        self.flush(force=True)
        return removed

    def _delete_where(self, guild_id: int, condition: sa.ColumnElement[bool]) -> int:
        with self.store.write() as session:
            found = session.exec(select(Post.id).where(Post.guild_id == guild_id, condition))
            ids = [int(i) for i in found.all() if i is not None]
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                session.execute(sa.delete(PostVector).where(col(PostVector.post_id).in_(chunk)))
                session.execute(sa.delete(Post).where(col(Post.id).in_(chunk)))
        self.store.forget_posts(guild_id, ids)
        if ids:
            log.info("guild %s: deleted %d posts", guild_id, len(ids))
        return len(ids)

    def assess(self, text: str) -> SafetyAssessment:
        """Assess a text for crisis language without storing it (e.g. a message being reported)."""
        return self.safety.assess(text)

    # -- search ------------------------------------------------------------------------------------

    def search(
        self, query: str, scope: SearchScope, limit: int = 50, mode: Mode = "hybrid"
    ) -> list[SearchHit]:
        """Rank posts in `scope` for a member's query (the query is cleaned, never parsed)."""
        text = clean_query(query, self.settings.search.max_query_chars)
        return self.searcher.search(text, self.enforce(scope), limit, mode)

    def enforce(self, scope: SearchScope) -> SearchScope:
        """The caller's scope narrowed by every read policy (consent)."""
        for policy in self.read_policies:
            scope = policy(scope)
        return scope

    def similar_to_text(self, text: str, scope: SearchScope, limit: int = 10) -> list[SearchHit]:
        """Posts like a new question or message (the text itself is not stored)."""
        limit_chars = self.settings.ingest.max_post_chars
        query = clean_query(text[:limit_chars] if isinstance(text, str) else text, limit_chars)
        return self.searcher.search(query, self.enforce(scope), limit)

    def similar_to_post(
        self, guild_id: int, external_id: str, scope: SearchScope, limit: int = 10
    ) -> list[SearchHit]:
        """Posts like a stored post, excluding the post itself."""
        with self.store.session() as session:
            post = session.exec(
                select(Post).where(Post.guild_id == guild_id, Post.external_id == external_id)
            ).first()
        if post is None or post.id is None:
            raise NotFound("that message is not indexed")
        narrowed = replace(scope, exclude_post_ids=scope.exclude_post_ids | {post.id})
        vector = None
        with self.store.lock:
            index = self.store.vector_index(guild_id)
            if post.id in index:
                vector = index.reconstruct(np.asarray([post.id], dtype=np.int64))[0]
        return self.searcher.search(
            post.content, self.enforce(narrowed), limit, query_vector=vector
        )

    # -- maintenance -------------------------------------------------------------------------------

    def reindex(self, guild_id: int | None = None, progress: Progress | None = None) -> int:
        """Rebuild text and vector indexes from SQL; embeds whatever lacks a current vector."""
        with self.store.lock, self.store.engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO post_fts(post_fts) VALUES ('rebuild')")
        guilds = [guild_id] if guild_id is not None else self.store.guild_ids()
        for gid in guilds:
            self.store.drop_index(gid)
        done = self.ingestor.catch_up(guild_id, progress)
        for gid in guilds:
            self.store.vector_index(gid)
        self.store.save_indexes(only_dirty=False)
        return done

    def stats(self, guild_id: int | None = None) -> Stats:
        with self.store.session() as session:
            posts_q = select(func.count()).select_from(Post)
            vec_q = select(func.count()).select_from(PostVector).join(Post)
            chan_q = (
                select(func.count())
                .select_from(Channel)
                .where(col(Channel.indexing_enabled).is_(True))
            )
            if guild_id is not None:
                posts_q = posts_q.where(Post.guild_id == guild_id)
                vec_q = vec_q.where(Post.guild_id == guild_id)
                chan_q = chan_q.where(Channel.guild_id == guild_id)
            posts = int(session.exec(posts_q).one())
            vectors = int(session.exec(vec_q).one())
            channels = int(session.exec(chan_q).one())
        guilds = [guild_id] if guild_id is not None else self.store.guild_ids()
        indexed = sum(len(self.store.vector_index(g)) for g in guilds)
        return Stats(len(guilds), channels, posts, vectors, indexed)
