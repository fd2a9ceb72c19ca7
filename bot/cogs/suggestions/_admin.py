"""`/suggestions on|off|show` (Manage Server only): where similar threads are offered."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import KindredBot
from bot.formatting import respond
from bot.permissions import require_manage_guild

ON = (
    "Suggestions are on in <#{channel}>. New forum posts, threads and questions there get one "
    "reply with up to {items} earlier threads (members' consented posts from indexed channels "
    "that everyone who can read <#{channel}> can read), or nothing when nothing is close. "
    "Questions with no reply from another member after {minutes:g} minutes are sent privately "
    "to up to {helpers} members who help with that condition."
)
ALREADY_ON = "Suggestions were already on in <#{channel}>."
OFF = "Suggestions are off in <#{channel}>: no new replies, and no questions sent to helpers."
ALREADY_OFF = "Suggestions were not on in <#{channel}>."


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class SuggestionsAdminCog(commands.GroupCog, group_name="suggestions"):
    """Similar-thread suggestions and helper routing, per channel."""

    def __init__(self, bot: KindredBot) -> None:
        self.bot = bot
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """The runtime check behind default_permissions (which server admins can override)."""
        return require_manage_guild(interaction)

    @app_commands.command(name="on")
    @app_commands.describe(channel="A forum or text channel where members ask questions.")
    async def turn_on(
        self,
        interaction: discord.Interaction[Any],
        channel: discord.TextChannel | discord.ForumChannel,
    ) -> None:
        """Offer earlier threads for new questions in a channel, and route unanswered ones."""
        guild = _guild(interaction)
        suggestions = self.bot.service.suggestions
        changed = await self.bot.offload.run(
            lambda: suggestions.enable_channel(guild.id, channel.id, by=interaction.user.id)
        )
        s = self.bot.service.settings.suggestions
        text = ON if changed else ALREADY_ON
        await respond(
            interaction,
            text.format(
                channel=channel.id,
                items=s.max_items,
                minutes=s.route_after_minutes,
                helpers=s.max_helpers,
            ),
        )

    @app_commands.command(name="off")
    @app_commands.describe(channel="The channel to stop suggestions in.")
    async def turn_off(
        self,
        interaction: discord.Interaction[Any],
        channel: discord.TextChannel | discord.ForumChannel,
    ) -> None:
        """Stop offering earlier threads (and routing questions) in a channel."""
        guild = _guild(interaction)
        suggestions = self.bot.service.suggestions
        changed = await self.bot.offload.run(suggestions.disable_channel, guild.id, channel.id)
        await respond(interaction, (OFF if changed else ALREADY_OFF).format(channel=channel.id))

    @app_commands.command(name="show")
    async def show(self, interaction: discord.Interaction[Any]) -> None:
        """Channels with suggestions on, and how they were received."""
        guild = _guild(interaction)
        suggestions = self.bot.service.suggestions
        channels = await self.bot.offload.run(suggestions.enabled_channel_ids, guild.id)
        posted, unhelpful = await self.bot.offload.run(suggestions.feedback_counts, guild.id)
        stats = await self.bot.offload.run(suggestions.routing.stats, guild.id)
        where = ", ".join(f"<#{c}>" for c in sorted(channels)) or "no channel yet"
        await respond(
            interaction,
            f"Suggestions are on in: {where}.\n"
            f"Replies posted: {posted}; marked not helpful: {unhelpful}.\n"
            f"Questions: {stats.questions}; sent to helpers: {stats.routed}; answered after "
            f"that: {stats.answered_after_routing}.",
        )


def _guild(interaction: discord.Interaction[Any]) -> discord.Guild:
    if interaction.guild is None:
        raise app_commands.NoPrivateMessage()
    return interaction.guild
