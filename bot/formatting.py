"""Everything the bot says goes through here: no pings, members' words escaped, Discord's limits.

`respond`, `edit_original` and `edit_response` are the only ways cogs and views reply; each passes
`AllowedMentions.none()`, truncates content and clamps embeds.
"""

from __future__ import annotations

import re
from typing import Any

import discord

from knowledge.curation.entries import CURATED_LABEL
from knowledge.records import SearchHit, SnippetPart

NO_MENTIONS = discord.AllowedMentions.none()
ELLIPSIS = "…"

CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FIELD_COUNT_LIMIT = 25
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000

DISCLAIMER = "These are members' own experiences, not medical advice."
EXPERIENCE_LABEL = "A member shared:"
NOTHING_CLOSE = "Nothing close to that was found in the channels you can read."
NEAREST_LABEL = "Not close, but the nearest:"
NOT_CLOSE_LABEL = "Not close:"
NEAREST_SHOWN = 3
SNIPPET_LIMIT = 600
_ANGLE_MENTION = re.compile(r"<(@[!&]?|#)(\d+)>")
_TRAILING_ESCAPES = re.compile(r"\\+$")


def truncate(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending in an ellipsis when something was cut."""
    if len(text) <= limit:
        return text
    cut = _TRAILING_ESCAPES.sub("", text[: max(0, limit - 1)])
    return cut + ELLIPSIS


def quote_member_text(text: str, limit: int = SNIPPET_LIMIT) -> str:
    """A member's words made inert: markdown escaped, mentions broken, within `limit`."""
    raw = text[: limit * 2]  # escaping at most doubles it; no need to process more
    return truncate(_inert(raw), limit)


def _inert(text: str) -> str:
    escaped = discord.utils.escape_markdown(text)
    escaped = discord.utils.escape_mentions(escaped)
    # escape_mentions leaves channel mentions and some forms alone: break every <@…>/<#…> too
    return _ANGLE_MENTION.sub(lambda m: f"<{m.group(1)}\u200b{m.group(2)}>", escaped)


def safe_name(name: str | None, limit: int = 100) -> str:
    """A channel or thread name for display (escaped like member text)."""
    return quote_member_text(name or "unknown", limit)


def snippet_markdown(parts: tuple[SnippetPart, ...], limit: int = SNIPPET_LIMIT) -> str:
    """Snippet text with matched words in bold, escaped, within `limit` characters."""
    out: list[str] = []
    used = 0
    for part in parts:
        piece = _inert(part.text)
        if part.match and piece.strip():
            piece = f"**{piece}**"
        if used + len(piece) > limit:
            room = limit - used - 1
            if room > 0 and not part.match:
                out.append(_TRAILING_ESCAPES.sub("", piece[:room]))
            out.append(ELLIPSIS)
            break
        out.append(piece)
        used += len(piece)
    return "".join(out)


def jump_url(hit: SearchHit) -> str:
    """Link to the message; for a thread post the thread is the channel in the link."""
    where = hit.thread_id or hit.channel_id
    return f"https://discord.com/channels/{hit.guild_id}/{where}/{hit.external_id}"


def hit_field(hit: SearchHit, number: int, channel_name: str | None) -> tuple[str, str]:
    """One result as an embed field (name, value), labelled as a member's experience (and as
    not close when it is below the relevance floor)."""
    place = f"#{safe_name(channel_name or hit.channel_name or str(hit.channel_id), 80)}"
    if hit.thread_name:
        place += f" › {safe_name(hit.thread_name, 80)}"
    label = EXPERIENCE_LABEL if hit.close else f"{NOT_CLOSE_LABEL} {EXPERIENCE_LABEL}"
    if hit.curated:  # a knowledge-base entry: no member's message to jump to
        label = f"{CURATED_LABEL}:"
    name = truncate(f"{number}. {label} {place} · {hit.created_at:%Y-%m-%d}", 256)
    link = "\n(Read it whole with `/kb show`.)" if hit.curated else ""
    link = link or f"\n[Jump to the post]({jump_url(hit)})"
    body = snippet_markdown(hit.snippet, FIELD_VALUE_LIMIT - len(link) - 4)
    return name, truncate(f"{body}{link}", FIELD_VALUE_LIMIT)


def results_embed(
    title: str,
    hits: list[SearchHit],
    start: int,
    total: int,
    channel_names: dict[int, str],
) -> discord.Embed:
    """One page of results (hits are already the page), numbered from `start` + 1."""
    embed = discord.Embed(title=truncate(title, TITLE_LIMIT), colour=discord.Colour.teal())
    for offset, hit in enumerate(hits):
        name, value = hit_field(hit, start + offset + 1, channel_names.get(hit.channel_id))
        embed.add_field(name=name, value=value, inline=False)
    end = start + len(hits)
    footer = f"Results {start + 1}–{end} of {total}. {DISCLAIMER}" if total else DISCLAIMER
    embed.set_footer(text=footer)
    return clamp_embed(embed)


def close_first(hits: list[SearchHit]) -> tuple[list[SearchHit], list[SearchHit]]:
    """The answers (hits that clear the relevance floor, in rank order) and the nearest few
    below it: those are no answer, shown only after the answers, labelled NOT_CLOSE_LABEL, or
    under NEAREST_LABEL when nothing close was found."""
    answers = [hit for hit in hits if hit.close]
    return answers, [hit for hit in hits if not hit.close][:NEAREST_SHOWN]


def nearest_embed(
    about: str, hits: list[SearchHit], channel_names: dict[int, str]
) -> discord.Embed:
    """The nearest posts when nothing close was found, under NEAREST_LABEL, never as answers."""
    embed = discord.Embed(
        title=NEAREST_LABEL,
        description=truncate(about, 300),
        colour=discord.Colour.light_grey(),
    )
    for number, hit in enumerate(hits, start=1):
        name, value = hit_field(hit, number, channel_names.get(hit.channel_id))
        embed.add_field(name=name, value=value, inline=False)
    embed.set_footer(text=DISCLAIMER)
    return clamp_embed(embed)


def notice_embed(title: str, description: str) -> discord.Embed:
    embed = discord.Embed(title=truncate(title, TITLE_LIMIT), description=description)
    return clamp_embed(embed)


def clamp_embed(embed: discord.Embed) -> discord.Embed:
    """Enforce every embed limit (per field and 6000 in total), cutting with an ellipsis."""
    if embed.title:
        embed.title = truncate(embed.title, TITLE_LIMIT)
    if embed.description:
        embed.description = truncate(embed.description, DESCRIPTION_LIMIT)
    if embed.footer.text:
        embed.set_footer(text=truncate(embed.footer.text, FOOTER_LIMIT))
    if embed.author.name:
        embed.set_author(name=truncate(embed.author.name, AUTHOR_LIMIT))
    fields = [
        (truncate(f.name or "", FIELD_NAME_LIMIT), truncate(f.value or "", FIELD_VALUE_LIMIT))
        for f in embed.fields
    ][:FIELD_COUNT_LIMIT]
    embed.clear_fields()
    for name, value in fields:
        embed.add_field(name=name, value=value, inline=False)
    while len(embed) > EMBED_TOTAL_LIMIT:
        excess = len(embed) - EMBED_TOTAL_LIMIT
        if embed.fields:
            last = embed.fields[-1]
            value = last.value or ""
            if len(value) > excess + 20:
                embed.set_field_at(
                    len(embed.fields) - 1,
                    name=last.name or "",
                    value=truncate(value, len(value) - excess),
                    inline=False,
                )
            else:
                embed.remove_field(len(embed.fields) - 1)
        elif embed.description:
            embed.description = truncate(embed.description, len(embed.description) - excess)
        else:
            break
    return embed


def _payload(content: str | None, embed: discord.Embed | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"allowed_mentions": NO_MENTIONS}
    if content is not None:
        kwargs["content"] = truncate(content, CONTENT_LIMIT)
    if embed is not None:
        kwargs["embed"] = clamp_embed(embed)
    return kwargs


async def respond(
    interaction: discord.Interaction[Any],
    content: str | None = None,
    *,
    embed: discord.Embed | None = None,
    view: discord.ui.View | None = None,
    file: discord.File | None = None,
    ephemeral: bool = True,
) -> None:
    """Answer an interaction (first response, or a follow-up when it was already answered)."""
    kwargs = _payload(content, embed)
    if view is not None:
        kwargs["view"] = view
    if file is not None:
        kwargs["file"] = file
    if interaction.response.is_done():
        await interaction.followup.send(ephemeral=ephemeral, **kwargs)
    else:
        await interaction.response.send_message(ephemeral=ephemeral, **kwargs)


async def edit_original(
    interaction: discord.Interaction[Any],
    content: str | None = None,
    *,
    embed: discord.Embed | None = None,
    view: discord.ui.View | None = None,
    clear_view: bool = False,
) -> None:
    """Edit the (deferred or sent) original response."""
    await interaction.edit_original_response(**_edit_payload(content, embed, view, clear_view))


async def edit_response(
    interaction: discord.Interaction[Any],
    content: str | None = None,
    *,
    embed: discord.Embed | None = None,
    view: discord.ui.View | None = None,
    clear_view: bool = False,
) -> None:
    """Answer a component click by editing the message it is on (callback type 7)."""
    await interaction.response.edit_message(**_edit_payload(content, embed, view, clear_view))


def _edit_payload(
    content: str | None, embed: discord.Embed | None, view: discord.ui.View | None, clear: bool
) -> dict[str, Any]:
    kwargs = _payload(content, embed)
    if view is not None or clear:
        kwargs["view"] = view
    return kwargs


async def send(
    target: discord.abc.Messageable,
    content: str | None = None,
    *,
    embed: discord.Embed | None = None,
    view: discord.ui.View | None = None,
    reply_to: discord.Message | None = None,
    allowed_mentions: discord.AllowedMentions = NO_MENTIONS,
) -> discord.Message:
    """Post a message in a channel or DM (a reply when `reply_to` is given), within limits.

    Pings nobody unless the caller passes narrower `allowed_mentions` (crisis alerts name the
    moderator role, and only it)."""
    kwargs = _payload(content, embed)
    kwargs["allowed_mentions"] = allowed_mentions
    if view is not None:
        kwargs["view"] = view
    if reply_to is not None:
        kwargs["reference"] = reply_to
        kwargs["mention_author"] = False
    return await target.send(**kwargs)


def progress_line(
    name: str, fetched: int, rate: float, fraction: float | None, eta_seconds: float | None
) -> str:
    """`#name: 1,234 messages · 56.7/s · 40% · about 2 min left`."""
    parts = [f"#{safe_name(name, 80)}: {fetched:,} messages"]
    if rate > 0:
        parts.append(f"{rate:,.1f}/s")
    if fraction is not None:
        parts.append(f"{min(max(fraction, 0.0), 1.0):.0%}")
    if eta_seconds is not None:
        parts.append(f"about {human_duration(eta_seconds)} left")
    return " · ".join(parts)


def human_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
