"""On (re)connect, resume unfinished backfills and catch up on what was posted while away."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from discord.ext import commands

from bot.adapters import IndexableChannel

if TYPE_CHECKING:
    from bot.client import KindredBot

log = logging.getLogger(__name__)


class BackfillCog(commands.Cog):
    """Queues a catch-up backfill for every enabled channel when the bot is ready."""

    def __init__(self, bot: KindredBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        if self.bot.settings.discord.catch_up_on_start:
            await self.catch_up()

    async def catch_up(self) -> int:
        """Queue every enabled channel (each continues from its checkpoint); returns how many."""
        bot = self.bot
        queued = 0
        for guild in bot.guilds:
            for channel_id in sorted(await bot.enabled_ids(guild.id)):
                channel = guild.get_channel(channel_id)
                if isinstance(channel, IndexableChannel):
                    bot.backfill.enqueue(channel)
                    queued += 1
                elif channel is None:
                    await self._forget(guild.id, channel_id)
        if queued:
            log.info("catch-up queued for %d channels", queued)
        return queued

    async def _forget(self, guild_id: int, channel_id: int) -> None:
        """An enabled channel deleted while the bot was away: purge it."""
        bot = self.bot
        bot.mark_enabled(guild_id, channel_id, False)
        removed = await bot.run_sync(bot.service.purge_channel, guild_id, channel_id)
        await bot.run_sync(bot.backfill.checkpoints.forget_channel, guild_id, channel_id)
        log.info("channel %s vanished while offline: purged %d posts", channel_id, removed)
