"""Nobody left unanswered: questions, their first replies, and helpers asked about them.

A question asked where suggestions are on is recorded (`Question`: ids, the condition tags of
its text, whether it read as a crisis, timestamps; never its text). A reply from another member
(in the question's thread, in a thread started from it, or a Discord reply to it) sets
`first_reply_at`. A question still unanswered `route_after_minutes` later (and not older than
`route_max_age_hours`, not crisis, not solved, in a channel where suggestions are still on) is
*due*: up to `max_helpers` members are chosen who

- turned on "help newcomers" and help with one of its conditions (read through the profiles
  service's `helpers_for`: the same condition or a broader one it falls under),
- are not the asker, have not blocked the asker nor been blocked by them,
- are not in their quiet hours (UTC, `quiet_start_hour` to `quiet_end_hour`),
- were asked about fewer than `helper_daily_limit` questions in the last 24 hours,
- can read the question's channel (decided by the caller, who knows Discord's permissions).

The least-asked helpers come first. Every moment is passed in (`now`), so tests drive the clock.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
from sqlmodel import Session, col, select

from knowledge.config import SuggestionSettings
from knowledge.store.condition_vectors import CARER_PREFIX
from knowledge.store.models import (
    HelperRequest,
    MemberBlock,
    Question,
    SuggestionChannel,
)
from knowledge.store.store import Store

DAY = timedelta(days=1)


class HelpersFor(Protocol):
    """Members who help with any of these conditions and are outside their quiet hours at
    `at` (`knowledge.matching.profiles.ProfileManager.helpers_for`)."""

    def __call__(
        self, guild_id: int, condition_ids: Iterable[str], *, at: datetime | None = None
    ) -> list[int]: ...


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class AskedQuestion:
    """A new question as the adapter sees it (the text is used, never stored)."""

    guild_id: int
    channel_id: int
    thread_id: int | None
    external_id: str
    author_id: int
    text: str
    asked_at: datetime

    def keys(self) -> tuple[str, ...]:
        """Thread keys of the question itself (its thread, and the message)."""
        own = (self.external_id,)
        return own + ((str(self.thread_id),) if self.thread_id is not None else ())


@dataclass(frozen=True)
class RoutingStats:
    """Counted for insights over a period: no ids, no text."""

    questions: int
    routed: int
    answered_after_routing: int
    answered: int
    median_minutes_to_first_reply: float | None


class HelperRouting:
    """Records questions and first replies; chooses and records helpers for due questions."""

    def __init__(
        self,
        store: Store,
        settings: SuggestionSettings,
        helpers_for: HelpersFor,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.settings = settings
        self._helpers_for = helpers_for
        self.clock = clock

    # -- questions and replies -------------------------------------------------------------------

    def question_tags(self, text: str) -> list[str]:
        """The condition tags a question clearly names (the writer's own; `carer:` for another
        person's), as stored with the question."""
        return sorted(
            t.condition_id if t.role == "member" else CARER_PREFIX + t.condition_id
            for t in self.store.tagger.tags(text)
        )

    def record_question(self, question: AskedQuestion, *, crisis: bool) -> int | None:
        """Record a question once; its id (None when it was, or its thread was, recorded
        before)."""
        with self.store.write() as session:
            if self._asked_before(session, question):
                return None
            row = Question(
                guild_id=question.guild_id,
                channel_id=question.channel_id,
                thread_id=question.thread_id,
                external_id=question.external_id,
                author_id=question.author_id,
                conditions=json.dumps(self.question_tags(question.text)),
                crisis=crisis,
                asked_at=question.asked_at,
            )
            session.add(row)
            session.flush()
            return row.id

    @staticmethod
    def _asked_before(session: Session, question: AskedQuestion) -> bool:
        """The message is a recorded question, or its thread belongs to one (a thread started
        from a question, or a thread whose question was recorded)."""
        same: list[sa.ColumnElement[bool]] = [col(Question.external_id).in_(question.keys())]
        if question.thread_id is not None:
            same.append(col(Question.thread_id) == question.thread_id)
        found = session.exec(
            select(Question.id).where(Question.guild_id == question.guild_id, sa.or_(*same))
        ).first()
        return found is not None

    def record_reply(
        self,
        guild_id: int,
        *,
        author_id: int,
        at: datetime,
        thread_id: int | None = None,
        reply_to: str | None = None,
    ) -> bool:
        """A member's message in a thread (or a reply to a message): if it answers a question
        someone else asked, and is its first answer, record when. True when recorded."""
        keys = {str(thread_id)} if thread_id is not None else set()
        if reply_to:
            keys.add(reply_to)
        if not keys:
            return False
        with self.store.write() as session:
            conds: list[sa.ColumnElement[bool]] = [col(Question.external_id).in_(sorted(keys))]
            if thread_id is not None:
                conds.append(col(Question.thread_id) == thread_id)
            rows = session.exec(
                select(Question).where(
                    Question.guild_id == guild_id,
                    sa.or_(*conds),
                    col(Question.first_reply_at).is_(None),
                    Question.author_id != author_id,
                )
            ).all()
            for row in rows:
                row.first_reply_at = at
                session.add(row)
            return bool(rows)

    def get(self, question_id: int) -> Question | None:
        with self.store.session() as session:
            return session.get(Question, question_id)

    # -- due questions and helpers ---------------------------------------------------------------

    def due(self, now: datetime) -> list[Question]:
        """Unanswered questions whose wait is over, oldest first (every guild)."""
        wait = timedelta(minutes=self.settings.route_after_minutes)
        oldest = now - timedelta(hours=self.settings.route_max_age_hours)
        with self.store.session() as session:
            on = sa.and_(
                col(SuggestionChannel.channel_id) == col(Question.channel_id),
                col(SuggestionChannel.guild_id) == col(Question.guild_id),
            )
            rows = session.exec(
                select(Question)
                .join(SuggestionChannel, on)
                .where(
                    col(Question.asked_at) <= now - wait,
                    col(Question.asked_at) >= oldest,
                    col(Question.routed_at).is_(None),
                    col(Question.first_reply_at).is_(None),
                    col(Question.solved_at).is_(None),
                    col(Question.crisis).is_(False),
                )
                .order_by(col(Question.asked_at))
            ).all()
        return list(rows)

    def candidates(self, question_id: int, now: datetime) -> list[int]:
        """Helpers who may be asked about a question now, least asked first (readability of
        the channel is left to the caller)."""
        with self.store.session() as session:
            question = session.get(Question, question_id)
            if question is None:
                return []
            return self._candidates(session, question, now)

    def _candidates(self, session: Session, question: Question, now: datetime) -> list[int]:
        wanted = self._broader(self._conditions(question))
        if not wanted or question.crisis:
            return []
        g = question.guild_id
        eligible = set(self._helpers_for(g, sorted(wanted), at=now)) - {question.author_id}
        eligible -= self._blocked_with(session, g, question.author_id)
        asked = session.exec(
            select(HelperRequest.user_id).where(HelperRequest.question_id == question.id)
        ).all()
        eligible -= set(asked)
        load = self._recent_load(session, g, eligible, now)
        limit = self.settings.helper_daily_limit
        ready = [u for u in eligible if load.get(u, (0, None))[0] < limit]

        def order(user: int) -> tuple[int, datetime, int]:
            count, last = load.get(user, (0, None))
            return count, _aware(last) if last else datetime.min.replace(tzinfo=UTC), user

        return sorted(ready, key=order)

    def _conditions(self, question: Question) -> set[str]:
        tags = json.loads(question.conditions or "[]")
        return {t.removeprefix(CARER_PREFIX) for t in tags if isinstance(t, str)}

    def _broader(self, conditions: Iterable[str]) -> set[str]:
        """The conditions and every broader one they fall under (a helper with "anxiety" is
        asked about "panic disorder")."""
        tagger = self.store.tagger
        out: set[str] = set()
        for cid in conditions:
            seen = 0
            current: str | None = cid
            while current is not None and current not in out and seen < 16:
                out.add(current)
                try:
                    current = tagger.get(current).parent
                except KeyError:
                    current = None
                seen += 1
        return out

    @staticmethod
    def _blocked_with(session: Session, guild_id: int, user_id: int) -> set[int]:
        rows = session.exec(
            select(MemberBlock).where(
                MemberBlock.guild_id == guild_id,
                sa.or_(col(MemberBlock.user_id) == user_id, col(MemberBlock.blocked_id) == user_id),
            )
        ).all()
        return {r.blocked_id if r.user_id == user_id else r.user_id for r in rows}

    @staticmethod
    def _recent_load(
        session: Session, guild_id: int, users: Collection[int], now: datetime
    ) -> dict[int, tuple[int, datetime | None]]:
        """user -> (questions asked about in the last 24 hours, the latest request)."""
        if not users:
            return {}
        rows = session.exec(
            select(
                HelperRequest.user_id,
                sa.func.count(),
                sa.func.max(HelperRequest.sent_at),
            )
            .where(
                HelperRequest.guild_id == guild_id,
                col(HelperRequest.user_id).in_(sorted(users)),
                col(HelperRequest.sent_at) > now - DAY,
            )
            .group_by(col(HelperRequest.user_id))
        ).all()
        return {int(u): (int(n), last) for u, n, last in rows}

    def route(self, question_id: int, now: datetime, readable: Callable[[int], bool]) -> list[int]:
        """Choose up to `max_helpers` helpers who can read the question's channel, record the
        requests and mark the question routed; the ids chosen (to be messaged by the caller).

        A question that names no condition is marked routed with nobody asked; one whose
        helpers are all unavailable now (quiet hours, limits) stays due, to be tried again."""
        with self.store.write() as session:
            question = session.get(Question, question_id)
            if question is None or question.routed_at is not None:
                return []
            if question.first_reply_at is not None or question.crisis:
                return []
            if not self._conditions(question):
                question.routed_at = now
                session.add(question)
                return []
            chosen = [u for u in self._candidates(session, question, now) if readable(u)]
            chosen = chosen[: self.settings.max_helpers]
            if not chosen:
                return []
            for user in chosen:
                session.add(
                    HelperRequest(
                        question_id=question_id,
                        user_id=user,
                        guild_id=question.guild_id,
                        sent_at=now,
                    )
                )
            question.routed_at = now
            question.helpers_asked = len(chosen)
            session.add(question)
            return chosen

    # -- insights ---------------------------------------------------------------------------------

    def stats(self, guild_id: int, since: datetime | None = None) -> RoutingStats:
        """Questions recorded, routed, answered after routing, and the median time to a first
        reply, in a guild since a moment."""
        with self.store.session() as session:
            query = select(Question).where(Question.guild_id == guild_id)
            if since is not None:
                query = query.where(col(Question.asked_at) >= since)
            rows = session.exec(query).all()
        routed = [q for q in rows if q.routed_at is not None and q.helpers_asked > 0]
        after = [
            q
            for q in routed
            if q.first_reply_at is not None
            and q.routed_at is not None
            and _aware(q.first_reply_at) >= _aware(q.routed_at)
        ]
        waits = [
            (_aware(q.first_reply_at) - _aware(q.asked_at)).total_seconds() / 60
            for q in rows
            if q.first_reply_at is not None
        ]
        return RoutingStats(
            questions=len(rows),
            routed=len(routed),
            answered_after_routing=len(after),
            answered=len(waits),
            median_minutes_to_first_reply=statistics.median(waits) if waits else None,
        )
