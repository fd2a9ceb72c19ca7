"""Members' signals: the "This helped" button (registered once, works on every message after a
restart) and `/solved` in a thread, for its asker or a moderator, with an optional pointer to the
reply that solved it."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.adapters import message_id_from
from bot.client import KindredBot
from bot.formatting import respond
from bot.helped import HelpedButton
from knowledge.curation.signals import ThreadQuestion
from knowledge.errors import InvalidInput

log = logging.getLogger(__name__)

NOT_A_THREAD = "Use `/solved` inside the thread (a forum post) whose question was answered."
NO_SUCH_REPLY = "I can't find that reply in this thread; paste its link or id from this thread."


def reply_id(value: str | None) -> int | None:
    """A message id from a link (`.../channels/g/c/m`) or a bare id; None when not given."""
    if value is None or not value.strip():
        return None
    found = message_id_from(value)
    if found is None:
        raise InvalidInput("bad_reply", "`reply` must be a message link or id from this thread.")
    return int(found)


def is_moderator(interaction: discord.Interaction[Any]) -> bool:
    perms = interaction.permissions
    return bool(perms.manage_messages or perms.manage_threads or perms.manage_guild)


class SignalsCog(commands.Cog):
    """ "This helped" and "solved"."""

    def __init__(self, bot: KindredBot) -> None:
        self.bot = bot
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(HelpedButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(HelpedButton)

    @app_commands.command(name="solved")
    @app_commands.guild_only()
    @app_commands.describe(reply="The reply that solved it: its message link or id (optional).")
    async def solved(self, interaction: discord.Interaction[Any], reply: str | None = None) -> None:
        """Mark this thread's question solved (the member who asked, or a moderator)."""
        thread = interaction.channel
        if interaction.guild is None or not isinstance(thread, discord.Thread):
            await respond(interaction, NOT_A_THREAD)
            return
        solution = reply_id(reply)
        if solution is not None:
            try:
                await thread.fetch_message(solution)
            except discord.HTTPException:
                await respond(interaction, NO_SUCH_REPLY)
                return
        seed = None
        if isinstance(thread.parent, discord.ForumChannel) and thread.owner_id is not None:
            asked = thread.created_at or discord.utils.snowflake_time(thread.id)
            seed = ThreadQuestion(thread.parent.id, thread.owner_id, asked)
        signals = self.bot.service.signals
        guild_id, user_id = interaction.guild.id, interaction.user.id
        moderator = is_moderator(interaction)
        done = await self.bot.offload.run(
            lambda: signals.mark_solved(
                guild_id,
                thread.id,
                user_id,
                moderator=moderator,
                solution_message_id=solution,
                seed=seed,
            )
        )
        pointer = " The reply that solved it is recorded." if solution is not None else ""
        text = "Marked solved. Thank you!" if done.first else "Updated: this thread is solved."
        await respond(interaction, text + pointer)


async def setup(bot: KindredBot) -> None:
    await bot.add_cog(SignalsCog(bot))
