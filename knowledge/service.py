"""The one object the bot (and the CLI) holds: a synchronous facade over store, ingest and search.

Everything here may block (encode, faiss, SQL); the bot calls it off the event loop. The service
writes no SQL of its own: rows are read and written by `knowledge.store` (guild and channel rows
in `store.channels`), and every removal goes through the one erase path
(`knowledge.privacy.erase`, reached through `privacy.erase`). It builds every part once, wires
the ingest gates and read policies in its constructor, and exposes the sub-services callers use
as read-only properties (`privacy`, `safety_desk`, `checkpoints`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np

from knowledge.conditions import ConditionTagger, default_tagger
from knowledge.config import KindredSettings
from knowledge.curation import AuditLog, Curation, Hiding, KnowledgeBase
from knowledge.curation.signals import Signals
from knowledge.directory import Directory
from knowledge.embeddings import Embedder, SentenceTransformerEmbedder
from knowledge.errors import ConfigError, NotFound
from knowledge.ingest import Ingestor, Progress
from knowledge.insights import Insights
from knowledge.matching import MemberMatcher
from knowledge.matching.introductions import Introductions
from knowledge.matching.profiles import ProfileManager
from knowledge.matching.suggestions import Suggestions
from knowledge.privacy.consent import PrivacyManager
from knowledge.privacy.erase import ChannelTarget, GuildTarget, MessagesTarget
from knowledge.records import ChannelRecord, IngestReport, PostRecord, SearchHit
from knowledge.safety.assessment import SafetyAssessment, SafetyAssessor
from knowledge.safety.desk import SafetyDesk
from knowledge.safety.queue import ReportQueue
from knowledge.scope import SearchScope
from knowledge.search.fusion import Mode
from knowledge.search.retrieval import Searcher
from knowledge.store.channels import GuildChannels
from knowledge.store.checkpoints import BackfillCheckpoints
from knowledge.store.models import Post
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
    """The configured embedder: torch (default) or ONNX Runtime ([embedding] backend)."""
    emb = settings.embedding
    if emb.backend == "onnx":
        from knowledge.onnx_embedder import OnnxEmbedder, onnx_available

        if not onnx_available():
            raise ConfigError(
                "[embedding] backend = \"onnx\" needs onnxruntime: pip install 'kindred[onnx]'"
            )
        return OnnxEmbedder(
            emb.model_path,
            models_dir=settings.storage.data_dir / "models",
            name=emb.model_name,
            quantize=emb.quantize,
            batch_size=emb.batch_size,
            threads=emb.threads,
            bulk_threads=emb.bulk_threads,
            bulk_min_texts=emb.bulk_min_texts,
        )
    if emb.quantize != "none":
        raise ConfigError('[embedding] quantize = "int8" needs backend = "onnx"')
    return SentenceTransformerEmbedder(
        emb.model_path,
        name=emb.model_name,
        batch_size=emb.batch_size,
        threads=emb.threads,
        bulk_threads=emb.bulk_threads,
        bulk_min_texts=emb.bulk_min_texts,
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
        self._owns_embedder = embedder is None  # a default embedder's bulk worker stops on close
        self.safety = safety or SafetyAssessor(self.embedder, settings.safety)
        self.store = Store(
            settings.storage.data_dir,
            model_name=self.embedder.name,
            dimension=self.embedder.dimension,
            tagger=default_tagger(),
            database_url=settings.storage.database_url,
            ivf_threshold=settings.vector_index.ivf_threshold,
            nprobe=settings.vector_index.ivf_nprobe,
            pool=(settings.storage.pool_size, settings.storage.max_overflow),
        )
        # One consent manager (one consent cache) per service; its gate and read policy are
        # wired here, once: callers can narrow a scope, never widen it.
        self._privacy = PrivacyManager(self.store)
        self._read_policies: tuple[Callable[[SearchScope], SearchScope], ...] = (
            self._privacy.read_policy,
        )
        self.ingestor = Ingestor(
            self.store,
            self.embedder,
            settings.ingest,
            self.safety.assess_for_ingest,
            gates=(self._privacy.ingest_gate,),
        )
        self.searcher = Searcher(self.store, self.embedder, settings.search)
        self.channels = GuildChannels(self.store)
        self._safety_desk = SafetyDesk(self.store, settings.crisis_response)
        self._checkpoints = BackfillCheckpoints(self.store)
        self._directory = Directory(self.store)
        self._matching = MemberMatcher(
            self.store,
            self._privacy,
            self.embedder,
            lambda text: self.safety.assess(text).level.value == "crisis",
            max_query_chars=settings.ingest.max_post_chars,
        )
        self._profiles = ProfileManager(self.store, crisis_days=self._matching.settings.crisis_days)
        self._suggestions = Suggestions(
            self.store,
            settings.suggestions,
            search_floor=settings.search.relevance_floor,
            similar_to_text=self.similar_to_text,
            is_crisis=lambda text: self.safety.assess(text).level.value == "crisis",
            helpers_for=self._profiles.helpers_for,
            is_excluded=lambda guild, member: self._privacy.consent(guild, member).excluded,
        )
        self._introductions = Introductions(
            self.store, self._privacy, self._matching, self._profiles, settings.introductions
        )
        self._curation = Curation(
            KnowledgeBase(self.store, self.store.tagger, self.ingest, self.delete_messages),
            Hiding(self.store),
            AuditLog(self.store),
        )
        self._signals = Signals(self.store)
        self._reports = ReportQueue(self.store, self._safety_desk, settings.reports)
        self._insights = Insights(self.store)
        self._last_save = time.monotonic()

    # -- sub-services ---------------------------------------------------------------------------

    @property
    def privacy(self) -> PrivacyManager:
        """Consent, export, a member's delete, retention: the process's one consent cache."""
        return self._privacy

    @property
    def safety_desk(self) -> SafetyDesk:
        """Crisis-response settings, alerts and claims."""
        return self._safety_desk

    @property
    def checkpoints(self) -> BackfillCheckpoints:
        """How far each channel's history has been read (removed by the erase path on teardown)."""
        return self._checkpoints

    @property
    def directory(self) -> Directory:
        """Members, channels and guilds as Kindred holds them (ids, names, post counts)."""
        return self._directory

    @property
    def matching(self) -> MemberMatcher:
        """Fellow members to introduce (`rank_members`): opt-in, crisis-aware, one guild."""
        return self._matching

    @property
    def profiles(self) -> ProfileManager:
        """Members' declared conditions, sample post and helper settings (`helpers_for`)."""
        return self._profiles

    @property
    def suggestions(self) -> Suggestions:
        """Suggestion channels, prior threads for new questions, feedback, and helper routing
        (`suggestions.routing`)."""
        return self._suggestions

    @property
    def introductions(self) -> Introductions:
        """Match cards for /connect, introduction requests and answers, blocks."""
        return self._introductions

    @property
    def curation(self) -> Curation:
        """Moderators' knowledge base, hide/unhide and audit (`hide_message`, `record_action`)."""
        return self._curation

    @property
    def signals(self) -> Signals:
        """ "This helped" marks and solved questions (`mark_helped`, `most_helpful_uncurated`)."""
        return self._signals

    @property
    def reports(self) -> ReportQueue:
        """Members' reports: one queue item per message, rate-limited filing, resolve."""
        return self._reports

    @property
    def insights(self) -> Insights:
        """Moderators' figures, chart and HTML page; counts searches that found nothing."""
        return self._insights

    @property
    def conditions(self) -> ConditionTagger:
        """The condition vocabulary (ids, names, name search) for commands and forms."""
        return self.store.tagger

    @property
    def change_mark(self) -> int:
        """The newest change-log id this process has applied (for health reports)."""
        return self.store.change_mark

    def find_post(self, guild_id: int, external_id: str) -> Post | None:
        """The stored post of a Discord message, or None."""
        return self.store.find_post(guild_id, external_id)

    def stored_posts(self, guild_id: int) -> list[Post]:
        """Every stored post of a guild, oldest id first (evaluation over a throwaway store)."""
        return self.store.posts_of(guild_id)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(
        self, progress: Progress | None = None, owns: Callable[[int], bool] | None = None
    ) -> int:
        """Embed anything left without a vector (a crash, a new model) and load every index.

        With `owns` (a shard process), only the guilds it owns: other processes own the rest.
        """
        guilds = [g for g in self.store.guild_ids() if owns is None or owns(g)]
        done = 0
        if not self.store.read_only:  # a read-only store serves reads as it is
            if owns is None:
                done = self.ingestor.catch_up(progress=progress)
            else:
                done = sum(self.ingestor.catch_up(g, progress) for g in guilds)
        for guild_id in guilds:
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

    def follow_changes(self) -> int:
        """Apply what other processes (another shard, the CLI) changed since the last call:
        their deletes, edits and new posts, and consent changes; returns how many were seen.
        The bot calls it every few seconds, off the event loop."""
        changes = self.store.follow()
        for guild_id in changes.guilds:
            self._privacy.invalidate(guild_id)
        return len(changes.guilds) + sum(len(ids) for ids in changes.posts.values())

    def close(self) -> None:
        self.searcher.close()
        self.store.close()
        close_embedder = getattr(self.embedder, "close", None)
        if self._owns_embedder and callable(close_embedder):
            close_embedder()

    # -- guilds and channels ----------------------------------------------------------------------

    def register_guild(self, guild_id: int, name: str | None = None) -> None:
        self.channels.register_guild(guild_id, name)

    def upsert_channels(self, channels: Sequence[ChannelRecord]) -> None:
        """Record channels and threads as Discord describes them (never changes enablement)."""
        self.channels.upsert(channels)

    def enable_channel(self, guild_id: int, channel: ChannelRecord, enabled_by: int) -> None:
        """The admin action that allows a channel (and its threads) to be indexed."""
        self.channels.enable(channel, enabled_by)

    def disable_channel(self, guild_id: int, channel_id: int) -> int:
        """Stop indexing a channel and erase everything stored from it; returns posts removed.

        Its row and its threads' rows go too (with posts, alerts and backfill checkpoints), so
        no table keeps a row about the channel; `enable_channel` records it again.
        """
        row = self.channels.get(channel_id)
        if row is None or row.guild_id != guild_id:
            raise NotFound("that channel is not known to Kindred")
        return self._privacy.erase(ChannelTarget(guild_id, channel_id)).posts

    def is_enabled(self, guild_id: int, channel_id: int) -> bool:
        return channel_id in self.store.enabled_channel_ids(guild_id)

    def enabled_channel_ids(self, guild_id: int) -> set[int]:
        return self.store.enabled_channel_ids(guild_id)

    def channel_status(self, guild_id: int) -> list[ChannelStatus]:
        rows = self.channels.with_post_counts(guild_id)
        rows.sort(key=lambda r: (not r.channel.indexing_enabled, r.channel.name or ""))
        return [
            ChannelStatus(
                r.channel.id, r.channel.name, r.channel.kind, r.channel.indexing_enabled, r.posts
            )
            for r in rows
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
        """Messages deleted on Discord: gone from search at once, bytes scrubbed by `maintain`."""
        target = MessagesTarget(guild_id, tuple(external_ids))
        return self._privacy.erase(target, scrub_files=False).posts

    def delete_thread(self, guild_id: int, thread_id: int) -> int:
        """A thread deleted on Discord: its posts, row, alerts and checkpoint go."""
        return self._privacy.erase(ChannelTarget(guild_id, thread_id), scrub_files=False).posts

    def purge_channel(self, guild_id: int, channel_id: int) -> int:
        """A channel deleted on Discord: erase it with its threads (as `disable_channel`)."""
        return self._privacy.erase(ChannelTarget(guild_id, channel_id)).posts

    def purge_guild(self, guild_id: int) -> int:
        """Remove everything held about a guild (the bot was removed from it): every row of every
        table that names it, its index files, and the deleted bytes."""
        return self._privacy.erase(GuildTarget(guild_id)).posts

    def maintain(self, now: datetime | None = None) -> int:
        """Periodic upkeep: apply retention limits, then scrub deleted bytes from every store."""
        removed = self._privacy.apply_retention(None, now or datetime.now(UTC))
        self.store.changes.trim(now)
        self._privacy.compact()
        self.flush(force=True)
        return removed

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
        for policy in self._read_policies:
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
        post = self.store.find_post(guild_id, external_id)
        if post is None or post.id is None:
            raise NotFound("that message is not indexed")
        narrowed = replace(scope, exclude_post_ids=scope.exclude_post_ids | {post.id})
        stored = self.store.stored_vectors(guild_id, np.asarray([post.id], dtype=np.int64))[0]
        vector = stored if stored.any() else None  # a zero row: no vector yet (text is used)
        return self.searcher.search(
            post.content, self.enforce(narrowed), limit, query_vector=vector
        )

    def similar_to_message(
        self, guild_id: int, external_id: str, text: str, scope: SearchScope, limit: int = 10
    ) -> list[SearchHit]:
        """Posts like a message: its stored vector when it is indexed, else its text (which is
        not stored: a message from a channel that is not indexed, or one withheld from Kindred)."""
        try:
            return self.similar_to_post(guild_id, external_id, scope, limit)
        except NotFound:
            return self.similar_to_text(text, scope, limit)

    # -- maintenance -------------------------------------------------------------------------------

    def reindex(self, guild_id: int | None = None, progress: Progress | None = None) -> int:
        """Rebuild text and vector indexes from SQL; embeds whatever lacks a current vector."""
        self.store.rebuild_text_index()
        guilds = [guild_id] if guild_id is not None else self.store.guild_ids()
        for gid in guilds:
            self.store.drop_index(gid)
        done = self.ingestor.catch_up(guild_id, progress)
        for gid in guilds:
            self.store.vector_index(gid)
        self.store.save_indexes(only_dirty=False)
        return done

    def stats(self, guild_id: int | None = None) -> Stats:
        counts = self.store.counts(guild_id)
        guilds = [guild_id] if guild_id is not None else self.store.guild_ids()
        indexed = sum(len(self.store.vector_index(g)) for g in guilds)
        return Stats(len(guilds), counts.channels_enabled, counts.posts, counts.vectors, indexed)
