"""The figures of `/insights` for one guild and period, computed from SQL rows (ids and times).

Questions are `Question` rows (asked where suggestions are on, or marked solved in a forum);
"answered" means another member replied within 24 hours of the question (`first_reply_at`).
Condition counts from 1 to 4 are shown as "fewer than 5" (`masked`), so a rare condition does
not point at one member; that applies to searches that found nothing, by condition, too.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select

from knowledge.conditions import ConditionTagger
from knowledge.store.models import HelpedMark, Question, SearchGap
from knowledge.store.store import Store

ANSWER_WINDOW = timedelta(hours=24)
SMALL = 5  # counts under this (and above 0) are shown as "fewer than 5"
TOP_CONDITIONS = 5
OLDEST_LISTED = 5
NO_CONDITION = ""  # a search gap whose query named no condition


def masked(count: int) -> str:
    """A count as shown to moderators: exact from 5 up (and 0), else "fewer than 5"."""
    return f"fewer than {SMALL}" if 0 < count < SMALL else str(count)


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{round(value * 100)}%"


@dataclass(frozen=True)
class ConditionTrend:
    """Questions naming a condition in the period and in the one before."""

    condition_id: str
    name: str
    count: int
    previous: int

    @property
    def shown(self) -> str:
        return masked(self.count)

    @property
    def movement(self) -> str:
        """How the count moved, in words that never reveal a count under 5."""
        was = masked(self.previous)
        if self.count >= SMALL and self.previous >= SMALL:
            delta = self.count - self.previous
            sign = "+" if delta > 0 else ""
            return f"{sign}{delta} (was {was})" if delta else f"unchanged (was {was})"
        return f"was {was}"


@dataclass(frozen=True)
class Unanswered:
    """A question nobody answered yet (ids only; the bot makes the jump link)."""

    guild_id: int
    place_id: int
    external_id: str
    asked_at: datetime


@dataclass(frozen=True)
class SearchGapCount:
    condition_id: str
    name: str
    count: int

    @property
    def shown(self) -> str:
        return masked(self.count)


@dataclass(frozen=True)
class WeekPoint:
    """One week of the chart: questions, and the answer rate per top condition (None when that
    condition had fewer than 5 questions that week)."""

    start: datetime
    questions: int
    answered: int
    rates: dict[str, float | None]


@dataclass(frozen=True)
class InsightsReport:
    """Everything `/insights` and `kindred insights` show for one guild and period."""

    guild_id: int
    start: datetime
    end: datetime
    asked: int
    answered_24h: int
    solved: int
    routed: int
    answered_after_routing: int
    median_first_answer: timedelta | None
    helped_marks: int
    conditions: list[ConditionTrend]
    oldest_unanswered: list[Unanswered]
    search_gaps: list[SearchGapCount]
    weeks: list[WeekPoint]

    @property
    def days(self) -> int:
        return max(1, round((self.end - self.start) / timedelta(days=1)))

    @property
    def answered_share(self) -> float | None:
        return share(self.answered_24h, self.asked)

    @property
    def solved_share(self) -> float | None:
        return share(self.solved, self.asked)


@dataclass(frozen=True)
class _Q:
    place_id: int
    external_id: str
    asked_at: datetime
    first_reply_at: datetime | None
    routed_at: datetime | None
    solved_at: datetime | None
    conditions: tuple[str, ...]

    @property
    def answered_in_time(self) -> bool:
        return self.first_reply_at is not None and (
            self.first_reply_at - self.asked_at <= ANSWER_WINDOW
        )


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def compute(
    store: Store, tagger: ConditionTagger, guild_id: int, days: int, now: datetime
) -> InsightsReport:
    """The guild's figures for the `days` before `now` (and the same span before, for trends)."""
    end, span = aware(now), timedelta(days=days)
    start, before = end - span, end - 2 * span
    questions = _questions(store, guild_id, before, end)
    current = [q for q in questions if q.asked_at >= start]
    previous = [q for q in questions if q.asked_at < start]
    answered = [q for q in current if q.first_reply_at is not None]
    waits = [(q.first_reply_at - q.asked_at).total_seconds() for q in answered if q.first_reply_at]
    routed = [q for q in current if q.routed_at is not None]
    trends = _trends(tagger, current, previous)
    return InsightsReport(
        guild_id=guild_id,
        start=start,
        end=end,
        asked=len(current),
        answered_24h=sum(q.answered_in_time for q in current),
        solved=sum(q.solved_at is not None for q in current),
        routed=len(routed),
        answered_after_routing=sum(_answered_after_routing(q) for q in routed),
        median_first_answer=timedelta(seconds=statistics.median(waits)) if waits else None,
        helped_marks=_helped(store, guild_id, start, end),
        conditions=trends,
        oldest_unanswered=_oldest(guild_id, current),
        search_gaps=_gaps(store, tagger, guild_id, start, end),
        weeks=_weeks(current, start, end, [c.condition_id for c in trends]),
    )


def _answered_after_routing(q: _Q) -> bool:
    return (
        q.first_reply_at is not None
        and q.routed_at is not None
        and (q.first_reply_at >= q.routed_at)
    )


def _questions(store: Store, guild_id: int, since: datetime, until: datetime) -> list[_Q]:
    query = (
        select(Question)
        .where(
            Question.guild_id == guild_id,
            col(Question.asked_at) >= since,
            col(Question.asked_at) < until,
        )
        .order_by(col(Question.asked_at), col(Question.id))
    )
    with store.session() as session:
        rows = session.exec(query).all()
    return [
        _Q(
            place_id=row.thread_id or row.channel_id,
            external_id=row.external_id,
            asked_at=aware(row.asked_at),
            first_reply_at=aware(row.first_reply_at) if row.first_reply_at else None,
            routed_at=aware(row.routed_at) if row.routed_at else None,
            solved_at=aware(row.solved_at) if row.solved_at else None,
            conditions=_condition_ids(row.conditions),
        )
        for row in rows
    ]


def _condition_ids(raw: str) -> tuple[str, ...]:
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return ()
    ids = [str(v) for v in value] if isinstance(value, list) else []
    return tuple(dict.fromkeys(ids))


def _name(tagger: ConditionTagger, condition_id: str) -> str:
    if condition_id == NO_CONDITION:
        return "no condition named"
    try:
        return tagger.name(condition_id)
    except KeyError:
        return condition_id


def _trends(
    tagger: ConditionTagger, current: Sequence[_Q], previous: Sequence[_Q]
) -> list[ConditionTrend]:
    now_counts = Counter(c for q in current for c in q.conditions)
    then_counts = Counter(c for q in previous for c in q.conditions)
    top = sorted(now_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_CONDITIONS]
    return [ConditionTrend(cid, _name(tagger, cid), n, then_counts.get(cid, 0)) for cid, n in top]


def _oldest(guild_id: int, current: Iterable[_Q]) -> list[Unanswered]:
    waiting = [q for q in current if q.first_reply_at is None and q.solved_at is None]
    return [
        Unanswered(guild_id, q.place_id, q.external_id, q.asked_at)
        for q in sorted(waiting, key=lambda q: q.asked_at)[:OLDEST_LISTED]
    ]


def _helped(store: Store, guild_id: int, start: datetime, end: datetime) -> int:
    query = (
        select(sa.func.count())
        .select_from(HelpedMark)
        .where(
            HelpedMark.guild_id == guild_id,
            col(HelpedMark.created_at) >= start,
            col(HelpedMark.created_at) < end,
        )
    )
    with store.session() as session:
        return int(session.exec(query).one())


def _gaps(
    store: Store, tagger: ConditionTagger, guild_id: int, start: datetime, end: datetime
) -> list[SearchGapCount]:
    first_day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    query = (
        select(SearchGap.condition_id, sa.func.sum(SearchGap.count))
        .where(
            SearchGap.guild_id == guild_id,
            col(SearchGap.day) >= first_day,
            col(SearchGap.day) < end,
        )
        .group_by(col(SearchGap.condition_id))
    )
    with store.session() as session:
        rows = session.exec(query).all()
    counts = sorted(((str(c), int(n or 0)) for c, n in rows), key=lambda kv: (-kv[1], kv[0]))
    return [SearchGapCount(cid, _name(tagger, cid), n) for cid, n in counts if n > 0]


def _weeks(
    current: Sequence[_Q], start: datetime, end: datetime, top: Sequence[str]
) -> list[WeekPoint]:
    points: list[WeekPoint] = []
    week = start
    while week < end:
        until = min(week + timedelta(days=7), end)
        inside = [q for q in current if week <= q.asked_at < until]
        rates: dict[str, float | None] = {}
        for cid in top:
            named = [q for q in inside if cid in q.conditions]
            rates[cid] = (
                sum(q.answered_in_time for q in named) / len(named) if len(named) >= SMALL else None
            )
        points.append(WeekPoint(week, len(inside), sum(q.answered_in_time for q in inside), rates))
        week = until
    return points
