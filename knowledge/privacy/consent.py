"""Members own their data: consent checked on every read, gates on every write, export, deletion.

Per member and guild: `searchable` (others may find my posts in search and similar posts),
`matchable` (I may be suggested for an introduction; opt-in always) and `excluded` (never index my
posts). The guild's search mode decides what a member who never chose gets: `opt_in` (default,
nothing shown to others) or `opt_out` (shown unless they said no). A member always finds their own
posts. Logs carry ids and counts only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import SQLModel, col, select

from knowledge.errors import InvalidInput, NotFound
from knowledge.privacy.erase import DeleteReport, purge_member_rows, purge_posts, scrub
from knowledge.privacy.export import PrivacySummary, export_member, summarize_member
from knowledge.records import PostRecord
from knowledge.scope import SearchScope
from knowledge.store.models import (
    ConsentEvent,
    GuildPrivacy,
    Member,
    MemberConsent,
    MemberNotice,
    Post,
    PostTombstone,
    utcnow,
)
from knowledge.store.store import Store

log = logging.getLogger(__name__)

OPT_IN = "opt_in"
OPT_OUT = "opt_out"
SEARCH_MODES = (OPT_IN, OPT_OUT)
SKIP_MEMBER_EXCLUDED = "member_excluded"
SKIP_DELETED_BY_MEMBER = "deleted_by_member"
SKIP_PAST_RETENTION = "past_retention"
PRIVACY_TABLE_NAMES = ("memberconsent", "consentevent", "posttombstone", "guildprivacy")
_POST = Post.__table__  # type: ignore[attr-defined]
_CHUNK = 500

__all__ = [
    "OPT_IN",
    "OPT_OUT",
    "ConsentState",
    "DeleteReport",
    "PrivacyManager",
    "PrivacySummary",
]


@dataclass(frozen=True)
class ConsentState:
    """A member's consent as it applies now (`searchable` already resolves the guild's mode)."""

    guild_id: int
    member_id: int
    searchable: bool
    searchable_choice: bool | None
    matchable: bool
    excluded: bool
    search_mode: str
    updated_at: datetime | None


@dataclass(frozen=True)
class _GuildView:
    """One guild's consent, cached: who said yes, who said no, who is excluded."""

    mode: str
    said_yes: frozenset[int]
    said_no: frozenset[int]
    excluded: frozenset[int]
    matchable: frozenset[int]
    retention_days: int | None
    loaded_at: float


class PrivacyManager:
    """Consent, search mode, retention, the read policy and ingest gate, export and deletion."""

    def __init__(
        self,
        store: Store,
        *,
        cache_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._views: dict[int, _GuildView] = {}
        self._cache_lock = threading.Lock()

    # -- the read policy and the ingest gate -----------------------------------------------------

    def read_policy(self, scope: SearchScope) -> SearchScope:
        """Narrow `scope` to the authors whose consent allows the asker to see their posts."""
        view = self._view(scope.guild_id)
        withheld = scope.withheld_author_ids | view.excluded
        if view.mode == OPT_OUT:
            return replace(scope, withheld_author_ids=withheld | view.said_no)
        consenting = view.said_yes - view.excluded
        if scope.consenting_author_ids is not None:
            consenting &= scope.consenting_author_ids
        return replace(scope, consenting_author_ids=consenting, withheld_author_ids=withheld)

    def ingest_gate(self, guild_id: int, records: Sequence[PostRecord]) -> dict[str, str]:
        """external id -> reason for records that must never be stored."""
        view = self._view(guild_id)
        blocked: dict[str, str] = {}
        for record in records:
            if record.author_id in view.excluded:
                blocked[record.external_id] = SKIP_MEMBER_EXCLUDED
        if view.retention_days is not None:
            oldest = utcnow() - timedelta(days=view.retention_days)
            for record in records:
                if _aware(record.created_at) < oldest:
                    blocked.setdefault(record.external_id, SKIP_PAST_RETENTION)
        wanted = sorted({r.external_id for r in records} - blocked.keys())
        for external_id in self._tombstoned(guild_id, wanted):
            blocked[external_id] = SKIP_DELETED_BY_MEMBER
        return blocked

    def matchable_member_ids(self, guild_id: int) -> frozenset[int]:
        """Members who agreed to be suggested for introductions (matching is opt-in always)."""
        view = self._view(guild_id)
        return view.matchable - view.excluded

    # -- consent ---------------------------------------------------------------------------------

    def first_contact(self, guild_id: int, member_id: int) -> bool:
        """Record that the member has been told what Kindred does; True only the first time."""
        with self.store.write() as session:
            if session.get(MemberNotice, (guild_id, member_id)) is not None:
                return False
            session.add(MemberNotice(guild_id=guild_id, user_id=member_id))
        return True

    def consent(self, guild_id: int, member_id: int) -> ConsentState:
        with self.store.session() as session:
            row = session.get(MemberConsent, (guild_id, member_id))
        mode = self.search_mode(guild_id)
        choice = row.searchable if row else None
        excluded = bool(row and row.excluded)
        default = mode == OPT_OUT
        return ConsentState(
            guild_id=guild_id,
            member_id=member_id,
            searchable=(default if choice is None else choice) and not excluded,
            searchable_choice=choice,
            matchable=bool(row and row.matchable) and not excluded,
            excluded=excluded,
            search_mode=mode,
            updated_at=row.updated_at if row else None,
        )

    def set_consent(
        self,
        guild_id: int,
        member_id: int,
        *,
        searchable: bool | None = None,
        matchable: bool | None = None,
        excluded: bool | None = None,
        by: int,
    ) -> ConsentState:
        """Change any of the three settings (None = leave as is); each change joins the history.

        Setting `excluded=True` also deletes everything stored from the member's posts and
        tombstones those messages, so a backfill never brings them back.
        """
        wanted = {"searchable": searchable, "matchable": matchable, "excluded": excluded}
        changes = {k: v for k, v in wanted.items() if v is not None}
        now = utcnow()
        with self.store.write() as session:
            row = session.get(MemberConsent, (guild_id, member_id)) or MemberConsent(
                guild_id=guild_id, user_id=member_id
            )
            changed = [k for k, v in changes.items() if getattr(row, k) != v]
            for setting in changed:
                setattr(row, setting, changes[setting])
                session.add(
                    ConsentEvent(
                        guild_id=guild_id,
                        user_id=member_id,
                        setting=setting,
                        value=changes[setting],
                        changed_by=by,
                        changed_at=now,
                    )
                )
            if changed:
                row.updated_at, row.updated_by = now, by
                session.add(row)
        self.invalidate(guild_id)
        log.info("guild %s: member %s consent changed: %s", guild_id, member_id, sorted(changed))
        if excluded:
            self._delete_posts_of(guild_id, member_id, SKIP_MEMBER_EXCLUDED)
        return self.consent(guild_id, member_id)

    def consent_history(self, guild_id: int, member_id: int) -> list[ConsentEvent]:
        query = (
            select(ConsentEvent)
            .where(ConsentEvent.guild_id == guild_id, ConsentEvent.user_id == member_id)
            .order_by(col(ConsentEvent.id))
        )
        with self.store.session() as session:
            return list(session.exec(query).all())

    # -- guild settings --------------------------------------------------------------------------

    def search_mode(self, guild_id: int) -> str:
        with self.store.session() as session:
            row = session.get(GuildPrivacy, guild_id)
        return row.search_mode if row else OPT_IN

    def set_search_mode(self, guild_id: int, mode: str, by: int) -> None:
        """Switch the guild between `opt_in` and `opt_out` (the time of the change is kept)."""
        if mode not in SEARCH_MODES:
            raise InvalidInput("bad_search_mode", f"search mode must be one of {SEARCH_MODES}")
        with self.store.write() as session:
            row = session.get(GuildPrivacy, guild_id) or GuildPrivacy(guild_id=guild_id)
            if row.search_mode != mode or row.mode_changed_at is None:
                row.search_mode, row.mode_changed_at, row.mode_changed_by = mode, utcnow(), by
                session.add(row)
        self.invalidate(guild_id)
        log.info("guild %s: search mode set to %s", guild_id, mode)

    def mode_changed_at(self, guild_id: int) -> datetime | None:
        with self.store.session() as session:
            row = session.get(GuildPrivacy, guild_id)
        return row.mode_changed_at if row else None

    def retention_days(self, guild_id: int) -> int | None:
        with self.store.session() as session:
            row = session.get(GuildPrivacy, guild_id)
        return row.retention_days if row else None

    def set_retention(self, guild_id: int, days: int | None, by: int | None = None) -> None:
        """Keep posts at most `days` days (None = keep until deleted)."""
        if days is not None and days < 1:
            raise InvalidInput("bad_retention", "retention must be at least one day")
        with self.store.write() as session:
            row = session.get(GuildPrivacy, guild_id) or GuildPrivacy(guild_id=guild_id)
            row.retention_days, row.retention_changed_at = days, utcnow()
            row.retention_changed_by = by
            session.add(row)
        self.invalidate(guild_id)
        log.info("guild %s: retention set to %s days", guild_id, days)

    # -- what we hold ----------------------------------------------------------------------------

    def summary(self, guild_id: int, member_id: int) -> PrivacySummary:
        """What Kindred holds about a member, in counts (for an ephemeral /privacy view)."""
        return summarize_member(
            self.store,
            guild_id,
            member_id,
            self.consent(guild_id, member_id),
            self.retention_days(guild_id),
        )

    def export(self, guild_id: int, member_id: int) -> dict[str, Any]:
        """Every row about the member in this guild, JSON-serialisable; nothing about others."""
        data = export_member(self.store, guild_id, member_id)
        log.info("guild %s: exported data of member %s", guild_id, member_id)
        return data

    # -- deletion --------------------------------------------------------------------------------

    def delete_member(self, guild_id: int, member_id: int, *, vacuum: bool = False) -> DeleteReport:
        """Remove the member's posts, member row, consent and history from every store.

        Message ids are tombstoned (no text) so a backfill cannot bring the posts back. Refusals
        survive as a bare row without history (excluded, or searchable=False), so deleting never
        makes a member more visible than before; agreements (searchable, matchable) are removed.
        """
        before = self.consent(guild_id, member_id)
        keep_no = before.searchable_choice is False
        with self.store.write() as session:
            ids, tombstones = purge_posts(
                session,
                guild_id,
                _POST.c.author_id == member_id,
                tombstone_reason=SKIP_DELETED_BY_MEMBER,
            )
            rows = purge_member_rows(session, guild_id, member_id)
            if before.excluded or keep_no:
                session.add(
                    MemberConsent(
                        guild_id=guild_id,
                        user_id=member_id,
                        excluded=before.excluded,
                        searchable=False if keep_no else None,
                    )
                )
        self.invalidate(guild_id)
        report = DeleteReport(posts=len(ids), rows=rows, tombstones=tombstones)
        self._finish(guild_id, ids, report, vacuum)
        log.info(
            "guild %s: deleted member %s: %d posts, rows %s, %d tombstones, wal_truncated=%s",
            guild_id,
            member_id,
            report.posts,
            report.rows,
            tombstones,
            report.wal_truncated,
        )
        return report

    def delete_message(self, guild_id: int, external_id: str, *, by: int) -> DeleteReport:
        """Remove one message from every store; tombstone it when its author (`by`) asked.

        A moderator's removal is not tombstoned. Discord deleting the message needs no tombstone
        either (history no longer has it): the bot's on-delete path calls
        `KnowledgeService.delete_messages`, and a periodic `compact` scrubs those bytes.
        """
        with self.store.session() as session:
            post = session.exec(
                select(Post).where(Post.guild_id == guild_id, Post.external_id == external_id)
            ).first()
        if post is None:
            raise NotFound("that message is not stored")
        reason = SKIP_DELETED_BY_MEMBER if post.author_id == by else None
        with self.store.write() as session:
            ids, tombstones = purge_posts(
                session, guild_id, _POST.c.id == post.id, tombstone_reason=reason
            )
        report = DeleteReport(posts=len(ids), tombstones=tombstones)
        self._finish(guild_id, ids, report, vacuum=False)
        log.info("guild %s: deleted %d message(s), %d tombstoned", guild_id, len(ids), tombstones)
        return report

    def add_tombstones(
        self, guild_id: int, member_id: int, external_ids: Sequence[str], reason: str
    ) -> int:
        """Mark messages (verified by the caller as the member's) as never to be indexed."""
        added = 0
        with self.store.write() as session:
            for external_id in external_ids:
                stmt = sqlite_insert(PostTombstone).values(
                    guild_id=guild_id,
                    external_id=external_id,
                    author_id=member_id,
                    reason=reason,
                    created_at=utcnow(),
                )
                result = session.execute(stmt.on_conflict_do_nothing())
                added += int(getattr(result, "rowcount", 0) or 0)
        return added

    def apply_retention(self, guild_id: int | None, now: datetime) -> int:
        """Delete posts older than their guild's retention from every store; returns how many."""
        query = select(GuildPrivacy).where(col(GuildPrivacy.retention_days).is_not(None))
        if guild_id is not None:
            query = query.where(GuildPrivacy.guild_id == guild_id)
        with self.store.session() as session:
            rules = [(r.guild_id, int(r.retention_days or 0)) for r in session.exec(query).all()]
        total = 0
        touched: list[int] = []
        for gid, days in rules:
            cutoff = _aware(now) - timedelta(days=days)
            with self.store.write() as session:
                ids, _ = purge_posts(session, gid, _POST.c.created_at < cutoff)
            self.store.forget_posts(gid, ids)
            if ids:
                touched.append(gid)
                total += len(ids)
                log.info("guild %s: retention removed %d posts", gid, len(ids))
        if touched:
            scrub(self.store, touched)
        return total

    def compact(self, guild_ids: Sequence[int] = ()) -> bool:
        """Scrub after ordinary deletes (messages deleted on Discord); True if the WAL truncated."""
        truncated, _ = scrub(self.store, list(guild_ids))
        return truncated

    def forget_guild(self, guild_id: int) -> None:
        """Drop every privacy row of a guild (the bot left it; posts are purged by the service)."""
        with self.store.write() as session:
            for name in PRIVACY_TABLE_NAMES:
                table = SQLModel.metadata.tables[name]
                session.execute(sa.delete(table).where(table.c.guild_id == guild_id))
        self.invalidate(guild_id)

    # -- internals -------------------------------------------------------------------------------

    def invalidate(self, guild_id: int | None = None) -> None:
        with self._cache_lock:
            if guild_id is None:
                self._views.clear()
            else:
                self._views.pop(guild_id, None)

    def _delete_posts_of(self, guild_id: int, member_id: int, reason: str) -> DeleteReport:
        """Exclusion: the member's posts and member row (handle) go; consent rows stay."""
        with self.store.write() as session:
            ids, tombstones = purge_posts(
                session, guild_id, _POST.c.author_id == member_id, tombstone_reason=reason
            )
            session.execute(
                sa.delete(Member).where(
                    col(Member.guild_id) == guild_id, col(Member.user_id) == member_id
                )
            )
        report = DeleteReport(posts=len(ids), tombstones=tombstones)
        self._finish(guild_id, ids, report, vacuum=False)
        log.info("guild %s: member %s excluded: %d posts removed", guild_id, member_id, len(ids))
        return report

    def _finish(self, guild_id: int, ids: list[int], report: DeleteReport, vacuum: bool) -> None:
        self.store.forget_posts(guild_id, ids)
        report.wal_truncated, report.vacuumed = scrub(self.store, [guild_id], vacuum=vacuum)

    def _view(self, guild_id: int) -> _GuildView:
        now = self._clock()
        with self._cache_lock:
            view = self._views.get(guild_id)
        if view is not None and now - view.loaded_at < self.cache_seconds:
            return view
        view = self._load_view(guild_id, now)
        with self._cache_lock:
            self._views[guild_id] = view
        return view

    def _load_view(self, guild_id: int, now: float) -> _GuildView:
        with self.store.session() as session:
            settings = session.get(GuildPrivacy, guild_id)
            rows = session.exec(
                select(MemberConsent).where(MemberConsent.guild_id == guild_id)
            ).all()
        return _GuildView(
            mode=settings.search_mode if settings else OPT_IN,
            said_yes=frozenset(r.user_id for r in rows if r.searchable is True),
            said_no=frozenset(r.user_id for r in rows if r.searchable is False),
            excluded=frozenset(r.user_id for r in rows if r.excluded),
            matchable=frozenset(r.user_id for r in rows if r.matchable),
            retention_days=settings.retention_days if settings else None,
            loaded_at=now,
        )

    def _tombstoned(self, guild_id: int, external_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with self.store.session() as session:
            for start in range(0, len(external_ids), _CHUNK):
                chunk = list(external_ids[start : start + _CHUNK])
                query = select(PostTombstone.external_id).where(
                    PostTombstone.guild_id == guild_id, col(PostTombstone.external_id).in_(chunk)
                )
                found.update(str(e) for e in session.exec(query).all())
        return found


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
