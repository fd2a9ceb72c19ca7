"""The Discord client: one `commands.Bot` that holds the knowledge service and loads the cogs."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import discord
from discord.ext import commands

from bot.backfill import Backfiller
from bot.config import BotSettings
from bot.errors import KindredTree
from bot.formatting import NO_MENTIONS
from bot.logsafe import quiet_discord_debug, where
from knowledge.records import Flag
from knowledge.service import KnowledgeService

log = logging.getLogger(__name__)
T = TypeVar("T")
CLOSE_WAIT_SECONDS = 60.0


def kindred_intents() -> discord.Intents:
    """Guilds, guild messages, message content and members; no presences."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.message_content = True
    intents.members = True
    return intents


class KindredBot(commands.Bot):
    """Built once with its service and settings (discord.py examples/advanced_startup.py)."""

    def __init__(self, service: KnowledgeService, settings: BotSettings, **options: Any) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=kindred_intents(),
            allowed_mentions=NO_MENTIONS,
            tree_cls=KindredTree,
            help_command=None,
            **options,
        )
        quiet_discord_debug()
        self.service = service
        self.settings = settings
        self.backfill = Backfiller(self, service, settings.discord)
        self.known_threads: set[int] = set()
        self.open_views: set[discord.ui.View] = set()
        self._enabled: dict[int, set[int]] = {}
        self._inflight: set[asyncio.Task[Any]] = set()

    async def setup_hook(self) -> None:
        from bot.cogs.admin import AdminCog
        from bot.cogs.backfill import BackfillCog
        from bot.cogs.privacy import PrivacyCog
        from bot.cogs.safety import SafetyAdminCog, SafetyCog
        from bot.cogs.search import SearchCog
        from bot.cogs.sync import SyncCog

        cogs = (AdminCog, SyncCog, BackfillCog, SearchCog, SafetyCog, SafetyAdminCog, PrivacyCog)
        for cog in cogs:
            await self.add_cog(cog(self))
        self.backfill.start()
        if self.settings.discord.sync_commands:
            await self.sync_commands()

    async def sync_commands(self) -> None:
        dev_guild = self.settings.discord.dev_guild_id
        if dev_guild is None:
            synced = await self.tree.sync()
        else:
            target = discord.Object(dev_guild)
            self.tree.copy_global_to(guild=target)
            synced = await self.tree.sync(guild=target)
        log.info("synced %d application commands", len(synced))

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: members' messages are only indexed (by the sync cog)."""

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        """An event handler failed: log its type and place only (the message may quote text)."""
        error = sys.exc_info()[1]
        if error is None:
            log.error("event %s failed", event_method)
            return
        log.error("event %s failed: %s at %s", event_method, type(error).__name__, where(error))

    async def close(self) -> None:
        for view in list(self.open_views):
            view.stop()
        self.open_views.clear()
        await self.backfill.stop()
        if self._inflight:  # let running ingests and deletes commit before the store closes
            await asyncio.wait(set(self._inflight), timeout=CLOSE_WAIT_SECONDS)
        await super().close()

    async def respond_to_flags(self, message: discord.Message, flags: list[Flag]) -> None:
        """Hand posts the safety assessment flagged to the safety cog (resources, alerts)."""
        from bot.cogs.safety import SafetyCog

        cog = self.get_cog(SafetyCog.__cog_name__)
        if isinstance(cog, SafetyCog):
            await cog.handle_flags(message, flags)

    # -- helpers the cogs share ------------------------------------------------------------------

    def spawn_sync(self, fn: Callable[..., T], *args: Any) -> asyncio.Task[T]:
        """Start a blocking knowledge call in a worker thread; `close` waits for it to end."""
        task = asyncio.create_task(asyncio.to_thread(fn, *args))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return task

    async def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking knowledge call off the event loop (cancelling the caller does not
        abandon the thread: closing the bot waits for it)."""
        return await asyncio.shield(self.spawn_sync(fn, *args))

    async def enabled_ids(self, guild_id: int) -> set[int]:
        """Enabled channel ids of a guild (cached; the cogs keep the cache in step)."""
        if guild_id not in self._enabled:
            self._enabled[guild_id] = await self.run_sync(
                self.service.enabled_channel_ids, guild_id
            )
        return self._enabled[guild_id]

    def mark_enabled(self, guild_id: int, channel_id: int, enabled: bool) -> None:
        ids = self._enabled.get(guild_id)
        if ids is None:  # not loaded yet: the next read comes from the database
            return
        if enabled:
            ids.add(channel_id)
        else:
            ids.discard(channel_id)

    def forget_guild(self, guild_id: int) -> None:
        self._enabled.pop(guild_id, None)

    def track(self, view: discord.ui.View) -> None:
        """Remember a view so that closing the bot stops its timeout."""
        self.open_views = {v for v in self.open_views if not v.is_finished()}
        self.open_views.add(view)
