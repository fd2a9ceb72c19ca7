"""One ingest path for live messages, backfills and bulk loads: validate, upsert, embed, index.

Idempotent by (guild, external id): the same message updates its row, unchanged text is not embedded
again, an edit re-embeds. Each batch is one SQL transaction; a bad post becomes a recorded skip and
never costs the rest of its batch (fields are checked first, and a batch the database still refuses
is retried post by post). Vectors are written to SQL before faiss, so a crash at any point is
repaired by `catch_up`, which embeds whatever SQL holds without a current vector.

Two units of the store's one writer (`Store.lock`) per batch: (1) gates, upsert, commit, then the
catalog and condition vectors; (2) after encoding (outside the lock), a re-check that each post
still exists with the same content hash, the vector rows, commit, then faiss. No delete can land
between a commit and the in-memory state that mirrors it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, col, select

from knowledge.config import IngestSettings
from knowledge.embeddings import Embedder, Vectors
from knowledge.errors import InvalidInput
from knowledge.records import Flag, IngestReport, PostRecord, Skip
from knowledge.store.models import (
    EXTERNAL_ID_CHARS,
    Guild,
    HiddenMessage,
    Member,
    Post,
    PostKind,
    PostVector,
    utcnow,
)
from knowledge.store.store import Store
from knowledge.store.upsert import insert_ignore
from knowledge.text import CleanText, SkipReason, clean_post_text, content_hash

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
# Given texts and their vectors, return per text a safety level ("none", "concern", "crisis")
# and the reasons (phrases or signals, never the text) that fired.
Assess = Callable[[Sequence[str], Vectors], Sequence[tuple[str, tuple[str, ...]]]]
# Given a guild and its records, return external id -> skip reason for records that must not be
# stored at all (e.g. a member who excluded themselves, a message its author deleted).
Gate = Callable[[int, Sequence[PostRecord]], Mapping[str, str]]

SKIP_CHANNEL_NOT_ENABLED = "channel_not_enabled"
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
MAX_ID = 2**63 - 1  # BIGINT
_KINDS = frozenset(kind.value for kind in PostKind)
CURATED_ID_PREFIX = "kb:"  # the external ids of curated entries' posts (knowledge.curation)


@dataclass(frozen=True)
class _Pending:
    post_id: int
    guild_id: int
    text: str
    digest: str
    post: Post | None = None  # set for posts of this ingest call, whose flags are reported


BULK_POSTS = 64
"""An ingest call of at least this many posts is bulk work that steps aside for searches."""


class Ingestor:
    """Validates and stores posts, then embeds and indexes what changed."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        settings: IngestSettings,
        assess: Assess | None = None,
        gates: Sequence[Gate] = (),
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.assess = assess
        self.gates: tuple[Gate, ...] = tuple(gates)  # wired once, by whoever builds the ingestor

    def ingest(
        self, records: Sequence[PostRecord], progress: Progress | None = None
    ) -> IngestReport:
        report = IngestReport()
        size = self.settings.batch_size
        # Bulk work (a backfill, an import) lets searches go first; a live message never waits
        # for them (its crisis check must not be delayed).
        bulk = len(records) >= BULK_POSTS
        budget = self.settings.yield_budget_seconds if bulk else 0.0
        with contextlib.nullcontext() if bulk else self.store.readers.urgent():
            for start in range(0, len(records), size):
                batch = records[start : start + size]
                if bulk:
                    self.store.readers.pause_writer()  # no lock held: searches go first
                with self.store.readers.writing(budget=budget):
                    report.merge(self._ingest_batch(batch))
                if progress is not None:
                    progress(len(batch))
        return report

    def _ingest_batch(self, batch: Sequence[PostRecord]) -> IngestReport:
        report, pending = self._store_isolating(batch)
        embedded, flags = self._embed(pending)
        report.embedded += embedded
        report.flagged.extend(flags)
        return report

    def _store_isolating(self, batch: Sequence[PostRecord]) -> tuple[IngestReport, list[_Pending]]:
        """`_store_unit`; when the database refuses a post's values, the batch is stored post by
        post and the refused post alone becomes a skip (the transaction rolled back: nothing
        half-written, and the in-memory state only follows commits)."""
        try:
            return self._store_unit(batch)
        except _DATA_ERRORS as exc:
            if not _is_data_error(exc):
                raise
            if len(batch) == 1:
                problem = type(getattr(exc, "orig", None) or exc).__name__
                log.warning("a post the database refused (%s) was skipped", problem)
                skip = Skip(_printable_id(batch[0]), SkipReason.BAD_RECORD, detail=problem)
                return IngestReport(received=1, skipped=[skip]), []
        report, pending = IngestReport(), []
        for record in batch:
            one_report, one_pending = self._store_isolating([record])
            report.merge(one_report)
            pending.extend(one_pending)
        return report, pending

    def _store_unit(self, batch: Sequence[PostRecord]) -> tuple[IngestReport, list[_Pending]]:
        """One unit of the writer: gates (consent, tombstones), upsert and commit, then the
        catalog and condition vectors; a delete waits for all of it, or runs before any of it."""
        report = IngestReport(received=len(batch))
        with self.store.lock:
            accepted = self._validate(batch, report)
            if not accepted:
                return report, []
            touched, changed, pending, conditions = self._store_batch(accepted, report)
            for guild_id in sorted({p.guild_id for p in touched}):
                self.store.apply_committed(guild_id, [p for p in touched if p.guild_id == guild_id])
                mine = {p.id: conditions[p.id] for p in changed if p.guild_id == guild_id and p.id}
                self.store.apply_conditions(guild_id, mine)
        return report, pending

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
        checked: list[PostRecord] = []
        for given in batch:
            try:
                checked.append(checked_record(given))
            except InvalidInput as exc:
                report.skipped.append(Skip(_printable_id(given), exc.reason, detail=str(exc)))
        enabled: dict[int, set[int]] = {}
        latest: dict[tuple[int, str], tuple[PostRecord, CleanText]] = {}
        blocked = self._blocked(checked)
        for record in checked:
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
        insert_ignore(session, Guild, {"id": guild_id, "created_at": utcnow()}, ["id"])
        # A curated entry's post has no member as author (see knowledge.curation.entries).
        members = {(r.author_id, r.author_handle) for r, _ in group if r.kind != PostKind.CURATED}
        for author_id, handle in members:
            values = {
                "guild_id": guild_id,
                "user_id": author_id,
                "handle": handle,
                "first_seen_at": utcnow(),
            }
            insert_ignore(session, Member, values, ["guild_id", "user_id"])
        ids = [r.external_id for r, _ in group]
        query = select(Post).where(Post.guild_id == guild_id, col(Post.external_id).in_(ids))
        existing = {p.external_id: p for p in session.exec(query).all()}
        hidden = _hidden_ids(session, guild_id, [i for i in ids if i not in existing])
        touched: list[Post] = []
        for record, clean in group:
            self.store.readers.pause_writer()
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
                    hidden=record.external_id in hidden,  # a moderator hid it (curation)
                    curated=record.kind == PostKind.CURATED,  # a knowledge-base entry
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
        self.store.readers.pause_writer()
        vectors = self.embedder.encode([p.text for p in pending])
        self.store.readers.pause_writer()
        verdicts = list(self.assess([p.text for p in pending], vectors)) if self.assess else None
        self.store.readers.pause_writer()
        levels = [level for level, _ in verdicts] if verdicts is not None else None
        # One unit of the writer: re-check, write and commit the vectors, then faiss and the
        # catalog, before any delete may run. A post deleted or edited while it was being
        # encoded is left out (a later pass embeds the new text).
        with self.store.lock:
            written = self._write_vectors(pending, vectors, levels)
            flagged = self._changed_posts([i.post_id for i, _ in written]) if levels else []
            for guild_id in sorted({item.guild_id for item, _ in written}):
                mine = [(item, row) for item, row in written if item.guild_id == guild_id]
                self.store.add_vectors(
                    guild_id,
                    [item.post_id for item, _ in mine],
                    vectors[[row for _, row in mine]],
                    [item.digest for item, _ in mine],
                )
            for guild_id in sorted({p.guild_id for p in flagged}):
                self.store.apply_committed(guild_id, [p for p in flagged if p.guild_id == guild_id])
        # Only posts still stored are reported (no alert about a post its author just erased).
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
            for p, row in written
            if p.post is not None and verdicts is not None
            for level, reasons in [verdicts[row]]
            if level != "none"
        ]
        return len(written), flags

    def _write_vectors(
        self, pending: list[_Pending], vectors: Vectors, levels: list[str] | None
    ) -> list[tuple[_Pending, int]]:
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
                self.store.readers.pause_writer()
                if hashes.get(item.post_id) != item.digest:
                    continue  # edited or deleted while encoding
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
        return written

    def _changed_posts(self, post_ids: list[int]) -> list[Post]:
        with self.store.session() as session:
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


# -- the fields of a record ------------------------------------------------------------------------


def _hidden_ids(session: Session, guild_id: int, external_ids: list[str]) -> set[str]:
    """Which of these messages a moderator hid from Kindred (kept hidden when stored again)."""
    if not external_ids:
        return set()
    query = select(HiddenMessage.external_id).where(
        HiddenMessage.guild_id == guild_id, col(HiddenMessage.external_id).in_(external_ids)
    )
    return {str(e) for e in session.exec(query).all()}


def checked_record(record: PostRecord) -> PostRecord:
    """`record` with its dates in UTC, or InvalidInput with a skip reason (`SkipReason`) when a
    field cannot be stored as it is: ids are never truncated (two would merge), dates never
    guessed. A naive date is taken as UTC (as Discord and the file readers give UTC)."""
    external_id = record.external_id
    if not isinstance(external_id, str) or not external_id:
        raise InvalidInput(SkipReason.BAD_ID, "the message id is missing or not text")
    if len(external_id) > EXTERNAL_ID_CHARS:
        raise InvalidInput(
            SkipReason.ID_TOO_LONG, f"the message id is longer than {EXTERNAL_ID_CHARS} characters"
        )
    if record.reply_to is not None and (
        not isinstance(record.reply_to, str) or len(record.reply_to) > EXTERNAL_ID_CHARS
    ):
        raise InvalidInput(
            SkipReason.ID_TOO_LONG,
            f"the reply id is not text of at most {EXTERNAL_ID_CHARS} characters",
        )
    numbers = {
        "guild": record.guild_id,
        "channel": record.channel_id,
        "author": record.author_id,
        "thread": record.thread_id,
    }
    for name, value in numbers.items():
        if value is None and name == "thread":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
            raise InvalidInput(SkipReason.BAD_ID, f"the {name} id is not a 63-bit number")
    if not isinstance(record.kind, str) or record.kind not in _KINDS:
        raise InvalidInput(SkipReason.BAD_RECORD, "the post kind is not known")
    if (record.kind == PostKind.CURATED) != external_id.startswith(CURATED_ID_PREFIX):
        # `kb:<id>` names a curated entry's post and nothing else (a file cannot overwrite one)
        raise InvalidInput(SkipReason.BAD_ID, "that message id is reserved for curated entries")
    if record.author_handle is not None and not isinstance(record.author_handle, str):
        raise InvalidInput(SkipReason.BAD_RECORD, "the author's name is not text")
    created = _utc(record.created_at, "created_at")
    edited = None if record.edited_at is None else _utc(record.edited_at, "edited_at")
    return replace(record, created_at=created, edited_at=edited)


def _utc(moment: object, name: str) -> datetime:
    if not isinstance(moment, datetime):
        raise InvalidInput(SkipReason.BAD_DATE, f"{name} is not a date and time")
    try:
        utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise InvalidInput(SkipReason.BAD_DATE, f"{name} is out of range in UTC") from exc
    if utc < EARLIEST:
        raise InvalidInput(SkipReason.BAD_DATE, f"{name} is before 1970")
    return utc


def _printable_id(record: PostRecord) -> str:
    """The record's id for a skip report: never longer than the store would keep."""
    value = str(record.external_id)
    return value if len(value) <= EXTERNAL_ID_CHARS else value[: EXTERNAL_ID_CHARS - 1] + "…"


# Errors the database raises for a value it cannot store (not for a database that is unwell).
_DATA_ERRORS = (OverflowError, sa.exc.StatementError)


def _is_data_error(exc: BaseException) -> bool:
    if isinstance(exc, sa.exc.DataError):
        return True  # PostgreSQL: a value too long or out of range for its column
    if isinstance(exc, sa.exc.DBAPIError):
        return False  # integrity, operational, internal errors: the store refuses every post
    if isinstance(exc, sa.exc.StatementError):
        return isinstance(exc.orig, OverflowError | ValueError | TypeError)
    return isinstance(exc, OverflowError)
