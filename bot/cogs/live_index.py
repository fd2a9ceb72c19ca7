"""Live indexing: new, edited and deleted messages, threads, deleted channels, removed guilds.

Nothing from a channel that is not enabled is stored, embedded or logged; logs carry ids and
counts only.
"""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.adapters import Place, channel_record, is_indexable_author, place_of, post_record
from bot.client import KindredBot

log = logging.getLogger(__name__)


class LiveIndexCog(commands.Cog):
    """Keeps the knowledge store in step with what happens on Discord."""

    def __init__(self, bot: KindredBot) -> None:
        self.bot = bot

    async def _enabled_place(self, channel: object, guild_id: int | None) -> Place | None:
        place = place_of(channel, guild_id)
        if place is None:
            return None
        if place.channel_id not in await self.bot.indexed.enabled_ids(place.guild_id):
            return None
        return place

    async def _register_thread(self, channel: object) -> None:
        indexed = self.bot.indexed
        if isinstance(channel, discord.Thread) and not indexed.knows_thread(channel.id):
            await self.bot.offload.run(self.bot.service.upsert_channels, [channel_record(channel)])
            indexed.remember_threads([channel])

    async def _ingest(self, message: discord.Message) -> None:
        if not is_indexable_author(message):
            return
        place = await self._enabled_place(
            message.channel, message.guild.id if message.guild else None
        )
        if place is None:
            return
        await self._register_thread(message.channel)
        service, offload = self.bot.service, self.bot.offload
        report = await offload.run(service.ingest, [post_record(message, place)])
        if report.flagged:  # crisis language: answered within this same event handling
            await self.bot.respond_to_flags(message, report.flagged)
        await offload.run(service.flush)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        await self._ingest(message)

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """Edits of cached and uncached messages alike: re-ingest (re-embeds changed text)."""
        await self._ingest(payload.message)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        if payload.guild_id is not None:
            await self._delete(payload.guild_id, [payload.message_id])

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        if payload.guild_id is not None:
            await self._delete(payload.guild_id, sorted(payload.message_ids))

    async def _delete(self, guild_id: int, message_ids: list[int]) -> None:
        if not await self.bot.indexed.enabled_ids(guild_id):
            return
        ids = [str(i) for i in message_ids]
        await self.bot.offload.run(self.bot.service.delete_messages, guild_id, ids)
        await self.bot.offload.run(self.bot.service.flush)

    @commands.Cog.listener()
    async def on_thread_create(self, thread: discord.Thread) -> None:
        """A new thread or forum post under an enabled channel is registered (its starter
        message arrives as a message event)."""
        if await self._enabled_place(thread, thread.guild.id) is not None:
            await self._register_thread(thread)

    @commands.Cog.listener()
    async def on_thread_update(self, before: discord.Thread, after: discord.Thread) -> None:
        if before.name != after.name and await self._enabled_place(after, after.guild.id):
            await self.bot.offload.run(self.bot.service.upsert_channels, [channel_record(after)])

    @commands.Cog.listener()
    async def on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        bot = self.bot
        if payload.parent_id not in await bot.indexed.enabled_ids(payload.guild_id):
            return
        bot.indexed.forget_thread(payload.thread_id)
        await bot.offload.run(bot.service.delete_thread, payload.guild_id, payload.thread_id)

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        bot = self.bot
        if channel.id not in await bot.indexed.enabled_ids(channel.guild.id):
            return
        await bot.indexed.forget_channel(channel.guild.id, channel.id)
        removed = await bot.offload.run(bot.service.purge_channel, channel.guild.id, channel.id)
        log.info("channel %s deleted: purged %d posts", channel.id, removed)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Kindred was removed from a server: forget everything about it."""
        bot = self.bot
        await bot.indexed.forget_guild(guild.id)
        removed = await bot.offload.run(bot.service.purge_guild, guild.id)
        log.info("removed from guild %s: purged %d posts", guild.id, removed)


async def setup(bot: KindredBot) -> None:
    await bot.add_cog(LiveIndexCog(bot))
