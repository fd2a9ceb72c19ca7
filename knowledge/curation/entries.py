"""Curated knowledge-base entries: moderators' answers, indexed like posts and ranked first.

An entry is a `KnowledgeEntry` row (the truth) and one curated `Post` (`kb:<id>`, author
`CURATED_AUTHOR`, in the source channel so channel permissions still apply) stored through the
normal ingest path, so full text, faiss and condition tags work as for any post. The post holds
only the moderator's words (title, question, answer, condition names), never the member's quote,
so when the quote, source and credit are scrubbed (`TableSpec.scrub`) the index is already clean.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import col, select

from knowledge.conditions import ConditionTagger
from knowledge.errors import ChannelNotEnabled, InvalidInput, NotFound
from knowledge.ingest import CURATED_ID_PREFIX
from knowledge.records import IngestReport, PostRecord
from knowledge.store.models import KnowledgeEntry, PostKind, utcnow
from knowledge.store.store import Store

log = logging.getLogger(__name__)

CURATED_LABEL = "Curated by moderators · peer experience, not medical advice"
CURATED_PREFIX = CURATED_ID_PREFIX
CURATED_AUTHOR = 0  # no member: curated posts are the moderators' words
TITLE_CHARS = 200
TEXT_CHARS = 4000
QUOTE_CHARS = 2000

Ingest = Callable[[Sequence[PostRecord]], IngestReport]
Remove = Callable[[int, Sequence[str]], int]


def curated_external_id(entry_id: int) -> str:
    return f"{CURATED_PREFIX}{entry_id}"


def entry_id_of(external_id: str) -> int | None:
    """The entry id of a curated post's external id (`kb:<id>`), else None."""
    if not external_id.startswith(CURATED_PREFIX):
        return None
    tail = external_id.removeprefix(CURATED_PREFIX)
    return int(tail) if tail.isdigit() else None


@dataclass(frozen=True)
class EntryDraft:
    """What a moderator writes: title, the question it answers, the answer, condition ids."""

    title: str
    answer: str
    question: str = ""
    conditions: tuple[str, ...] = ()


@dataclass(frozen=True)
class EntrySource:
    """Where an entry came from: the channel (required: it decides who can see the entry), and
    the member's message, its author and their words (each optional)."""

    channel_id: int
    external_id: str | None = None
    author_id: int | None = None
    quote: str | None = None


@dataclass(frozen=True)
class Entry:
    """An entry as callers see it."""

    id: int
    guild_id: int
    title: str
    question: str
    answer: str
    conditions: tuple[str, ...]
    source_channel_id: int
    source_external_id: str | None
    source_author_id: int | None
    quote: str | None
    credit: bool
    retired: bool
    created_by: int | None
    updated_by: int | None
    created_at: datetime
    updated_at: datetime
    post_id: int | None = None
    label: str = field(default=CURATED_LABEL)

    @property
    def external_id(self) -> str:
        return curated_external_id(self.id)

    @property
    def credited_author_id(self) -> int | None:
        """The source author, only when they agreed to be credited."""
        return self.source_author_id if self.credit else None


def _entry(row: KnowledgeEntry) -> Entry:
    assert row.id is not None
    return Entry(
        id=row.id,
        guild_id=row.guild_id,
        title=row.title,
        question=row.question,
        answer=row.answer,
        conditions=tuple(json.loads(row.conditions or "[]")),
        source_channel_id=row.source_channel_id,
        source_external_id=row.source_external_id,
        source_author_id=row.source_author_id,
        quote=row.quote,
        credit=row.credit,
        retired=row.retired,
        created_by=row.created_by,
        updated_by=row.updated_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        post_id=row.post_id,
    )


class KnowledgeBase:
    """Create, edit, retire, read and index curated entries of a guild."""

    def __init__(
        self, store: Store, tagger: ConditionTagger, ingest: Ingest, remove: Remove
    ) -> None:
        self.store = store
        self.tagger = tagger
        self._ingest = ingest
        self._remove = remove

    # -- writes ------------------------------------------------------------------------------

    def create(
        self, guild_id: int, draft: EntryDraft, source: EntrySource, by: int | None
    ) -> Entry:
        """Store and index a new entry (`ChannelNotEnabled` if its channel is not indexed)."""
        clean = self._checked(draft)
        if source.channel_id not in self.store.enabled_channel_ids(guild_id):
            raise ChannelNotEnabled("entries live in a channel Kindred indexes")
        now = utcnow()
        row = KnowledgeEntry(
            guild_id=guild_id,
            title=clean.title,
            question=clean.question,
            answer=clean.answer,
            conditions=json.dumps(list(clean.conditions)),
            source_channel_id=source.channel_id,
            source_external_id=source.external_id,
            source_author_id=source.author_id if source.external_id else None,
            quote=(source.quote or "")[:QUOTE_CHARS] or None if source.external_id else None,
            credit=False,
            created_by=by,
            updated_by=by,
            created_at=now,
            updated_at=now,
        )
        with self.store.write() as session:
            session.add(row)
            session.flush()
            entry = _entry(row)
        return self._index(entry)

    def edit(
        self,
        guild_id: int,
        entry_id: int,
        by: int | None,
        *,
        title: str | None = None,
        question: str | None = None,
        answer: str | None = None,
        conditions: Sequence[str] | None = None,
    ) -> Entry:
        """Change the moderator's words (None = keep); the entry is indexed again."""
        old = self.get(guild_id, entry_id)
        draft = self._checked(
            EntryDraft(
                title=old.title if title is None else title,
                answer=old.answer if answer is None else answer,
                question=old.question if question is None else question,
                conditions=old.conditions if conditions is None else tuple(conditions),
            )
        )
        with self.store.write() as session:
            row = session.get(KnowledgeEntry, entry_id)
            if row is None or row.guild_id != guild_id:
                raise NotFound("that knowledge-base entry does not exist")
            row.title, row.question, row.answer = draft.title, draft.question, draft.answer
            row.conditions = json.dumps(list(draft.conditions))
            row.updated_by, row.updated_at = by, utcnow()
            session.add(row)
            entry = _entry(row)
        return entry if entry.retired else self._index(entry)

    def retire(self, guild_id: int, entry_id: int, by: int | None) -> bool:
        """Take an entry out of every result (its row stays, marked retired); False if it was."""
        entry = self.get(guild_id, entry_id)
        if entry.retired:
            return False
        with self.store.write() as session:
            row = session.get(KnowledgeEntry, entry_id)
            assert row is not None
            row.retired, row.post_id = True, None
            row.updated_by, row.updated_at = by, utcnow()
            session.add(row)
        self._remove(guild_id, [entry.external_id])
        return True

    def set_credit(self, guild_id: int, entry_id: int, member_id: int, credit: bool) -> Entry:
        """The source author's own choice to be credited (nobody else may set it)."""
        entry = self.get(guild_id, entry_id)
        if entry.source_author_id is None or entry.source_author_id != member_id:
            raise InvalidInput("not_the_author", "only the author of the reply can choose this")
        with self.store.write() as session:
            row = session.get(KnowledgeEntry, entry_id)
            assert row is not None
            row.credit = credit
            session.add(row)
            return _entry(row)

    def reindex(self, guild_id: int) -> int:
        """Index every live entry whose post is missing or stale (after an import); returns how
        many were (re)stored. Entries whose channel is not enabled are skipped."""
        enabled = self.store.enabled_channel_ids(guild_id)
        done = 0
        for entry in self.list_entries(guild_id):
            if entry.source_channel_id in enabled:
                self._index(entry)
                done += 1
        return done

    # -- reads --------------------------------------------------------------------------------

    def get(self, guild_id: int, entry_id: int) -> Entry:
        with self.store.session() as session:
            row = session.get(KnowledgeEntry, entry_id)
        if row is None or row.guild_id != guild_id:
            raise NotFound("that knowledge-base entry does not exist")
        return _entry(row)

    def list_entries(self, guild_id: int, *, include_retired: bool = False) -> list[Entry]:
        query = select(KnowledgeEntry).where(KnowledgeEntry.guild_id == guild_id)
        if not include_retired:
            query = query.where(col(KnowledgeEntry.retired).is_(False))
        with self.store.session() as session:
            rows = session.exec(query.order_by(col(KnowledgeEntry.id))).all()
        return [_entry(r) for r in rows]

    def titles(self, guild_id: int, prefix: str = "", limit: int = 25) -> list[tuple[int, str]]:
        """(id, title) of live entries whose title contains `prefix` (autocomplete)."""
        key = prefix.strip().lower()
        found = [(e.id, e.title) for e in self.list_entries(guild_id) if key in e.title.lower()]
        found.sort(key=lambda pair: (not pair[1].lower().startswith(key), pair[1].lower()))
        return found[:limit]

    def by_external_ids(self, guild_id: int, external_ids: Sequence[str]) -> dict[str, Entry]:
        """Entries behind curated search hits, by the hits' external ids (`kb:<id>`)."""
        ids = {entry_id_of(e) for e in external_ids} - {None}
        if not ids:
            return {}
        query = select(KnowledgeEntry).where(
            KnowledgeEntry.guild_id == guild_id, col(KnowledgeEntry.id).in_(sorted(ids))
        )
        with self.store.session() as session:
            rows = session.exec(query).all()
        return {curated_external_id(r.id): _entry(r) for r in rows if r.id is not None}

    def withheld(self, entry: Entry) -> str | None:
        """Why a live entry is not shown in results, or None: its post is missing (its channel
        is not indexed) or its words read as crisis language (never used to answer)."""
        if entry.retired:
            return "retired"
        post = self.store.find_post(entry.guild_id, entry.external_id)
        if post is None:
            return "not_indexed"
        return "crisis" if post.crisis_level == "crisis" else None

    def source_is_crisis(self, guild_id: int, external_id: str) -> bool:
        """Whether Kindred holds this message as a crisis-level post (never curated)."""
        post = self.store.find_post(guild_id, external_id)
        return post is not None and post.crisis_level == "crisis"

    def curated_sources(self, guild_id: int) -> set[str]:
        """Message ids live entries were built from (what `/kb suggest` leaves out)."""
        query = select(KnowledgeEntry.source_external_id).where(
            KnowledgeEntry.guild_id == guild_id,
            col(KnowledgeEntry.retired).is_(False),
            col(KnowledgeEntry.source_external_id).is_not(None),
        )
        with self.store.session() as session:
            return {str(e) for e in session.exec(query).all()}

    # -- helpers ------------------------------------------------------------------------------

    def _checked(self, draft: EntryDraft) -> EntryDraft:
        title, answer = draft.title.strip(), draft.answer.strip()
        if not title or not answer:
            raise InvalidInput("empty_entry", "an entry needs a title and an answer")
        if len(title) > TITLE_CHARS or len(answer) > TEXT_CHARS or len(draft.question) > TEXT_CHARS:
            raise InvalidInput("entry_too_long", "that entry is too long")
        unknown = [c for c in draft.conditions if c not in self.tagger.ids]
        if unknown:
            raise InvalidInput("unknown_condition", f"unknown condition: {unknown[0]}")
        conditions = tuple(dict.fromkeys(draft.conditions))
        return EntryDraft(title, answer, draft.question.strip(), conditions)

    def _text(self, entry: Entry) -> str:
        """What the curated post holds: the moderator's words and the conditions' names."""
        parts = [entry.title, entry.question, entry.answer]
        if entry.conditions:
            names = ", ".join(self.tagger.name(c) for c in entry.conditions)
            parts.append(f"Conditions: {names}")
        return "\n\n".join(p for p in parts if p)

    def _index(self, entry: Entry) -> Entry:
        record = PostRecord(
            guild_id=entry.guild_id,
            external_id=entry.external_id,
            channel_id=entry.source_channel_id,
            author_id=CURATED_AUTHOR,
            text=self._text(entry),
            created_at=utcnow(),  # indexed now: never refused as past retention
            kind=PostKind.CURATED,
        )
        report = self._ingest([record])
        if report.skipped:
            reasons = sorted({s.reason for s in report.skipped})
            log.warning("guild %s: entry %s not indexed: %s", entry.guild_id, entry.id, reasons)
            return entry
        post = self.store.find_post(entry.guild_id, entry.external_id)
        post_id = post.id if post is not None else None
        with self.store.write() as session:
            row = session.get(KnowledgeEntry, entry.id)
            if row is not None and row.post_id != post_id:
                row.post_id = post_id
                session.add(row)
        return Entry(**{**entry.__dict__, "post_id": post_id})
