"""One ingest path for live messages, backfills and bulk loads: validate, upsert, embed, index.

Idempotent by (guild, external id): the same message updates its row, unchanged text is not embedded
again, an edit re-embeds. Each batch is one SQL transaction; a bad post becomes a recorded skip and
never costs the rest of its batch. Vectors are written to SQL before faiss, so a crash at any point
is repaired by `catch_up`, which embeds whatever SQL holds without a current vector.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from knowledge.config import IngestSettings
from knowledge.embeddings import Embedder, Vectors
from knowledge.errors import InvalidInput
from knowledge.records import Flag, IngestReport, PostRecord, Skip
from knowledge.store.models import Guild, Member, Post, PostVector, utcnow
from knowledge.store.store import Store
from knowledge.text import CleanText, clean_post_text, content_hash

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
# Given texts and their vectors, return per text a safety level ("none", "concern", "crisis")
# and the reasons (phrases or signals, never the text) that fired.
Assess = Callable[[Sequence[str], Vectors], Sequence[tuple[str, tuple[str, ...]]]]
# Given a guild and its records, return external id -> skip reason for records that must not be
# stored at all (e.g. a member who excluded themselves, a message its author deleted).
Gate = Callable[[int, Sequence[PostRecord]], Mapping[str, str]]

SKIP_CHANNEL_NOT_ENABLED = "channel_not_enabled"


@dataclass(frozen=True)
class _Pending:
    post_id: int
    guild_id: int
    text: str
    digest: str
    post: Post | None = None  # set for posts of this ingest call, whose flags are reported


class Ingestor:
    """Validates and stores posts, then embeds and indexes what changed."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        settings: IngestSettings,
        assess: Assess | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.assess = assess
        self.gates: list[Gate] = []

    def ingest(
        self, records: Sequence[PostRecord], progress: Progress | None = None
    ) -> IngestReport:
        report = IngestReport()
        size = self.settings.batch_size
        for start in range(0, len(records), size):
            batch = records[start : start + size]
            report.merge(self._ingest_batch(batch))
            if progress is not None:
                progress(len(batch))
        return report

    def _ingest_batch(self, batch: Sequence[PostRecord]) -> IngestReport:
        report = IngestReport(received=len(batch))
        pending: list[_Pending] = []
        touched: list[Post] = []
        changed: list[Post] = []
        # Gates (consent, tombstones) and the upsert run under the one writer lock, so a member's
        # delete cannot slip between the check and the write.
        with self.store.lock:
            accepted = self._validate(batch, report)
            if not accepted:
                return report
            touched, changed, pending, conditions = self._store_batch(accepted, report)
        for guild_id in {p.guild_id for p in touched}:
            self.store.apply_committed(guild_id, [p for p in touched if p.guild_id == guild_id])
            mine = {p.id: conditions[p.id] for p in changed if p.guild_id == guild_id and p.id}
            self.store.apply_conditions(guild_id, mine)
        embedded, flags = self._embed(pending)
        report.embedded += embedded
        report.flagged.extend(flags)
        return report

    def _store_batch(
        self, accepted: list[tuple[PostRecord, CleanText]], report: IngestReport
    ) -> tuple[list[Post], list[Post], list[_Pending], dict[int, dict[str, float]]]:
        touched: list[Post] = []
        changed: list[Post] = []
        with self.store.write() as session:
            for guild_id in sorted({r.guild_id for r, _ in accepted}):
                group = [(r, c) for r, c in accepted if r.guild_id == guild_id]
                touched.extend(self._upsert(session, guild_id, group, report, changed))
            session.flush()
            conditions = self.store.write_conditions(session, changed)
            pending = self._needing_vectors(session, touched)
        return touched, changed, pending, conditions

    def _validate(
        self, batch: Sequence[PostRecord], report: IngestReport
    ) -> list[tuple[PostRecord, CleanText]]:
        enabled: dict[int, set[int]] = {}
        latest: dict[tuple[int, str], tuple[PostRecord, CleanText]] = {}
        blocked = self._blocked(batch)
        for record in batch:
            reason = blocked.get((record.guild_id, record.external_id))
            if reason is not None:
                report.skipped.append(Skip(record.external_id, reason))
                continue
            if record.guild_id not in enabled:
                enabled[record.guild_id] = self.store.enabled_channel_ids(record.guild_id)
            if record.channel_id not in enabled[record.guild_id]:
                report.skipped.append(Skip(record.external_id, SKIP_CHANNEL_NOT_ENABLED))
                continue
            try:
                clean = clean_post_text(record.text, self.settings.max_post_chars)
            except InvalidInput as exc:
                report.skipped.append(Skip(record.external_id, exc.reason))
                continue
            report.truncated += int(clean.truncated)
            latest[(record.guild_id, record.external_id)] = (record, clean)
        return list(latest.values())

    def _blocked(self, batch: Sequence[PostRecord]) -> dict[tuple[int, str], str]:
        out: dict[tuple[int, str], str] = {}
        for guild_id in {r.guild_id for r in batch}:
            mine = [r for r in batch if r.guild_id == guild_id]
            for gate in self.gates:
                for external_id, reason in gate(guild_id, mine).items():
                    out.setdefault((guild_id, external_id), reason)
        return out

    def _upsert(
        self,
        session: Session,
        guild_id: int,
        group: list[tuple[PostRecord, CleanText]],
        report: IngestReport,
        changed: list[Post],
    ) -> list[Post]:
        session.execute(sqlite_insert(Guild).values(id=guild_id).on_conflict_do_nothing())
        members = {(r.author_id, r.author_handle) for r, _ in group}
        for author_id, handle in members:
            stmt = sqlite_insert(Member).values(guild_id=guild_id, user_id=author_id, handle=handle)
            session.execute(stmt.on_conflict_do_nothing())
        ids = [r.external_id for r, _ in group]
        query = select(Post).where(Post.guild_id == guild_id, col(Post.external_id).in_(ids))
        existing = {p.external_id: p for p in session.exec(query).all()}
        touched: list[Post] = []
        for record, clean in group:
            digest = content_hash(clean.text)
            post = existing.get(record.external_id)
            if post is None:
                post = Post(
                    guild_id=guild_id,
                    external_id=record.external_id,
                    channel_id=record.channel_id,
                    thread_id=record.thread_id,
                    author_id=record.author_id,
                    reply_to=record.reply_to,
                    kind=record.kind,
                    created_at=record.created_at,
                    edited_at=record.edited_at,
                    content=clean.text,
                    content_hash=digest,
                    truncated=clean.truncated,
                )
                report.inserted += 1
                changed.append(post)
            elif post.content_hash != digest:
                post.content, post.content_hash, post.truncated = (
                    clean.text,
                    digest,
                    clean.truncated,
                )
                post.edited_at = record.edited_at or utcnow()
                post.crisis_level = "none"
                report.updated += 1
                changed.append(post)
            else:
                report.unchanged += 1
            post.channel_id, post.thread_id = record.channel_id, record.thread_id
            session.add(post)
            touched.append(post)
        return touched

    def _needing_vectors(self, session: Session, posts: list[Post]) -> list[_Pending]:
        ids = [p.id for p in posts if p.id is not None]
        query = select(PostVector.post_id, PostVector.content_hash).where(
            col(PostVector.post_id).in_(ids), PostVector.model == self.embedder.name
        )
        current = {int(pid): digest for pid, digest in session.exec(query).all()}
        return [
            _Pending(p.id, p.guild_id, p.content, p.content_hash, p)
            for p in posts
            if p.id is not None and current.get(p.id) != p.content_hash
        ]

    def _embed(self, pending: list[_Pending]) -> tuple[int, list[Flag]]:
        if not pending:
            return 0, []
        vectors = self.embedder.encode([p.text for p in pending])
        verdicts = list(self.assess([p.text for p in pending], vectors)) if self.assess else None
        levels = [level for level, _ in verdicts] if verdicts is not None else None
        flags = [
            Flag(
                p.guild_id,
                p.post.external_id,
                p.post.channel_id,
                p.post.thread_id,
                p.post.author_id,
                level,
                reasons,
            )
            for p, (level, reasons) in zip(pending, verdicts or [], strict=False)
            if p.post is not None and level != "none"
        ]
        written: list[tuple[_Pending, int]] = []
        with self.store.write() as session:
            hashes = dict(
                session.exec(
                    select(Post.id, Post.content_hash).where(
                        col(Post.id).in_([p.post_id for p in pending])
                    )
                ).all()
            )
            for row, item in enumerate(pending):
                if hashes.get(item.post_id) != item.digest:
                    continue  # edited or deleted meanwhile; a later pass embeds the new text
                vector = PostVector(
                    post_id=item.post_id,
                    content_hash=item.digest,
                    model=self.embedder.name,
                    vector=np.ascontiguousarray(vectors[row], dtype=np.float32).tobytes(),
                )
                session.merge(vector)
                if levels is not None:
                    post = session.get(Post, item.post_id)
                    if post is not None and post.crisis_level != levels[row]:
                        post.crisis_level = levels[row]
                        session.add(post)
                written.append((item, row))
            flagged = (
                self._changed_posts(session, [i.post_id for i, _ in written]) if levels else []
            )
        with self.store.lock:
            for guild_id in {item.guild_id for item, _ in written}:
                mine = [(item, row) for item, row in written if item.guild_id == guild_id]
                self.store.vector_index(guild_id).add(
                    [item.post_id for item, _ in mine],
                    vectors[[row for _, row in mine]],
                    [item.digest for item, _ in mine],
                )
            for guild_id in {p.guild_id for p in flagged}:
                self.store.apply_committed(guild_id, [p for p in flagged if p.guild_id == guild_id])
        return len(written), flags

    @staticmethod
    def _changed_posts(session: Session, post_ids: list[int]) -> list[Post]:
        return list(session.exec(select(Post).where(col(Post.id).in_(post_ids))).all())

    def catch_up(self, guild_id: int | None = None, progress: Progress | None = None) -> int:
        """Embed every stored post that has no current vector (after a crash or a model change)."""
        query = (
            select(Post.id, Post.guild_id, Post.content, Post.content_hash)
            .outerjoin(
                PostVector,
                (col(PostVector.post_id) == col(Post.id))
                & (PostVector.model == self.embedder.name),
            )
            .where(
                (col(PostVector.post_id).is_(None)) | (PostVector.content_hash != Post.content_hash)
            )
        )
        if guild_id is not None:
            query = query.where(Post.guild_id == guild_id)
        with self.store.session() as session:
            rows = session.exec(query).all()
            todo = [_Pending(int(i or 0), int(g), t, h) for i, g, t, h in rows]
        done = 0
        for start in range(0, len(todo), self.settings.batch_size):
            chunk = todo[start : start + self.settings.batch_size]
            done += self._embed(chunk)[0]
            if progress is not None:
                progress(len(chunk))
        if todo:
            log.info("caught up %d post vectors", done)
        return done
