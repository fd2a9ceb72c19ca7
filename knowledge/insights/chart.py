"""The `/insights` chart: weekly questions (bars) and the 24-hour answer rate of the top
conditions (lines), as PNG bytes. matplotlib's Agg canvas only (no GUI, no pyplot state), so it
is safe in a worker thread; the bot renders it off the event loop. matplotlib is imported on the
first chart only."""

from __future__ import annotations

import io

from knowledge.insights.counts import InsightsReport

WIDTH, HEIGHT, DPI = 9.0, 5.0, 100


def render_chart(report: InsightsReport) -> bytes:
    """A PNG of the report's weeks: questions per week, and answer rates by top condition
    (a condition's point is left out for a week it had fewer than 5 questions)."""
    # imported here: matplotlib takes ~0.4 s to import, and only this function needs it
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    counts_axis = figure.add_subplot(1, 1, 1)
    labels = [week.start.strftime("%d %b") for week in report.weeks]
    positions = list(range(len(report.weeks)))
    counts_axis.bar(
        positions,
        [week.questions for week in report.weeks],
        color="#9ecae1",
        label="questions",
    )
    counts_axis.bar(
        positions,
        [week.answered for week in report.weeks],
        color="#3182bd",
        width=0.5,
        label="answered within 24 h",
    )
    counts_axis.set_ylabel("questions per week")
    counts_axis.set_xticks(positions, labels, rotation=45, ha="right")
    counts_axis.set_title(f"Questions and answers, last {report.days} days")
    rate_axis = counts_axis.twinx()
    rate_axis.set_ylim(0, 100)
    rate_axis.set_ylabel("answered within 24 h (%)")
    for trend in report.conditions:
        rates = [week.rates.get(trend.condition_id) for week in report.weeks]
        points = [(x, r * 100) for x, r in zip(positions, rates, strict=True) if r is not None]
        if points:
            xs, ys = zip(*points, strict=True)
            rate_axis.plot(xs, ys, marker="o", label=trend.name)
    handles, names = counts_axis.get_legend_handles_labels()
    more_handles, more_names = rate_axis.get_legend_handles_labels()
    counts_axis.legend(handles + more_handles, names + more_names, loc="upper left", fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor="white")
    return buffer.getvalue()
