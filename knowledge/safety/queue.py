"""The moderators' queue of members' reports: one item per reported message, rate-limited filing.

A report of a message that already has an open (unresolved) report item joins that item (one
`AlertReport` row per reporter, one `SafetyAlert` for the message), so moderators are told once.
A member may file `reports.per_member_per_day` reports in 24 hours; past that the report is
refused and nothing is recorded or sent (report features get used to harass: the member being
reported, or the moderators). A moderator resolves an item (or hides the message and resolves
it); a resolved item also counts as claimed, so it is never raised again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from knowledge.config import ReportSettings
from knowledge.errors import NotFound
from knowledge.records import Flag
from knowledge.safety.desk import AlertDecision, SafetyDesk
from knowledge.store.models import AlertReport, AlertResolution, SafetyAlert, utcnow
from knowledge.store.store import Store

log = logging.getLogger(__name__)

REPORT_SOURCE = "report"
QUEUE_MAX = 20  # items one `/safety queue` page lists
Outcome = Literal["new", "merged", "repeat", "limited"]


@dataclass(frozen=True)
class FiledReport:
    """What became of a member's report: a `new` item (moderators are told as `decision` says),
    `merged` into an open item, a `repeat` of their own earlier report, or `limited`."""

    outcome: Outcome
    alert_id: int | None
    reporters: int
    decision: AlertDecision | None = None


@dataclass(frozen=True)
class ReportItem:
    """One open item of the queue: where, whose message, how many reported it (never who)."""

    alert_id: int
    guild_id: int
    channel_id: int
    thread_id: int | None
    external_id: str
    author_id: int
    level: str
    reporters: int
    created_at: datetime
    claimed_by: int | None
    alert_message_id: int | None

    @property
    def place_id(self) -> int:
        return self.thread_id or self.channel_id


class ReportQueue:
    """Files members' reports into one item per message and resolves items."""

    def __init__(self, store: Store, desk: SafetyDesk, settings: ReportSettings) -> None:
        self.store = store
        self.desk = desk
        self.settings = settings

    def file(self, flag: Flag, reporter_id: int, *, now: datetime | None = None) -> FiledReport:
        """Record a member's report of `flag`'s message (checks and writes under the one writer
        lock, so two reports of one message at once still make one item)."""
        now = now or datetime.now(UTC)
        with self.store.lock:
            with self.store.session() as session:
                item = self._open_item(session, flag.guild_id, flag.external_id)
                if (
                    item is not None
                    and item.id is not None
                    and session.get(AlertReport, (item.id, reporter_id)) is not None
                ):
                    return FiledReport("repeat", item.id, self._count(session, item.id))
                if self._filed_today(session, flag.guild_id, reporter_id, now) >= (
                    self.settings.per_member_per_day
                ):
                    log.info("guild %s: a member is over the report limit", flag.guild_id)
                    return FiledReport("limited", None, 0)
            if item is not None and item.id is not None:
                return self._join(item.id, flag.guild_id, reporter_id, now)
            decision = self.desk.open_alert(flag, reported_by=reporter_id, now=now)
            with self.store.write() as session:
                session.add(
                    AlertReport(
                        alert_id=decision.alert_id,
                        user_id=reporter_id,
                        guild_id=flag.guild_id,
                        created_at=now,
                    )
                )
        return FiledReport("new", decision.alert_id, 1, decision)

    def _join(self, alert_id: int, guild_id: int, reporter_id: int, now: datetime) -> FiledReport:
        with self.store.write() as session:
            session.add(
                AlertReport(
                    alert_id=alert_id, user_id=reporter_id, guild_id=guild_id, created_at=now
                )
            )
            session.flush()
            count = self._count(session, alert_id)
        log.info("guild %s: report joined item %s (%d reporters)", guild_id, alert_id, count)
        return FiledReport("merged", alert_id, count)

    def _open_item(self, session: Session, guild_id: int, external_id: str) -> SafetyAlert | None:
        resolved = select(AlertResolution.alert_id).where(AlertResolution.guild_id == guild_id)
        query = (
            select(SafetyAlert)
            .where(
                SafetyAlert.guild_id == guild_id,
                SafetyAlert.external_id == external_id,
                SafetyAlert.source == REPORT_SOURCE,
                col(SafetyAlert.id).not_in(resolved),
            )
            .order_by(col(SafetyAlert.id))
        )
        return session.exec(query).first()

    def _filed_today(self, session: Session, guild_id: int, user_id: int, now: datetime) -> int:
        since = now - timedelta(days=1)
        query = (
            select(sa.func.count())
            .select_from(AlertReport)
            .where(
                AlertReport.guild_id == guild_id,
                AlertReport.user_id == user_id,
                col(AlertReport.created_at) >= since,
            )
        )
        return int(session.exec(query).one())

    def _count(self, session: Session, alert_id: int) -> int:
        query = (
            select(sa.func.count()).select_from(AlertReport).where(AlertReport.alert_id == alert_id)
        )
        return max(1, int(session.exec(query).one()))

    def reporters(self, alert_id: int) -> int:
        """How many members reported an item's message (at least 1)."""
        with self.store.session() as session:
            return self._count(session, alert_id)

    def open_items(self, guild_id: int) -> list[ReportItem]:
        """The guild's unresolved report items, oldest first."""
        resolved = select(AlertResolution.alert_id).where(AlertResolution.guild_id == guild_id)
        reporters = (
            select(AlertReport.alert_id, sa.func.count().label("n"))
            .where(AlertReport.guild_id == guild_id)
            .group_by(col(AlertReport.alert_id))
            .subquery()
        )
        query = (
            select(SafetyAlert, reporters.c.n)
            .outerjoin(reporters, reporters.c.alert_id == SafetyAlert.id)
            .where(
                SafetyAlert.guild_id == guild_id,
                SafetyAlert.source == REPORT_SOURCE,
                col(SafetyAlert.id).not_in(resolved),
            )
            .order_by(col(SafetyAlert.created_at), col(SafetyAlert.id))
        )
        with self.store.session() as session:
            rows = session.exec(query).all()
        return [_item(alert, int(n or 1)) for alert, n in rows]

    def resolve(self, guild_id: int, alert_id: int, by: int, action: str = "resolved") -> bool:
        """Take an item off the queue (`resolved` or `hidden`); False when it already was.
        An unclaimed item is claimed by the moderator too, so it is never raised again."""
        with self.store.write() as session:
            alert = session.get(SafetyAlert, alert_id)
            if alert is None or alert.guild_id != guild_id or alert.source != REPORT_SOURCE:
                raise NotFound("that report is no longer in the queue")
            if session.get(AlertResolution, alert_id) is not None:
                return False
            session.add(
                AlertResolution(
                    alert_id=alert_id, guild_id=guild_id, action=action[:16], resolved_by=by
                )
            )
            if alert.claimed_by is None:
                alert.claimed_by, alert.claimed_at = by, utcnow()
                session.add(alert)
        log.info("guild %s: report item %s %s by %s", guild_id, alert_id, action, by)
        return True


def _item(alert: SafetyAlert, reporters: int) -> ReportItem:
    assert alert.id is not None
    created = alert.created_at if alert.created_at.tzinfo else alert.created_at.replace(tzinfo=UTC)
    return ReportItem(
        alert_id=alert.id,
        guild_id=alert.guild_id,
        channel_id=alert.channel_id,
        thread_id=alert.thread_id,
        external_id=alert.external_id,
        author_id=alert.author_id,
        level=alert.level,
        reporters=reporters,
        created_at=created,
        claimed_by=alert.claimed_by,
        alert_message_id=alert.alert_message_id,
    )
