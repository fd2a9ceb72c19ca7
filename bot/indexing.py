"""What the bot keeps in memory about the channels it indexes, and the one place it forgets it.

Stored data (posts, vectors, channels, backfill checkpoints) is erased by the knowledge service:
every teardown is one service call. Before that call, the teardown asks this object to drop the
bot's own state: the backfill job (cancelled first, so that no batch lands after the erase), the
enabled-channel cache and the threads already registered with the service.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import discord

from bot.backfill import Backfiller
from bot.offload import Offloader
from knowledge.service import KnowledgeService


class IndexedChannels:
    """Enabled channel ids per guild (a cache of the service's answer), registered threads, and
    forgetting a channel, thread or guild."""

    def __init__(self, service: KnowledgeService, offload: Offloader, backfill: Backfiller) -> None:
        self.service = service
        self.offload = offload
        self.backfill = backfill
        self._enabled: dict[int, set[int]] = {}
        self._threads: dict[int, tuple[int, int | None]] = {}  # thread -> (guild, parent)

    # -- enabled channels --------------------------------------------------------------------

    async def enabled_ids(self, guild_id: int) -> set[int]:
        """Enabled channel ids of a guild (read from the service once, then kept in step)."""
        if guild_id not in self._enabled:
            self._enabled[guild_id] = await self.offload.run(
                self.service.enabled_channel_ids, guild_id
            )
        return self._enabled[guild_id]

    def mark_enabled(self, guild_id: int, channel_id: int) -> None:
        """An admin enabled a channel (the service already records it)."""
        ids = self._enabled.get(guild_id)
        if ids is not None:  # not loaded yet: the next read comes from the database
            ids.add(channel_id)

    # -- threads registered with the service -------------------------------------------------

    def knows_thread(self, thread_id: int) -> bool:
        return thread_id in self._threads

    def remember_threads(self, threads: Iterable[discord.Thread]) -> None:
        """Threads whose channel record the service now holds (no need to upsert again)."""
        for thread in threads:
            self._threads[thread.id] = (thread.guild.id, thread.parent_id)

    # -- teardown: the bot's side ------------------------------------------------------------

    async def forget_channel(self, guild_id: int, channel_id: int) -> None:
        """A channel is disabled, deleted or gone: stop its backfill, drop it from the cache."""
        await self.backfill.cancel(channel_id)
        ids = self._enabled.get(guild_id)
        if ids is not None:
            ids.discard(channel_id)
        self._drop_threads(lambda guild, parent: parent == channel_id)

    def forget_thread(self, thread_id: int) -> None:
        """A thread was deleted."""
        self._threads.pop(thread_id, None)

    async def forget_guild(self, guild_id: int) -> None:
        """Kindred was removed from a guild: stop its backfills, drop everything cached."""
        await self.backfill.cancel_guild(guild_id)
        self._enabled.pop(guild_id, None)
        self._drop_threads(lambda guild, parent: guild == guild_id)

    def _drop_threads(self, match: Callable[[int, int | None], bool]) -> None:
        self._threads = {t: at for t, at in self._threads.items() if not match(*at)}
