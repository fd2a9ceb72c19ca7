"""The moderators' side of crisis handling: per-guild settings, alerts, throttling and claims.

The bot decides nothing here: it asks `open_alert` what to do for a flagged post (answer the
member? notify moderators?), records the alert message it posted, and records who pressed
"I'm on it". It also asks which alerts nobody claimed in time (`due_for_escalation`, raised again
once: `mark_escalated`) and which guilds are due their daily digest of unclaimed alerts
(`digests_due`, `mark_digest_sent`). State lives in SQL, so throttling, claims, escalations and
digests survive a restart; every clock is injected.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from knowledge.config import CrisisResponseSettings
from knowledge.errors import InvalidInput, NotFound
from knowledge.records import Flag
from knowledge.store.models import GuildSafety, SafetyAlert, utcnow
from knowledge.store.store import Store

log = logging.getLogger(__name__)

CRISIS, CONCERN = "crisis", "concern"
REPLY_MODES = ("channel", "dm")
DIGEST_EVERY = timedelta(days=1)
DIGEST_MAX = 20  # alerts listed in one digest or `/safety show` (the rest are counted)


@dataclass(frozen=True)
class GuildSafetyConfig:
    """A guild's effective crisis-response settings (its own choices over the defaults)."""

    guild_id: int
    moderator_channel_id: int | None
    moderator_role_id: int | None
    reply_mode: str
    concern_alerts: bool
    resources: str
    escalation_channel_id: int | None = None
    escalation_role_id: int | None = None

    @property
    def alerts_configured(self) -> bool:
        return self.moderator_channel_id is not None

    @property
    def escalation_target(self) -> tuple[int | None, int | None]:
        """(channel, role) for an alert raised again: the second channel or role when set,
        otherwise the moderator channel and role."""
        return (
            self.escalation_channel_id or self.moderator_channel_id,
            self.escalation_role_id or self.moderator_role_id,
        )


@dataclass(frozen=True)
class OpenAlert:
    """An alert nobody has claimed, as a digest or `/safety show` lists it: where and how old,
    never the member's words."""

    alert_id: int
    guild_id: int
    place_id: int  # the thread, else the channel
    external_id: str
    level: str
    reported: bool
    created_at: datetime
    alert_message_id: int | None
    escalated: bool

    def age(self, now: datetime) -> timedelta:
        return now - _aware(self.created_at)


@dataclass(frozen=True)
class Digest:
    """One guild's daily list of unclaimed alerts (`total` may exceed the alerts listed)."""

    guild_id: int
    channel_id: int
    alerts: list[OpenAlert]
    total: int


@dataclass(frozen=True)
class AlertDecision:
    """What the bot should do about one flagged post."""

    alert_id: int
    level: str
    reply_to_member: bool
    notify_moderators: bool
    ping_role_id: int | None


class SafetyDesk:
    """Settings, alert records and claims for crisis handling."""

    def __init__(self, store: Store, settings: CrisisResponseSettings) -> None:
        self.store = store
        self.settings = settings

    def config(self, guild_id: int) -> GuildSafetyConfig:
        with self.store.session() as session:
            row = session.get(GuildSafety, guild_id)
        d = self.settings
        return GuildSafetyConfig(
            guild_id=guild_id,
            moderator_channel_id=row.moderator_channel_id if row else None,
            moderator_role_id=row.moderator_role_id if row else None,
            reply_mode=(row.reply_mode if row and row.reply_mode else d.reply_mode),
            concern_alerts=(
                row.concern_alerts if row and row.concern_alerts is not None else d.concern_alerts
            ),
            resources=(row.resources if row and row.resources else d.resources),
            escalation_channel_id=row.escalation_channel_id if row else None,
            escalation_role_id=row.escalation_role_id if row else None,
        )

    def configure(
        self,
        guild_id: int,
        by: int,
        *,
        moderator_channel_id: int | None = None,
        moderator_role_id: int | None = None,
        reply_mode: str | None = None,
        concern_alerts: bool | None = None,
        resources: str | None = None,
        escalation_channel_id: int | None = None,
        escalation_role_id: int | None = None,
    ) -> GuildSafetyConfig:
        """Change the given settings (None leaves a setting as it is)."""
        if reply_mode is not None and reply_mode not in REPLY_MODES:
            raise InvalidInput("bad_reply_mode", f"reply mode must be one of {REPLY_MODES}")
        if resources is not None and not resources.strip():
            raise InvalidInput("empty_resources", "crisis resources cannot be empty")
        with self.store.write() as session:
            row = session.get(GuildSafety, guild_id) or GuildSafety(guild_id=guild_id)
            changes = {
                "moderator_channel_id": moderator_channel_id,
                "moderator_role_id": moderator_role_id,
                "reply_mode": reply_mode,
                "concern_alerts": concern_alerts,
                "resources": resources.strip() if resources else None,
                "escalation_channel_id": escalation_channel_id,
                "escalation_role_id": escalation_role_id,
            }
            for name, value in changes.items():
                if value is not None:
                    setattr(row, name, value)
            row.updated_at, row.updated_by = utcnow(), by
            session.add(row)
        log.info("guild %s: crisis response settings changed by %s", guild_id, by)
        return self.config(guild_id)

    def open_alert(
        self,
        flag: Flag,
        *,
        posted_at: datetime | None = None,
        reported_by: int | None = None,
        now: datetime | None = None,
    ) -> AlertDecision:
        """Record an alert for a flagged (or reported) post and decide who hears about it."""
        now = now or datetime.now(UTC)
        config = self.config(flag.guild_id)
        recent = posted_at is None or now - _aware(posted_at) <= timedelta(
            hours=self.settings.alert_recent_hours
        )
        reported = reported_by is not None
        wanted = (
            reported or flag.level == CRISIS or (flag.level == CONCERN and config.concern_alerts)
        )
        reply = flag.level == CRISIS and recent and not reported
        with self.store.write() as session:  # check and record under the one writer lock
            notify = (
                wanted
                and recent
                and config.alerts_configured
                and (reported or not self._notified_recently(session, flag, now))
            )
            alert = SafetyAlert(
                guild_id=flag.guild_id,
                channel_id=flag.channel_id,
                thread_id=flag.thread_id,
                external_id=flag.external_id,
                author_id=flag.author_id,
                level=flag.level,
                reasons=json.dumps(list(flag.reasons)),
                source="report" if reported else "detected",
                reported_by=reported_by,
                notified=notify,
                created_at=now,
            )
            session.add(alert)
            session.flush()
            assert alert.id is not None
            alert_id = alert.id
        log.info(
            "guild %s: %s alert %s (notify=%s reply=%s)",
            flag.guild_id,
            flag.level,
            alert_id,
            notify,
            reply,
        )
        ping = config.moderator_role_id if notify and flag.level == CRISIS else None
        return AlertDecision(alert_id, flag.level, reply, notify, ping)

    def _notified_recently(self, session: Session, flag: Flag, now: datetime) -> bool:
        since = now - timedelta(seconds=self.settings.alert_window_seconds)
        query = (
            select(sa.func.count())
            .select_from(SafetyAlert)
            .where(
                SafetyAlert.guild_id == flag.guild_id,
                SafetyAlert.author_id == flag.author_id,
                col(SafetyAlert.notified).is_(True),
                col(SafetyAlert.created_at) >= since,
            )
        )
        return int(session.exec(query).one()) > 0

    def set_alert_message(self, alert_id: int, message_id: int) -> None:
        with self.store.write() as session:
            alert = session.get(SafetyAlert, alert_id)
            if alert is not None:
                alert.alert_message_id = message_id
                session.add(alert)

    def alert(self, alert_id: int) -> SafetyAlert:
        with self.store.session() as session:
            alert = session.get(SafetyAlert, alert_id)
        if alert is None:
            raise NotFound("that alert no longer exists")
        return alert

    def claim(self, alert_id: int, moderator_id: int) -> tuple[SafetyAlert, bool]:
        """Record who took an alert; the first claim wins. Returns the alert and whether it was
        this call that claimed it."""
        with self.store.write() as session:
            alert = session.get(SafetyAlert, alert_id)
            if alert is None:
                raise NotFound("that alert no longer exists")
            first = alert.claimed_by is None
            if first:
                alert.claimed_by, alert.claimed_at = moderator_id, utcnow()
                session.add(alert)
        log.info("alert %s claimed by %s (first=%s)", alert_id, moderator_id, first)
        return alert, first

    # -- alerts nobody answered --------------------------------------------------------------------

    def due_for_escalation(self, now: datetime) -> list[SafetyAlert]:
        """Alerts moderators were told of that nobody claimed within `escalate_after_minutes`
        and that were not raised again yet: crisis alerts and members' reports (quiet concern
        alerts wait for the digest)."""
        cutoff = now - timedelta(minutes=self.settings.escalate_after_minutes)
        query = (
            select(SafetyAlert)
            .where(
                col(SafetyAlert.notified).is_(True),
                col(SafetyAlert.claimed_by).is_(None),
                col(SafetyAlert.escalated_at).is_(None),
                col(SafetyAlert.created_at) <= cutoff,
                sa.or_(col(SafetyAlert.level) == CRISIS, col(SafetyAlert.source) == "report"),
            )
            .order_by(col(SafetyAlert.id))
        )
        with self.store.session() as session:
            return list(session.exec(query).all())

    def mark_escalated(self, alert_id: int, now: datetime) -> bool:
        """Record that an alert was raised again; False when it was already (or is claimed), so
        two callers never raise it twice."""
        with self.store.write() as session:
            alert = session.get(SafetyAlert, alert_id)
            if alert is None or alert.escalated_at is not None or alert.claimed_by is not None:
                return False
            alert.escalated_at = now
            session.add(alert)
        log.info("alert %s raised again (unclaimed)", alert_id)
        return True

    def open_alerts(self, guild_id: int, *, older_than: datetime | None = None) -> list[OpenAlert]:
        """The guild's unclaimed alerts that moderators were told of, oldest first."""
        query = select(SafetyAlert).where(
            SafetyAlert.guild_id == guild_id,
            col(SafetyAlert.notified).is_(True),
            col(SafetyAlert.claimed_by).is_(None),
        )
        if older_than is not None:
            query = query.where(col(SafetyAlert.created_at) <= older_than)
        with self.store.session() as session:
            rows = session.exec(query.order_by(col(SafetyAlert.created_at))).all()
        return [_open_alert(row) for row in rows]

    def digests_due(self, now: datetime) -> list[Digest]:
        """For each guild with a moderator channel whose last digest is a day old (or never
        sent): its unclaimed alerts older than the escalation delay, if there are any."""
        cutoff = now - timedelta(minutes=self.settings.escalate_after_minutes)
        with self.store.session() as session:
            guilds = session.exec(
                select(GuildSafety).where(col(GuildSafety.moderator_channel_id).is_not(None))
            ).all()
        digests = []
        for row in guilds:
            if not _digest_due(row.digest_sent_at, now):
                continue
            alerts = self.open_alerts(row.guild_id, older_than=cutoff)
            if alerts and row.moderator_channel_id is not None:
                digests.append(
                    Digest(row.guild_id, row.moderator_channel_id, alerts[:DIGEST_MAX], len(alerts))
                )
        return digests

    def mark_digest_sent(self, guild_id: int, now: datetime) -> bool:
        """Record today's digest; False when it was already sent, so it goes out once a day."""
        with self.store.write() as session:
            row = session.get(GuildSafety, guild_id)
            if row is None or not _digest_due(row.digest_sent_at, now):
                return False
            row.digest_sent_at = now
            session.add(row)
        return True

    def reasons(self, alert: SafetyAlert) -> list[str]:
        return [str(r) for r in json.loads(alert.reasons or "[]")]


def _digest_due(sent_at: datetime | None, now: datetime) -> bool:
    return sent_at is None or now - _aware(sent_at) >= DIGEST_EVERY


def _open_alert(row: SafetyAlert) -> OpenAlert:
    assert row.id is not None
    return OpenAlert(
        alert_id=row.id,
        guild_id=row.guild_id,
        place_id=row.thread_id or row.channel_id,
        external_id=row.external_id,
        level=row.level,
        reported=row.source == "report",
        created_at=_aware(row.created_at),
        alert_message_id=row.alert_message_id,
        escalated=row.escalated_at is not None,
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
