"""Insights from SQL: exact figures for a fixture guild, condition counts under 5 masked, trends
against the previous period, the oldest unanswered questions, searches that found nothing by
condition (no text stored), a chart PNG and a self-contained HTML page."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from functools import partial

import sqlalchemy as sa
from matplotlib import image as mpimg

from knowledge.insights.counts import (
    ConditionTrend,
    InsightsReport,
    SearchGapCount,
    Unanswered,
    masked,
)
from knowledge.insights.html import render_html
from knowledge.insights.summary import figure_lines
from knowledge.service import KnowledgeService
from knowledge.store.models import Question, SearchGap
from tests.conftest import GUILD, OTHER_GUILD

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def ask(
    service: KnowledgeService,
    n: int,
    asked: datetime,
    *,
    reply: timedelta | None = None,
    routed: timedelta | None = None,
    solved: bool = False,
    conditions: tuple[str, ...] = (),
    guild: int = GUILD,
) -> None:
    with service.store.write() as session:
        session.add(
            Question(
                guild_id=guild,
                channel_id=1,
                thread_id=1000 + n,
                external_id=str(1000 + n),
                author_id=10 + n,
                conditions=json.dumps(list(conditions)),
                asked_at=asked,
                first_reply_at=asked + reply if reply is not None else None,
                routed_at=asked + routed if routed is not None else None,
                helpers_asked=2 if routed is not None else 0,
                solved_at=asked + 2 * H if solved else None,
            )
        )


def fixture_guild(service: KnowledgeService, now: datetime = NOW, guild: int = GUILD) -> None:
    """10 questions in the last 7 days: 6 answered (5 within 24 h), 2 solved, 3 routed (2 of them
    answered after routing); 7 name migraine, 2 ADHD. 6 the week before, 5 of them migraine."""
    day, mig, adhd = timedelta(days=1), ("migraine",), ("adhd",)
    q = partial(ask, service, guild=guild)
    q(1, now - 6 * day, reply=1 * H, solved=True, conditions=mig)
    q(2, now - 6 * day, reply=3 * H, conditions=mig)
    q(3, now - 5 * day, reply=30 * H, routed=2 * H, conditions=mig)  # late answer
    q(4, now - 4 * day, reply=5 * H, routed=2 * H, solved=True, conditions=mig)
    q(5, now - 3 * day, reply=2 * H, conditions=adhd)
    q(6, now - 3 * day, reply=4 * H, conditions=adhd)
    q(7, now - 5 * day - 3 * H, conditions=mig)  # unanswered, the oldest
    q(8, now - 2 * day, routed=2 * H, conditions=mig)  # unanswered, sent to helpers
    q(9, now - 1 * day, conditions=mig)  # unanswered
    q(10, now - 2 * H)  # unanswered, no condition named
    for i in range(6):  # the previous 7 days
        q(20 + i, now - 9 * day, reply=1 * H, conditions=mig if i < 5 else ())
    ask(service, 40, now - 3 * day, reply=1 * H, guild=OTHER_GUILD)  # another guild
    q(41, now - 30 * day, reply=1 * H)  # outside both periods


def test_exact_figures_for_a_fixture_guild(service: KnowledgeService) -> None:
    fixture_guild(service)
    report = service.insights.report(GUILD, days=7, now=NOW)
    assert report.asked == 10
    assert report.answered_24h == 5
    assert report.solved == 2
    assert report.routed == 3
    assert report.answered_after_routing == 2
    # first answers after 1, 2, 3, 4, 5 and 30 hours: median 3.5 h
    assert report.median_first_answer == timedelta(hours=3.5)
    lines = dict(figure_lines(report))
    assert lines["Questions asked"] == "10"
    assert lines["Answered by another member within 24 h"] == "5 (50%)"
    assert lines["Solved"] == "2 (20%)"
    assert lines["Median time to first answer"] == "3.5 h"
    migraine, adhd = report.conditions
    assert (migraine.condition_id, migraine.count, migraine.previous) == ("migraine", 7, 5)
    assert migraine.shown == "7" and migraine.movement == "+2 (was 5)"
    assert (adhd.condition_id, adhd.count) == ("adhd", 2)
    assert adhd.shown == "fewer than 5" and adhd.movement == "was 0"
    oldest = report.oldest_unanswered
    assert [q.external_id for q in oldest] == ["1007", "1008", "1009", "1010"]
    assert oldest[0].place_id == 1007
    assert sum(w.questions for w in report.weeks) == 10


def test_counts_under_five_are_never_shown() -> None:
    assert [masked(n) for n in (0, 1, 4, 5, 12)] == [
        "0",
        "fewer than 5",
        "fewer than 5",
        "5",
        "12",
    ]


def test_searches_that_found_nothing_are_counted_by_condition_without_text(
    service: KnowledgeService,
) -> None:
    insights = service.insights
    for _ in range(6):
        insights.record_search_gap(GUILD, "zzqx migraine remedy nobody wrote about", NOW)
    insights.record_search_gap(GUILD, "I have ADHD and anxiety, zzqx", NOW - timedelta(days=1))
    insights.record_search_gap(GUILD, "zzqx something else entirely", NOW)
    insights.record_search_gap(OTHER_GUILD, "zzqx migraine", NOW)
    report = insights.report(GUILD, days=7, now=NOW + H)
    shown = {g.condition_id: g.shown for g in report.search_gaps}
    assert shown == {
        "migraine": "6",
        "adhd": "fewer than 5",
        "anxiety": "fewer than 5",
        "": "fewer than 5",
    }
    with service.store.session() as session:
        rows = session.exec(sa.select(SearchGap)).all()
        names = {c.name for c in SearchGap.__table__.columns}  # type: ignore[attr-defined]
    assert names == {"guild_id", "day", "condition_id", "count"}
    assert "zzqx" not in repr(rows)


def test_chart_is_a_non_blank_png_and_the_page_is_self_contained(
    service: KnowledgeService,
) -> None:
    fixture_guild(service)
    report = service.insights.report(GUILD, days=30, now=NOW)
    png = service.insights.chart(report)
    assert png.startswith(b"\x89PNG")
    pixels = mpimg.imread(io.BytesIO(png), format="png")
    height, width = pixels.shape[:2]
    assert (width, height) == (900, 500)
    assert (pixels[..., :3].min(axis=2) < 0.9).mean() > 0.01  # more than a white page
    page = service.insights.html(report, png)
    assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page
    assert "http" not in page.replace("https://discord.com/channels/", "")
    assert f"https://discord.com/channels/{GUILD}/1007/1007" in page
    assert "<script" not in page


def test_every_text_on_the_page_is_escaped() -> None:
    hostile = '<img src=x onerror="alert(1)">'
    report = InsightsReport(
        guild_id=GUILD,
        start=NOW - timedelta(days=7),
        end=NOW,
        asked=6,
        answered_24h=0,
        solved=0,
        routed=0,
        answered_after_routing=0,
        median_first_answer=None,
        helped_marks=0,
        conditions=[ConditionTrend("x", hostile, 6, 0)],
        oldest_unanswered=[Unanswered(GUILD, 5, '"><script>', NOW)],
        search_gaps=[SearchGapCount("y", hostile, 7)],
        weeks=[],
    )
    page = render_html(report, b"\x89PNG", title=hostile)
    assert hostile not in page and "<script>" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
