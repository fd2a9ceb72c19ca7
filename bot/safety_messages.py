"""What the bot says about crisis language: the member's resources and the moderators' alerts.

Only the alert pings anyone, and only the configured moderator role; reasons quote short pieces of
a member's message, so they are escaped like any quoted member text.
"""

from __future__ import annotations

import discord

from bot.formatting import clamp_embed, quote_member_text, truncate
from knowledge.safety.desk import GuildSafetyConfig

RESOURCES_INTRO = (
    "It sounds like things may be really hard right now. You're not alone, and people here care. "
    "Kindred is a bot and can't help in an emergency, but these people can:"
)
MODERATORS_TOLD = "A moderator has been asked to check in with you."
LEVEL_TITLES = {"crisis": "Possible crisis", "concern": "Concern", "report": "Reported message"}


def resources_message(config: GuildSafetyConfig) -> str:
    """The text sent to a member whose post suggests they may be in danger."""
    parts = [RESOURCES_INTRO, "", config.resources]
    if config.alerts_configured:
        parts += ["", MODERATORS_TOLD]
    return truncate("\n".join(parts), 2000)


def alert_embed(
    *,
    level: str,
    reasons: list[str],
    jump_url: str,
    author_id: int,
    channel_id: int,
    reported: bool,
) -> discord.Embed:
    """The moderators' alert: level, reasons, where, who (a mention in an embed never pings)."""
    title = LEVEL_TITLES["report" if reported else level]
    embed = discord.Embed(
        title=f"{title} — {level}",
        colour=discord.Colour.red() if level == "crisis" else discord.Colour.orange(),
        description=f"[Jump to the message]({jump_url}) in <#{channel_id}> by <@{author_id}>",
    )
    if reasons:
        shown = "\n".join(f"• {quote_member_text(r, 150)}" for r in reasons[:8])
        embed.add_field(name="Why", value=shown, inline=False)
    source = "A member reported this message." if reported else "Found by Kindred's assessment."
    embed.add_field(name="Source", value=source, inline=False)
    embed.set_footer(text="Press “I'm on it” so other moderators know someone has it.")
    return clamp_embed(embed)


def alert_mentions(role_id: int | None) -> discord.AllowedMentions:
    """Nothing may be pinged except the moderator role (and only when one is configured)."""
    if role_id is None:
        return discord.AllowedMentions.none()
    return discord.AllowedMentions(
        everyone=False, users=False, roles=[discord.Object(role_id)], replied_user=False
    )
