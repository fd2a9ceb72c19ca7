"""The report's figures as (label, value) lines: what the `/insights` embed and the HTML page
both show, in the same words."""

from __future__ import annotations

from datetime import timedelta

from knowledge.insights.counts import InsightsReport, percent


def duration(value: timedelta | None) -> str:
    """A wait in plain words: "n/a", "45 min", "3.5 h", "2.0 days"."""
    if value is None:
        return "n/a"
    minutes = value.total_seconds() / 60
    if minutes < 90:
        return f"{max(0, round(minutes))} min"
    hours = minutes / 60
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def figure_lines(report: InsightsReport) -> list[tuple[str, str]]:
    """The headline figures, exact (they count questions, not members)."""
    return [
        ("Questions asked", str(report.asked)),
        (
            "Answered by another member within 24 h",
            f"{report.answered_24h} ({percent(report.answered_share)})",
        ),
        ("Solved", f"{report.solved} ({percent(report.solved_share)})"),
        ("Sent to helpers", str(report.routed)),
        ("Answered after being sent to helpers", str(report.answered_after_routing)),
        ("Median time to first answer", duration(report.median_first_answer)),
        ('"This helped" marks', str(report.helped_marks)),
    ]


def condition_lines(report: InsightsReport) -> list[tuple[str, str]]:
    """Top conditions of the period's questions: count (masked under 5) and movement."""
    return [(t.name, f"{t.shown} — {t.movement}") for t in report.conditions]


def gap_lines(report: InsightsReport) -> list[tuple[str, str]]:
    """Searches that found nothing close, by condition named (masked under 5)."""
    return [(g.name, g.shown) for g in report.search_gaps]


def jump_url(guild_id: int, place_id: int, external_id: str) -> str | None:
    """A Discord link to a message, when its id is a Discord id (files may carry others)."""
    if not external_id.isdigit():
        return None
    return f"https://discord.com/channels/{guild_id}/{place_id}/{external_id}"
