"""Insights for moderators: how questions fare, which conditions are asked about, where search
finds nothing; counts only (`counts`), a chart (`chart`), a self-contained page (`html`)."""

from __future__ import annotations

from datetime import UTC, datetime

from knowledge.insights.chart import render_chart
from knowledge.insights.counts import InsightsReport, compute
from knowledge.insights.gaps import record_gap
from knowledge.insights.html import render_html
from knowledge.store.store import Store

PERIODS = (7, 30, 90)

__all__ = ["PERIODS", "Insights", "InsightsReport"]


class Insights:
    """Reports from SQL, and the one counter the search path feeds (searches finding nothing)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def report(self, guild_id: int, days: int = 30, now: datetime | None = None) -> InsightsReport:
        """The figures of the `days` before `now` (and trends against the span before)."""
        return compute(self.store, self.store.tagger, guild_id, days, now or datetime.now(UTC))

    def chart(self, report: InsightsReport) -> bytes:
        """The weekly chart as PNG bytes (slow-ish: call it off the event loop)."""
        return render_chart(report)

    def html(self, report: InsightsReport, chart_png: bytes | None = None) -> str:
        """The self-contained HTML page of a report."""
        return render_html(report, chart_png if chart_png is not None else render_chart(report))

    def record_search_gap(self, guild_id: int, query: str, now: datetime | None = None) -> None:
        """Count a search that found nothing close, by the conditions its text names (the
        text itself is not kept)."""
        record_gap(self.store, self.store.tagger, guild_id, query, now)
