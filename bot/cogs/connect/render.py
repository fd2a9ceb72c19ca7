"""Embeds and buttons for match cards, introduction prompts and profiles (no identities).

Every button is a dynamic item (works after a restart) whose custom_id carries only an opaque
card token, a random batch id or an introduction id: never a member's id.
"""

from __future__ import annotations

from typing import Any

import discord

from bot.formatting import notice_embed, quote_member_text
from knowledge.matching.cards import Card
from knowledge.matching.profiles import ROLE_WORDS, ProfileView

CARD_FOOTER = "Names stay hidden until you both agree. Members' own experiences, not advice."
PROMPT_TITLE = "A member would like to be introduced to you"
NO_SAMPLE = "They chose no sample post."


def card_embed(card: Card) -> discord.Embed:
    """A fellow member as the asker may see them: conditions in common, role, activity."""
    embed = discord.Embed(
        title=f"A fellow member ({card.position + 1}/{card.total})",
        colour=discord.Colour.teal(),
    )
    _card_fields(embed, card)
    embed.set_footer(text=CARD_FOOTER)
    return embed


def prompt_embed(card: Card) -> discord.Embed:
    """The requester as the target may see them before answering."""
    embed = discord.Embed(
        title=PROMPT_TITLE,
        description="If you accept, Kindred opens a private thread with just the two of you. "
        "If you decline or don't answer, they are not told.",
        colour=discord.Colour.teal(),
    )
    _card_fields(embed, card)
    embed.set_footer(text="Names stay hidden until you accept.")
    return embed


def _card_fields(embed: discord.Embed, card: Card) -> None:
    common = "\n".join(f"• {quote_member_text(c, 120)}" for c in card.conditions) or "—"
    embed.add_field(name="In common", value=common, inline=False)
    embed.add_field(name="Their role", value=card.role or "—", inline=True)
    embed.add_field(name="Activity", value=card.activity, inline=True)
    sample = f"> {quote_member_text(card.sample, 700)}" if card.sample else NO_SAMPLE
    embed.add_field(name="In their words", value=sample, inline=False)


def profile_embed(view: ProfileView, labels: dict[str, str]) -> discord.Embed:
    """A member's own profile (ephemeral): declared and inferred conditions, sample, helper."""
    lines = ["**Conditions you declared:**"]
    lines += [
        f"• {quote_member_text(c.name, 100)}: {ROLE_WORDS.get(c.role, c.role)}"
        + (" · you help with it" if c.helps else "")
        for c in view.conditions
    ] or ["• none yet: add one with `/profile condition`"]
    if view.inferred:
        used = "used for matching" if view.use_inferred else "not used unless you agree"
        lines.append(f"**From your own posts (only you see this; {used}):**")
        lines += [f"• {quote_member_text(labels.get(k, k), 100)}" for k in view.inferred]
    sample = quote_member_text(view.sample.content, 300) if view.sample else "none"
    lines.append(f"**Sample post on your card:** {sample}")
    lines.append(f"**Helping newcomers:** {'on' if view.helper else 'off'}")
    if view.quiet_hours is not None:
        start, end = view.quiet_hours
        lines.append(f"**Quiet hours (UTC):** {start:02d}:00–{end:02d}:00")
    lines.append(
        "Match cards show others only the conditions you share with them, your role, how "
        "recently you were active and your sample post: never your name."
    )
    return notice_embed("Your Kindred profile", "\n".join(lines))


def button(label: str, custom_id: str, style: discord.ButtonStyle, **more: Any) -> Any:
    return discord.ui.Button(label=label, custom_id=custom_id, style=style, **more)
