"""What the suggestion feature says: the public reply, `/similar`, the helper's DM."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.formatting import DISCLAIMER, clamp_embed, hit_field, truncate
from knowledge.records import SearchHit

REPLY_INTRO = "While you wait for replies, members have shared about something like this before:"
REPLY_TITLE = "Earlier threads that may help"
REPLY_FOOTER = f"{DISCLAIMER} Not what you need? Press “Not helpful”."
HIDDEN_NOTE = "Suggestions hidden: marked not helpful."
FEEDBACK_NOTED = (
    "Thanks, that is counted. Only the member who asked, or a moderator, can hide the suggestions."
)
GONE = "These suggestions are no longer available."
SIMILAR_TITLE = "Earlier threads like this"
NOTHING_SIMILAR = "Nothing close to that was found in the channels you can read."
NO_TEXT = "Give a `text`, or use `/similar` inside a thread or forum post."


def threads_embed(
    title: str, hits: Sequence[SearchHit], channel_names: dict[int, str], footer: str
) -> discord.Embed:
    """Up to three prior threads, numbered, each labelled as a member's experience."""
    embed = discord.Embed(title=truncate(title, 256), colour=discord.Colour.teal())
    for number, hit in enumerate(hits, start=1):
        name, value = hit_field(hit, number, channel_names.get(hit.channel_id))
        embed.add_field(name=name, value=value, inline=False)
    embed.set_footer(text=footer)
    return clamp_embed(embed)


def hidden_embed() -> discord.Embed:
    return discord.Embed(description=HIDDEN_NOTE, colour=discord.Colour.light_grey())


def helper_request(
    channel_id: int, jump_url: str, conditions: Sequence[str], minutes: float, daily: int
) -> str:
    """The private message to a helper: where, about which condition, a jump link; never the
    question's text."""
    about = ", ".join(conditions[:3]) or "a condition you help with"
    waited = f"{minutes:g} minutes" if minutes < 120 else f"{minutes / 60:g} hours"
    return truncate(
        f"Hi! A question in <#{channel_id}> about **{about}** has had no reply for {waited}. "
        f"If you can, have a look: {jump_url}\n"
        f"You get these because you chose to help newcomers (at most {daily} a day, never in "
        "your quiet hours). Change it with `/profile helper` or `/profile quiet`.",
        2000,
    )
