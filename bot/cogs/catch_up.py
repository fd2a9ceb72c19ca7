"""Catching up: on (re)connect, resume unfinished backfills and fetch what was posted while away;
all the time, follow what other processes (another shard, the CLI) changed in the shared
database."""

from __future__ import annotations

import logging

from discord.ext import commands, tasks

from bot.client import KindredBot

log = logging.getLogger(__name__)


class CatchUpCog(commands.Cog):
    """Queues a catch-up backfill for every enabled channel when the bot is ready."""

    def __init__(self, bot: KindredBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.follow.change_interval(seconds=self.bot.settings.discord.follow_changes_seconds)
        self.follow.start()

    async def cog_unload(self) -> None:
        self.follow.cancel()

    @tasks.loop(seconds=2.0)
    async def follow(self) -> None:
        """Apply other processes' deletes, edits, new posts and consent changes to this one's
        indexes (the change log), so a delete made anywhere leaves these results within seconds."""
        try:
            seen = await self.bot.offload.run(self.bot.service.follow_changes)
        except Exception:  # a database hiccup: the next round retries from the same mark
            log.warning("following the change log failed; retrying", exc_info=True)
            return
        if seen:
            log.debug("followed %d changes made by other processes", seen)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        if self.bot.settings.discord.catch_up_on_start:
            await self.catch_up()

    async def catch_up(self) -> int:
        """Queue every enabled channel (each continues from its checkpoint); returns how many."""
        bot = self.bot
        queued = 0
        for guild in bot.guilds:
            for channel_id in sorted(await bot.indexed.enabled_ids(guild.id)):
                channel = bot.indexable_channel(guild.id, channel_id)
                if channel is not None:
                    bot.backfill.enqueue(channel)
                    queued += 1
                elif guild.get_channel(channel_id) is None:
                    await self._purge(guild.id, channel_id)
        if queued:
            log.info("catch-up queued for %d channels", queued)
        return queued

    async def _purge(self, guild_id: int, channel_id: int) -> None:
        """An enabled channel deleted while the bot was away: purge it."""
        bot = self.bot
        await bot.indexed.forget_channel(guild_id, channel_id)
        removed = await bot.offload.run(bot.service.purge_channel, guild_id, channel_id)
        log.info("channel %s vanished while offline: purged %d posts", channel_id, removed)


async def setup(bot: KindredBot) -> None:
    await bot.add_cog(CatchUpCog(bot))
