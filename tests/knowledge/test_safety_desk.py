"""Crisis handling for moderators: settings, alert decisions, throttling, claims, privacy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from knowledge.errors import InvalidInput
from knowledge.records import Flag
from knowledge.safety.desk import SafetyDesk
from knowledge.service import KnowledgeService
from tests.conftest import GUILD

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
MOD_CHANNEL, MOD_ROLE, ADMIN = 900, 901, 1


def flag(author: int = 5, level: str = "crisis", ext: str = "m1") -> Flag:
    return Flag(GUILD, ext, 1, None, author, level, ("i want to end it tonight",))


@pytest.fixture
def desk(service: KnowledgeService) -> SafetyDesk:
    return service.safety_desk


@pytest.fixture
def staffed(desk: SafetyDesk) -> SafetyDesk:
    desk.configure(GUILD, ADMIN, moderator_channel_id=MOD_CHANNEL, moderator_role_id=MOD_ROLE)
    return desk


def test_defaults_list_international_resources_and_can_be_overridden(desk: SafetyDesk) -> None:
    config = desk.config(GUILD)
    assert not config.alerts_configured and config.reply_mode == "channel"
    assert "findahelpline.com" in config.resources and "112" in config.resources
    changed = desk.configure(GUILD, ADMIN, reply_mode="dm", resources="Call 0800 000 000")
    assert (changed.reply_mode, changed.resources) == ("dm", "Call 0800 000 000")
    with pytest.raises(InvalidInput):
        desk.configure(GUILD, ADMIN, reply_mode="carrier pigeon")


def test_without_a_moderator_channel_the_member_still_gets_resources(desk: SafetyDesk) -> None:
    decision = desk.open_alert(flag(), now=NOW)
    assert decision.reply_to_member and not decision.notify_moderators


def test_crisis_pings_the_role_concern_alerts_quietly(staffed: SafetyDesk) -> None:
    crisis = staffed.open_alert(flag(author=5), now=NOW)
    assert crisis.notify_moderators and crisis.reply_to_member and crisis.ping_role_id == MOD_ROLE
    concern = staffed.open_alert(flag(author=6, level="concern"), now=NOW)
    assert concern.notify_moderators and not concern.reply_to_member
    assert concern.ping_role_id is None
    staffed.configure(GUILD, ADMIN, concern_alerts=False)
    quiet = staffed.open_alert(flag(author=7, level="concern"), now=NOW)
    assert not quiet.notify_moderators


def test_repeated_posts_from_one_member_do_not_flood_moderators(staffed: SafetyDesk) -> None:
    first = staffed.open_alert(flag(ext="a"), now=NOW)
    again = staffed.open_alert(flag(ext="b"), now=NOW + timedelta(minutes=2))
    other = staffed.open_alert(flag(author=8, ext="c"), now=NOW + timedelta(minutes=2))
    later = staffed.open_alert(flag(ext="d"), now=NOW + timedelta(hours=1))
    assert [first.notify_moderators, again.notify_moderators] == [True, False]
    assert other.notify_moderators and later.notify_moderators
    assert again.reply_to_member  # the member is always answered


def test_old_posts_from_a_backfill_are_not_alerted(staffed: SafetyDesk) -> None:
    decision = staffed.open_alert(flag(), posted_at=NOW - timedelta(days=3), now=NOW)
    assert not decision.notify_moderators and not decision.reply_to_member


def test_reports_reach_moderators_without_replying(staffed: SafetyDesk) -> None:
    staffed.open_alert(flag(ext="a"), now=NOW)
    report = staffed.open_alert(flag(ext="b", level="concern"), reported_by=44, now=NOW)
    assert report.notify_moderators and not report.reply_to_member
    assert staffed.alert(report.alert_id).reported_by == 44


def test_first_claim_wins(staffed: SafetyDesk) -> None:
    decision = staffed.open_alert(flag(), now=NOW)
    alert, first = staffed.claim(decision.alert_id, 31)
    assert first and alert.claimed_by == 31
    alert, first = staffed.claim(decision.alert_id, 32)
    assert not first and alert.claimed_by == 31


def test_alerts_are_exported_and_deleted_with_the_author(
    service: KnowledgeService, staffed: SafetyDesk
) -> None:
    staffed.open_alert(flag(author=5), now=NOW)
    staffed.open_alert(flag(author=6, ext="x"), now=NOW)
    exported = service.privacy.export(GUILD, 5)
    assert len(exported["tables"]["safetyalert"]) == 1
    service.privacy.delete_member(GUILD, 5)
    assert service.privacy.export(GUILD, 5)["tables"].get("safetyalert", []) == []
    assert len(service.privacy.export(GUILD, 6)["tables"]["safetyalert"]) == 1
