"""Members' signals: "this helped" counted once per member, "solved" by the asker or a moderator
only, the most-helpful replies not yet curated (what `/kb suggest` lists); and the reports queue:
one item per reported message, a per-member daily limit, resolving."""

from __future__ import annotations

from datetime import timedelta

import pytest

from knowledge.errors import InvalidInput, NotFound
from knowledge.records import Flag
from knowledge.service import KnowledgeService
from knowledge.store.models import KnowledgeEntry, Question
from tests.conftest import GUILD, OTHER_GUILD, T0, enable, post

ASKER, HELPER, OTHER, MOD = 10, 20, 30, 40


def seed(service: KnowledgeService) -> None:
    enable(service, GUILD, 1)
    service.ingest(
        [
            post("q1", "how do you cope with migraine at work", author=ASKER),
            post("r1", "a dark room and water helped my migraine", author=HELPER, minutes=1),
            post("r2", "I keep a cold pack at my desk", author=OTHER, minutes=2),
            post("r3", "magnesium helped me", author=OTHER, minutes=3),
        ]
    )


def test_this_helped_counts_once_per_member(service: KnowledgeService) -> None:
    seed(service)
    signals = service.signals
    assert signals.mark_helped(GUILD, ASKER, "r1") is True
    assert signals.mark_helped(GUILD, ASKER, "r1") is False  # the same member again
    assert signals.mark_helped(GUILD, OTHER, "r1") is True
    assert signals.helped_count(GUILD, "r1") == 2
    assert signals.mark_helped(GUILD, HELPER, "r1") is False  # one's own post counts nothing
    assert signals.helped_count(GUILD, "r1") == 2
    assert signals.helped_count(OTHER_GUILD, "r1") == 0  # never across guilds
    assert signals.helped_counts(GUILD, ["r1", "r2"]) == {"r1": 2}


def test_marks_go_with_the_message_and_the_member(service: KnowledgeService) -> None:
    seed(service)
    service.signals.mark_helped(GUILD, ASKER, "r1")
    service.signals.mark_helped(GUILD, MOD, "r1")
    service.delete_messages(GUILD, ["r1"])
    assert service.signals.helped_count(GUILD, "r1") == 0
    service.signals.mark_helped(GUILD, ASKER, "r2")
    exported = service.privacy.export(GUILD, ASKER)
    assert [m["external_id"] for m in exported["tables"]["helpedmark"]] == ["r2"]
    service.privacy.delete_member(GUILD, ASKER)
    assert service.signals.helped_count(GUILD, "r2") == 0


def question(service: KnowledgeService, thread: int = 500) -> None:
    with service.store.write() as session:
        session.add(
            Question(
                guild_id=GUILD,
                channel_id=1,
                thread_id=thread,
                external_id=str(thread),
                author_id=ASKER,
                asked_at=T0,
            )
        )


def test_solved_is_for_the_asker_or_a_moderator(service: KnowledgeService) -> None:
    seed(service)
    question(service)
    signals = service.signals
    with pytest.raises(InvalidInput):
        signals.mark_solved(GUILD, 500, OTHER, moderator=False)
    assert signals.question_for_thread(GUILD, 500).solved_at is None  # type: ignore[union-attr]
    done = signals.mark_solved(GUILD, 500, ASKER, moderator=False, solution_message_id=77)
    assert done.first
    row = signals.question_for_thread(GUILD, 500)
    assert row is not None and row.solved_by == ASKER and row.solution_message_id == 77
    again = signals.mark_solved(GUILD, 500, MOD, moderator=True)
    assert not again.first
    with pytest.raises(NotFound):
        signals.mark_solved(GUILD, 999, ASKER, moderator=True)  # no question, no seed


def test_kb_suggest_lists_the_most_helpful_uncurated_reply_first(
    service: KnowledgeService,
) -> None:
    seed(service)
    signals = service.signals
    for member in (ASKER, MOD, 50):
        signals.mark_helped(GUILD, member, "r2")
    for member in (ASKER, MOD):
        signals.mark_helped(GUILD, member, "r3")
    for member in (ASKER, MOD, 50, 60):  # the most helpful, but already curated
        signals.mark_helped(GUILD, member, "r1")
    signals.mark_helped(GUILD, MOD, "q1")
    with service.store.write() as session:
        session.add(
            KnowledgeEntry(
                guild_id=GUILD,
                title="Migraine at work",
                answer="Dark room, water.",
                source_channel_id=1,
                source_external_id="r1",
            )
        )
    listed = signals.most_helpful_uncurated(GUILD, limit=10)
    assert [(r.external_id, r.helped) for r in listed] == [("r2", 3), ("r3", 2), ("q1", 1)]
    assert listed[0].author_id == OTHER and listed[0].channel_id == 1
    assert signals.most_helpful_uncurated(GUILD, limit=1)[0].external_id == "r2"
    assert signals.most_helpful_uncurated(OTHER_GUILD) == []


# -- reports queue ---------------------------------------------------------------------------


def flag(external_id: str = "r2", author: int = OTHER) -> Flag:
    return Flag(GUILD, external_id, 1, None, author, "concern", ())


def configured(service: KnowledgeService) -> None:
    seed(service)
    service.safety_desk.configure(GUILD, MOD, moderator_channel_id=900)


def test_three_reports_of_one_message_make_one_item(service: KnowledgeService) -> None:
    configured(service)
    queue = service.reports
    first = queue.file(flag(), ASKER)
    assert first.outcome == "new" and first.decision is not None
    assert first.decision.notify_moderators
    second, third = queue.file(flag(), HELPER), queue.file(flag(), MOD)
    assert (second.outcome, third.outcome) == ("merged", "merged")
    assert third.alert_id == first.alert_id and third.reporters == 3
    assert queue.file(flag(), ASKER).outcome == "repeat"
    assert len(service.privacy.export(GUILD, HELPER)["tables"]["alertreport"]) == 1  # exported
    (item,) = queue.open_items(GUILD)
    assert item.reporters == 3 and item.external_id == "r2"
    # resolved: off the queue, claimed (never raised again); a new report opens a new item
    assert first.alert_id is not None
    assert queue.resolve(GUILD, first.alert_id, MOD) is True
    assert queue.resolve(GUILD, first.alert_id, MOD) is False
    assert queue.open_items(GUILD) == []
    assert service.safety_desk.alert(first.alert_id).claimed_by == MOD
    assert queue.file(flag(), 70).outcome == "new"
    service.privacy.delete_member(GUILD, HELPER)  # a reporter's delete takes their reports
    assert service.privacy.export(GUILD, HELPER)["tables"]["alertreport"] == []
    assert queue.reporters(first.alert_id) == 2
    with pytest.raises(NotFound):
        queue.resolve(OTHER_GUILD, first.alert_id, MOD)


def test_a_member_over_the_daily_limit_is_refused(service: KnowledgeService) -> None:
    configured(service)
    queue = service.reports
    limit = service.settings.reports.per_member_per_day
    for i in range(limit):
        assert queue.file(flag(f"m{i}"), ASKER, now=T0).outcome == "new"
    refused = queue.file(flag("another"), ASKER, now=T0 + timedelta(hours=1))
    assert refused.outcome == "limited" and refused.decision is None
    assert len(queue.open_items(GUILD)) == limit
    later = queue.file(flag("another"), ASKER, now=T0 + timedelta(days=1, minutes=1))
    assert later.outcome == "new"  # a day later the member may report again
