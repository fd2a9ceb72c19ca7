"""Nobody left unanswered (`service.suggestions.routing`): due after the wait, never after a reply
from another member, never crisis; helpers who share the condition, can read the channel, are
not the asker, not blocked, not in quiet hours, within their daily limit; counted for insights."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from knowledge.matching.routing import AskedQuestion
from knowledge.service import KnowledgeService
from knowledge.store.models import (
    HelperRequest,
    MemberBlock,
    MemberProfile,
    ProfileCondition,
    Question,
)
from tests.conftest import GUILD, T0

pytestmark = pytest.mark.both_backends  # SQLite and a real PostgreSQL

CHANNEL = 5
ASKER = 1
PANIC = "I get panic attacks every morning before work, how do you cope with them?"
ASKED_AT = T0.replace(hour=9)
LATER = ASKED_AT + timedelta(minutes=61)


def helper(
    service: KnowledgeService,
    user: int,
    conditions: Iterable[str],
    *,
    quiet: tuple[int, int] | None = None,
    on: bool = True,
) -> None:
    with service.store.write() as session:
        session.add(
            MemberProfile(
                guild_id=GUILD,
                user_id=user,
                helper=on,
                quiet_start_hour=quiet[0] if quiet else None,
                quiet_end_hour=quiet[1] if quiet else None,
            )
        )
        for cid in conditions:
            session.add(
                ProfileCondition(guild_id=GUILD, user_id=user, condition_id=cid, helps=True)
            )


def ask(
    service: KnowledgeService,
    text: str = PANIC,
    *,
    ext: str = "q1",
    thread: int | None = 900,
    at: datetime = ASKED_AT,
    crisis: bool = False,
) -> int:
    question = AskedQuestion(GUILD, CHANNEL, thread, ext, ASKER, text, at)
    question_id = service.suggestions.routing.record_question(question, crisis=crisis)
    assert question_id is not None
    return question_id


@pytest.fixture
def routing_service(service: KnowledgeService) -> KnowledgeService:
    service.suggestions.enable_channel(GUILD, CHANNEL, by=1)
    return service


def due_ids(service: KnowledgeService, now: datetime) -> list[int]:
    return [q.id for q in service.suggestions.routing.due(now) if q.id is not None]


def test_due_only_after_the_wait_and_without_a_reply(routing_service: KnowledgeService) -> None:
    routing = routing_service.suggestions.routing
    first = ask(routing_service)
    answered = ask(routing_service, ext="q2", thread=901)
    crisis = ask(routing_service, ext="q3", thread=902, crisis=True)
    old = ask(routing_service, ext="q4", thread=903, at=ASKED_AT - timedelta(days=2))
    assert due_ids(routing_service, ASKED_AT + timedelta(minutes=59)) == []
    # the asker's own follow-up is no answer; another member's message in the thread is
    assert not routing.record_reply(GUILD, author_id=ASKER, at=LATER, thread_id=901)
    assert routing.record_reply(
        GUILD, author_id=7, at=ASKED_AT + timedelta(minutes=5), thread_id=901
    )
    assert not routing.record_reply(GUILD, author_id=8, at=LATER, thread_id=901)  # first only
    due = due_ids(routing_service, LATER)
    assert due == [first]
    assert answered not in due and crisis not in due and old not in due
    routing_service.suggestions.disable_channel(GUILD, CHANNEL)
    assert due_ids(routing_service, LATER) == []


def test_a_discord_reply_counts_as_an_answer(routing_service: KnowledgeService) -> None:
    question = ask(routing_service, ext="555", thread=None)
    routing = routing_service.suggestions.routing
    assert routing.record_reply(GUILD, author_id=7, at=LATER, reply_to="555")
    assert question not in due_ids(routing_service, LATER)


def test_helpers_share_the_condition_and_pass_every_limit(
    routing_service: KnowledgeService,
) -> None:
    s = routing_service
    helper(s, 11, ["panic_disorder"])
    helper(s, 12, ["anxiety"])  # broader: panic disorder falls under anxiety
    helper(s, 13, ["crohns"])  # another condition
    helper(s, 14, ["panic_disorder"], quiet=(8, 12))  # asleep at 10:01 UTC
    helper(s, 15, ["panic_disorder"], on=False)  # not a helper any more
    helper(s, 16, ["panic_disorder"])  # blocked the asker
    helper(s, 17, ["panic_disorder"])  # cannot read the channel
    helper(s, ASKER, ["panic_disorder"])  # the asker helps too, never with their own
    helper(s, 18, ["panic_disorder"])
    with s.store.write() as session:
        session.add(MemberBlock(guild_id=GUILD, user_id=16, blocked_id=ASKER))
    question = ask(s)
    routing = s.suggestions.routing
    assert set(routing.candidates(question, LATER)) == {11, 12, 16, 17, 18} - {16}
    chosen = routing.route(question, LATER, lambda user: user != 17)
    assert len(chosen) == 3 and set(chosen) <= {11, 12, 18}
    assert routing.route(question, LATER, lambda user: True) == []  # once
    row = routing.get(question)
    assert row is not None and row.routed_at is not None and row.helpers_asked == 3
    assert due_ids(s, LATER + timedelta(minutes=1)) == []


def test_daily_limit_and_least_asked_first(routing_service: KnowledgeService) -> None:
    s = routing_service
    s.suggestions.routing.settings = s.settings.suggestions.model_copy(
        update={"max_helpers": 1, "helper_daily_limit": 2}
    )
    helper(s, 11, ["panic_disorder"])
    helper(s, 12, ["panic_disorder"])
    routing = s.suggestions.routing
    picked = []
    for n in range(5):
        question = ask(s, ext=f"q{n}", thread=900 + n, at=ASKED_AT + timedelta(minutes=n))
        picked += routing.route(question, LATER + timedelta(minutes=n), lambda user: True)
    assert picked == [11, 12, 11, 12]  # turns, then both at their limit for the day
    with s.store.session() as session:
        assert len(session.exec(select(HelperRequest)).all()) == 4
    tomorrow = LATER + timedelta(days=1, minutes=10)
    late = ask(s, ext="q-late", thread=990, at=tomorrow - timedelta(minutes=61))
    assert routing.route(late, tomorrow, lambda user: True) == [11]


def test_nobody_available_now_stays_due_and_no_condition_is_routed_to_nobody(
    routing_service: KnowledgeService,
) -> None:
    s = routing_service
    helper(s, 14, ["panic_disorder"], quiet=(8, 12))
    routing = s.suggestions.routing
    question = ask(s)
    assert routing.route(question, LATER, lambda user: True) == []
    assert question in due_ids(s, LATER)
    assert routing.route(question, LATER.replace(hour=12), lambda user: True) == [14]
    vague = ask(s, "What do you all do on a rainy weekend afternoon?", ext="v", thread=950)
    assert routing.route(vague, LATER, lambda user: True) == []
    assert vague not in due_ids(s, LATER)


def test_stats_for_insights(routing_service: KnowledgeService) -> None:
    s = routing_service
    helper(s, 11, ["panic_disorder"])
    routing = s.suggestions.routing
    routed = ask(s)
    routing.route(routed, LATER, lambda user: True)
    routing.record_reply(GUILD, author_id=11, at=LATER + timedelta(minutes=9), thread_id=900)
    quick = ask(s, ext="q2", thread=901)
    routing.record_reply(GUILD, author_id=7, at=ASKED_AT + timedelta(minutes=10), thread_id=901)
    ask(s, ext="q3", thread=902)
    stats = routing.stats(GUILD)
    assert (stats.questions, stats.routed, stats.answered_after_routing, stats.answered) == (
        3,
        1,
        1,
        2,
    )
    assert stats.median_minutes_to_first_reply == pytest.approx((70 + 10) / 2)
    with s.store.session() as session:
        assert {q.external_id for q in session.exec(select(Question)).all()} == {"q1", "q2", "q3"}
    assert quick
