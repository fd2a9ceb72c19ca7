"""Output people read: results without Discord markdown, reports in words, crisis posts by id.

Nothing here prints a post's text except search results; crisis posts are listed by message id
and place only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from rich.markup import escape
from rich.table import Table

from kindred.cli.common import EXPERIENCE_LABEL
from knowledge.curation.entries import CURATED_LABEL
from knowledge.records import Flag, IngestReport, SearchHit, Skip, SnippetPart

CRISIS = "crisis"
CONCERN = "concern"
MAX_LINE_DETAILS = 20
NOTHING_CLOSE = "Nothing close was found"
NEAREST_LABEL = "Not close, but the nearest:"
NOT_CLOSE_LABEL = "Not close:"
NEAREST_SHOWN = 3

# What each skip reason means, as the end of "Skipped N posts: 3 <words>, ...".
REASON_WORDS = {
    "empty": "empty",
    "no_text": "without words (only links, emoji or symbols)",
    "invalid_utf8": "not valid UTF-8",
    "not_text": "not text",
    "bad_record": "malformed",
    "bad_date": "with a date that is not usable (before 1970, past 9999 or not a date)",
    "id_too_long": "with a message id longer than 128 characters",
    "bad_id": "with a guild, channel, thread or author id that is not a valid number",
    "channel_not_enabled": "in channels not enabled for Kindred",
    "member_excluded": "by members who asked never to be indexed",
    "deleted_by_member": "deleted earlier at their author's request",
    "past_retention": "older than the guild's retention period",
    "channel_of_other_guild": "in channels that belong to another guild",
    "bot_message": "from bots or webhooks",
    "system_message": "system messages (joins, pins, new threads)",
}

_MENTION = re.compile(r"<@[!&]?(\d+)>")
_CHANNEL = re.compile(r"<#(\d+)>")
_EMOJI = re.compile(r"<a?:(\w+):\d+>")
_TIMESTAMP = re.compile(r"<t:(\d+)(?::[tTdDfFR])?>")
_LINK = re.compile(r"\[([^\]\n]+)\]\((?:https?://|<)[^)\s]+\)")
_HEADING = re.compile(r"^(?:#{1,3}|-#)\s+", re.MULTILINE)
_QUOTE = re.compile(r"^>>?>?\s?", re.MULTILINE)
_FENCE = re.compile(r"```\w*\n?")
_MARKERS = re.compile(r"\*\*|__|~~|\|\||`")
_EMPHASIS = re.compile(r"(?<![\w*])[*_](?=\S)|(?<=\S)[*_](?![\w*])")


def plain(text: str) -> str:
    """Discord markdown as plain words: no **, __, ~~, ||, `, heading or quote marks; links
    keep their label; mentions and custom emoji become readable tokens."""
    text = _MENTION.sub("@member", text)
    text = _CHANNEL.sub("#channel", text)
    text = _EMOJI.sub(r":\1:", text)
    text = _TIMESTAMP.sub("(a date)", text)
    text = _LINK.sub(r"\1", text)
    text = _FENCE.sub("", text)
    text = _HEADING.sub("", text)
    text = _QUOTE.sub("", text)
    text = _MARKERS.sub("", text)
    return _EMPHASIS.sub("", text)


def snippet_markup(parts: Iterable[SnippetPart]) -> str:
    """A result snippet as rich markup: plain text, matched words in bold."""
    return "".join(
        f"[bold]{escape(plain(p.text))}[/bold]" if p.match else escape(plain(p.text)) for p in parts
    )


def hits_table(title: str, hits: list[SearchHit], start: int = 1) -> Table:
    table = Table(title=title, caption=EXPERIENCE_LABEL, show_lines=True, expand=True)
    table.add_column("#", justify="right", width=3)
    table.add_column("where / who / when", width=28)
    table.add_column("what they shared")
    for number, hit in enumerate(hits, start=start):
        place = f"#{hit.channel_name or hit.channel_id}"
        if hit.thread_name:
            place += f" › {hit.thread_name}"
        who = hit.author_handle or f"member {hit.author_id}"
        if hit.curated:
            who = CURATED_LABEL
        where = escape(f"{place}\n{who}\n{hit.created_at:%Y-%m-%d}")
        table.add_row(str(number), where, snippet_markup(hit.snippet))
    return table


def close_first(hits: list[SearchHit]) -> tuple[list[SearchHit], list[SearchHit]]:
    """The answers (hits that clear the relevance floor, in rank order) and the nearest few
    below it: those are no answer, shown only after the answers under NOT_CLOSE_LABEL, or under
    NEAREST_LABEL when nothing close was found."""
    answers = [hit for hit in hits if hit.close]
    return answers, [hit for hit in hits if not hit.close][:NEAREST_SHOWN]


def counted(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def skip_words(skipped: Iterable[Skip]) -> str:
    """'2 malformed, 1 empty' from the skip reasons, most frequent first."""
    counts: dict[str, int] = {}
    for skip in skipped:
        counts[skip.reason] = counts.get(skip.reason, 0) + 1
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(
        f"{n} {REASON_WORDS.get(reason, reason.replace('_', ' '))}" for reason, n in ordered
    )


def summary_lines(report: IngestReport, guild: int, noun: str = "post") -> list[str]:
    """What an ingest or import stored and skipped, in words."""
    stored = report.inserted + report.updated + report.unchanged
    lines = [
        f"Stored {counted(stored, noun)} in guild {guild}: {report.inserted} new, "
        f"{report.updated} edited, {report.unchanged} unchanged."
    ]
    if report.truncated:
        lines.append(f"{counted(report.truncated, 'long ' + noun)} stored truncated.")
    if report.skipped:
        skipped = counted(len(report.skipped), noun)
        lines.append(f"Skipped {skipped}: {skip_words(report.skipped)}.")
    return lines


def line_details(skipped: Iterable[Skip]) -> list[str]:
    """One line per bad line of a file (capped), with its number and what is wrong."""
    bad = [s for s in skipped if s.line is not None or s.detail]
    lines = [
        f"{'line ' + str(s.line) if s.line is not None else s.external_id}: "
        f"{REASON_WORDS.get(s.reason, s.reason)}: {s.detail or ''}".rstrip(": ")
        for s in bad[:MAX_LINE_DETAILS]
    ]
    if len(bad) > MAX_LINE_DETAILS:
        lines.append(f"... and {len(bad) - MAX_LINE_DETAILS} more")
    return lines


def crisis_lines(
    report: IngestReport, place: Callable[[Flag], str], link: Callable[[Flag], str | None]
) -> list[str]:
    """Crisis posts by id and place (never their text), and what the operator should do next."""
    crisis = [f for f in report.flagged if f.level == CRISIS]
    concern = [f for f in report.flagged if f.level == CONCERN]
    lines: list[str] = []
    if crisis:
        lines.append(
            f"{counted(len(crisis), 'post')} read as crisis language. Kindred hides them from "
            "other members' search and suggestions (their authors and moderators still see them):"
        )
        for flag in crisis:
            url = link(flag)
            lines.append(
                f"  message {flag.external_id} in {place(flag)}" + (f"  {url}" if url else "")
            )
        lines.append(
            "Next step: ask a moderator to read each one where it was posted and, if it is "
            "recent, to check on its author."
        )
    if concern:
        lines.append(
            f"{counted(len(concern), 'post')} read as concern (still searchable; a moderator may "
            "want to read them): "
            + ", ".join(f.external_id for f in concern[:MAX_LINE_DETAILS])
            + (" ..." if len(concern) > MAX_LINE_DETAILS else "")
        )
    return lines
