"""Members own their data: consent checked on every read, gates on every write, export, deletion.

Per member and guild: `searchable` (others may find my posts in search and similar posts),
`matchable` (I may be suggested for an introduction; opt-in always) and `excluded` (never index my
posts). The guild's search mode decides what a member who never chose gets: `opt_in` (default,
nothing shown to others) or `opt_out` (shown unless they said no). A member always finds their own
posts. Logs carry ids and counts only.

Every removal here (a member's delete or exclusion, a message, retention) and in the service (a
message, thread, channel or guild) goes through the one erase path, `knowledge.privacy.erase`, by
way of `PrivacyManager.erase`, which also drops this manager's cached consent of the guild.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, select

from knowledge.errors import InvalidInput, NotFound
from knowledge.privacy import erase as erasing
from knowledge.privacy.erase import (
    DeleteReport,
    EraseReport,
    EraseTarget,
    GuildTarget,
    MemberTarget,
    MessagesTarget,
    OlderThanTarget,
)
from knowledge.privacy.export import PrivacySummary, export_member, summarize_member
from knowledge.privacy.state import OPT_IN, OPT_OUT, SEARCH_MODES, ConsentState
from knowledge.records import PostRecord
from knowledge.scope import SearchScope
from knowledge.store.models import (
    ConsentEvent,
    GuildPrivacy,
    MemberConsent,
    MemberNotice,
    PostTombstone,
    utcnow,
)
from knowledge.store.store import Store
from knowledge.store.upsert import insert_ignore

log = logging.getLogger(__name__)

SKIP_MEMBER_EXCLUDED = "member_excluded"
SKIP_DELETED_BY_MEMBER = "deleted_by_member"
SKIP_PAST_RETENTION = "past_retention"
_CHUNK = 500

__all__ = [
    "OPT_IN",
    "OPT_OUT",
    "SEARCH_MODES",
    "ConsentState",
    "DeleteReport",
    "EraseReport",
    "PrivacyManager",
    "PrivacySummary",
]


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
        self.changed(guild_id)
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
        self.changed(guild_id)
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

    # -- deletion ------------------------------------------------------------------------------

    def erase(
        self, target: EraseTarget, *, scrub_files: bool = True, vacuum: bool = False
    ) -> EraseReport:
        """Erase `target` through the one erase path, then drop the guild's cached consent."""
        try:
            return erasing.erase(self.store, target, scrub_files=scrub_files, vacuum=vacuum)
        finally:
            if isinstance(target, GuildTarget):  # no row may name a removed guild
                self.invalidate(target.guild_id)
            else:
                self.changed(target.guild_id)

    def delete_member(self, guild_id: int, member_id: int, *, vacuum: bool = False) -> DeleteReport:
        """Remove every row about the member in this guild from every store.

        Message ids are tombstoned (ids only) so a backfill cannot bring the posts back; their
        name is removed from records of changes they made. Refusals survive as a bare row
        without history (excluded, or searchable=False), so deleting never makes a member more
        visible than before; agreements (searchable, matchable) are removed.
        """
        target = MemberTarget(guild_id, member_id, tombstone=SKIP_DELETED_BY_MEMBER)
        report = self.erase(target, vacuum=vacuum)
        log.info(
            "guild %s: deleted member %s: %d posts, %d tombstones, wal_truncated=%s",
            guild_id,
            member_id,
            report.posts,
            report.tombstones,
            report.wal_truncated,
        )
        return report

    def delete_message(self, guild_id: int, external_id: str, *, by: int) -> DeleteReport:
        """Remove one message from every store; tombstone it when its author (`by`) asked.

        A moderator's removal is not tombstoned. Discord deleting the message needs no tombstone
        either (history no longer has it): the bot's on-delete path calls
        `KnowledgeService.delete_messages`, and a periodic `compact` scrubs those bytes.
        """
        post = self.store.find_post(guild_id, external_id)
        if post is None:
            raise NotFound("that message is not stored")
        reason = SKIP_DELETED_BY_MEMBER if post.author_id == by else None
        report = self.erase(MessagesTarget(guild_id, (external_id,), tombstone=reason))
        log.info(
            "guild %s: deleted %d message(s), %d tombstoned",
            guild_id,
            report.posts,
            report.tombstones,
        )
        return report

    def add_tombstones(self, guild_id: int, external_ids: Sequence[str], reason: str) -> int:
        """Mark messages (verified by the caller as the member's) as never to be indexed."""
        added = 0
        with self.store.write() as session:
            for external_id in external_ids:
                values = {
                    "guild_id": guild_id,
                    "external_id": external_id,
                    "reason": reason,
                    "created_at": utcnow(),
                }
                added += insert_ignore(session, PostTombstone, values, ["guild_id", "external_id"])
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
            report = self.erase(OlderThanTarget(gid, cutoff), scrub_files=False)
            if report.posts:
                touched.append(gid)
                total += report.posts
        if touched:
            erasing.scrub(self.store, touched)
        return total

    def compact(self, guild_ids: Sequence[int] = ()) -> bool:
        """Scrub after ordinary deletes (messages deleted on Discord); True once the database's
        copies of deleted rows are cleared (SQLite: WAL truncated; PostgreSQL: VACUUM ran)."""
        truncated, _ = erasing.scrub(self.store, list(guild_ids))
        return truncated

    # -- internals -------------------------------------------------------------------------------

    def changed(self, guild_id: int) -> None:
        """A guild's consent changed here: drop this cache, and tell other processes (the
        change log) so theirs follow within seconds instead of after `cache_seconds`."""
        self.invalidate(guild_id)
        self.store.changes.record_guild(guild_id)

    def invalidate(self, guild_id: int | None = None) -> None:
        with self._cache_lock:
            if guild_id is None:
                self._views.clear()
            else:
                self._views.pop(guild_id, None)

    def _delete_posts_of(self, guild_id: int, member_id: int, reason: str) -> DeleteReport:
        """Exclusion: what the member wrote or is called goes (posts, handle, alerts quoting
        them); their choices and history stay."""
        target = MemberTarget(guild_id, member_id, tombstone=reason, exclusion=True)
        report = self.erase(target)
        log.info(
            "guild %s: member %s excluded: %d posts removed", guild_id, member_id, report.posts
        )
        return report

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
