"""What the bot says about crisis language: the member's resources and the moderators' alerts.

Only the alert pings anyone, and only the configured moderator role; reasons quote short pieces of
a member's message, so they are escaped like any quoted member text.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import discord

from bot.formatting import clamp_embed, quote_member_text, truncate
from knowledge.safety.desk import GuildSafetyConfig, OpenAlert

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


def message_url(guild_id: int, channel_id: int, message_id: int | str) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def format_age(age: timedelta) -> str:
    """An alert's age in words a moderator reads at a glance: 40 min, 3 h 5 min, 2 d 4 h."""
    minutes = max(0, int(age.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def open_alert_lines(alerts: list[OpenAlert], total: int, now: datetime) -> str:
    """Unclaimed alerts by jump link and age, oldest first; never the member's words."""
    lines = []
    for alert in alerts:
        kind = "report" if alert.reported else alert.level
        url = message_url(alert.guild_id, alert.place_id, alert.external_id)
        again = ", raised again" if alert.escalated else ""
        lines.append(f"• {kind}, {format_age(alert.age(now))} old{again}: {url}")
    if total > len(alerts):
        lines.append(f"… and {total - len(alerts)} more.")
    return "\n".join(lines)


def escalation_embed(
    *,
    level: str,
    jump_url: str,
    alert_url: str | None,
    channel_id: int,
    author_id: int,
    minutes: float,
) -> discord.Embed:
    """An alert raised again because nobody claimed it: where, who, the first alert; no quotes."""
    first = f"\n[The first alert]({alert_url})" if alert_url else ""
    embed = discord.Embed(
        title=f"Still unclaimed after {minutes:g} minutes — {level}",
        colour=discord.Colour.red() if level == "crisis" else discord.Colour.orange(),
        description=f"[Jump to the message]({jump_url}) in <#{channel_id}> "
        f"by <@{author_id}>{first}",
    )
    embed.set_footer(text="Press “I'm on it” so other moderators know someone has it.")
    return clamp_embed(embed)


def digest_embed(alerts: list[OpenAlert], total: int, now: datetime) -> discord.Embed:
    """The daily digest of unclaimed alerts (jump links and ages only)."""
    embed = discord.Embed(
        title=f"Unclaimed alerts: {total}",
        colour=discord.Colour.orange(),
        description=open_alert_lines(alerts, total, now),
    )
    embed.set_footer(text="Open an alert and press “I'm on it” once someone has it.")
    return clamp_embed(embed)
