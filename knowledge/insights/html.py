"""`kindred insights --out report.html`: the `/insights` figures and chart as one self-contained
page (the PNG inlined as base64, no script, no outside resource). Every text is escaped."""

from __future__ import annotations

import base64
from html import escape

from knowledge.insights.counts import InsightsReport
from knowledge.insights.summary import condition_lines, figure_lines, gap_lines, jump_url

STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; background: #fff; max-width: 60em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.5em; }
table { border-collapse: collapse; } td, th { padding: 0.3em 0.8em; border-bottom: 1px solid #ddd;
text-align: left; } img { max-width: 100%; } .note { color: #555; font-size: 0.9em; }
"""


def _table(rows: list[tuple[str, str]], empty: str) -> str:
    if not rows:
        return f"<p>{escape(empty)}</p>"
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _unanswered(report: InsightsReport) -> str:
    if not report.oldest_unanswered:
        return "<p>None: every question of the period has an answer.</p>"
    items = []
    for q in report.oldest_unanswered:
        when = escape(q.asked_at.strftime("%Y-%m-%d %H:%M UTC"))
        url = jump_url(q.guild_id, q.place_id, q.external_id)
        label = f"asked {when}"
        items.append(
            f'<li><a href="{escape(url)}">{label}</a></li>' if url else f"<li>{label}</li>"
        )
    return f"<ol>{''.join(items)}</ol>"


def render_html(report: InsightsReport, chart_png: bytes, title: str | None = None) -> str:
    """The whole page as text."""
    heading = title or f"Kindred insights for guild {report.guild_id}"
    period = f"{report.start:%Y-%m-%d} to {report.end:%Y-%m-%d} ({report.days} days)"
    image = base64.b64encode(chart_png).decode("ascii")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(heading)}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>{escape(heading)}</h1>
<p>{escape(period)}</p>
<h2>Questions</h2>
{_table(figure_lines(report), "No questions in this period.")}
<h2>Top conditions (against the previous {report.days} days)</h2>
{_table(condition_lines(report), "No condition named in this period's questions.")}
<h2>Oldest unanswered questions</h2>
{_unanswered(report)}
<h2>Searches that found nothing close, by condition named</h2>
{_table(gap_lines(report), "None: every search found something close.")}
<h2>Weekly questions and answer rate</h2>
<img alt="Weekly questions and answer rate by top conditions" src="data:image/png;base64,{image}">
<p class="note">Counts from 1 to 4 are shown as "fewer than 5", so a rare condition does not
point at one member. No message text or search text is stored or shown.</p>
</body>
</html>
"""
