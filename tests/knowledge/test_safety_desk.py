"""Crisis handling for moderators: settings, alert decisions, throttling, claims, privacy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from knowledge.config import CrisisResponseSettings
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


# -- alerts that are answered (issue 14, item 2) ---------------------------------------------------

LATER = NOW + timedelta(minutes=15)


def test_an_unclaimed_alert_is_due_after_the_delay_and_only_once(staffed: SafetyDesk) -> None:
    assert staffed.settings.escalate_after_minutes == 15
    decision = staffed.open_alert(flag(), now=NOW)
    assert staffed.due_for_escalation(NOW + timedelta(minutes=14)) == []
    (due,) = staffed.due_for_escalation(LATER)
    assert due.id == decision.alert_id
    assert staffed.mark_escalated(decision.alert_id, LATER)
    assert not staffed.mark_escalated(decision.alert_id, LATER)  # a second caller loses
    assert staffed.due_for_escalation(LATER + timedelta(days=2)) == []
    assert staffed.alert(decision.alert_id).escalated_at is not None


def test_the_delay_is_configurable(service: KnowledgeService) -> None:
    desk = SafetyDesk(service.store, CrisisResponseSettings(escalate_after_minutes=5))
    desk.configure(GUILD, ADMIN, moderator_channel_id=MOD_CHANNEL, moderator_role_id=MOD_ROLE)
    decision = desk.open_alert(flag(), now=NOW)
    assert desk.due_for_escalation(NOW + timedelta(minutes=4)) == []
    (due,) = desk.due_for_escalation(NOW + timedelta(minutes=5))
    assert due.id == decision.alert_id


def test_a_claimed_alert_is_never_raised_again(staffed: SafetyDesk) -> None:
    decision = staffed.open_alert(flag(), now=NOW)
    staffed.claim(decision.alert_id, 31)
    assert staffed.due_for_escalation(LATER) == []
    assert not staffed.mark_escalated(decision.alert_id, LATER)
    assert staffed.open_alerts(GUILD) == []


def test_only_notified_crisis_alerts_and_reports_are_raised_again(staffed: SafetyDesk) -> None:
    staffed.open_alert(flag(author=6, level="concern", ext="quiet"), now=NOW)
    staffed.open_alert(flag(author=5, ext="a"), now=NOW)
    throttled = staffed.open_alert(flag(author=5, ext="b"), now=NOW)  # not notified
    report = staffed.open_alert(flag(author=7, level="concern", ext="r"), reported_by=44, now=NOW)
    due = staffed.due_for_escalation(LATER)
    assert [a.external_id for a in due] == ["a", "r"]
    assert throttled.alert_id not in {a.id for a in due} and report.notify_moderators


def test_the_escalation_target_defaults_to_the_moderator_channel_and_role(
    staffed: SafetyDesk,
) -> None:
    assert staffed.config(GUILD).escalation_target == (MOD_CHANNEL, MOD_ROLE)
    staffed.configure(GUILD, ADMIN, escalation_role_id=77)
    assert staffed.config(GUILD).escalation_target == (MOD_CHANNEL, 77)
    staffed.configure(GUILD, ADMIN, escalation_channel_id=78)
    assert staffed.config(GUILD).escalation_target == (78, 77)


def test_the_daily_digest_lists_unclaimed_alerts_without_their_words(staffed: SafetyDesk) -> None:
    staffed.open_alert(flag(author=5, ext="old"), now=NOW)
    taken = staffed.open_alert(flag(author=6, ext="taken"), now=NOW)
    staffed.claim(taken.alert_id, 31)
    assert staffed.digests_due(NOW + timedelta(minutes=5)) == []  # nothing old enough yet
    staffed.open_alert(flag(author=8, ext="fresh"), now=LATER)
    (digest,) = staffed.digests_due(LATER)
    assert (digest.guild_id, digest.channel_id, digest.total) == (GUILD, MOD_CHANNEL, 1)
    (listed,) = digest.alerts
    assert listed.external_id == "old" and listed.age(LATER) == timedelta(minutes=15)
    assert "end it" not in repr(digest)  # jump link and age only, never the reasons
    assert staffed.mark_digest_sent(GUILD, LATER)
    assert not staffed.mark_digest_sent(GUILD, LATER)
    assert staffed.digests_due(LATER + timedelta(hours=23)) == []
    (next_day,) = staffed.digests_due(LATER + timedelta(days=1))
    assert {a.external_id for a in next_day.alerts} == {"old", "fresh"}
    assert [a.external_id for a in staffed.open_alerts(GUILD)] == ["old", "fresh"]


def test_no_digest_without_a_moderator_channel(desk: SafetyDesk) -> None:
    desk.open_alert(flag(), now=NOW)
    assert desk.digests_due(NOW + timedelta(days=2)) == []
