"""The moderators' side of crisis handling: per-guild settings, alerts, throttling and claims.

The bot decides nothing here: it asks `open_alert` what to do for a flagged post (answer the
member? notify moderators?), records the alert message it posted, and records who pressed
"I'm on it". State lives in SQL, so throttling and claims survive a restart.
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


@dataclass(frozen=True)
class GuildSafetyConfig:
    """A guild's effective crisis-response settings (its own choices over the defaults)."""

    guild_id: int
    moderator_channel_id: int | None
    moderator_role_id: int | None
    reply_mode: str
    concern_alerts: bool
    resources: str

    @property
    def alerts_configured(self) -> bool:
        return self.moderator_channel_id is not None


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

    def reasons(self, alert: SafetyAlert) -> list[str]:
        return [str(r) for r in json.loads(alert.reasons or "[]")]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
