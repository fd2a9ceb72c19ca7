"""The Discord client: one `commands.Bot` that holds the knowledge service and loads the cogs
as extensions by name (`setup_hook`), so that it imports none of them."""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import discord
from discord.ext import commands

from bot.adapters import IndexableChannel
from bot.backfill import Backfiller
from bot.config import BotSettings, health_path
from bot.errors import KindredTree
from bot.formatting import NO_MENTIONS
from bot.health import HealthReporter
from bot.indexing import IndexedChannels
from bot.logsafe import quiet_discord_debug, where
from bot.offload import Offloader
from bot.sharding import ShardSet
from knowledge.records import Flag
from knowledge.service import KnowledgeService

log = logging.getLogger(__name__)
EXTENSIONS = (
    "bot.cogs.admin",
    "bot.cogs.live_index",
    "bot.cogs.catch_up",
    "bot.cogs.search",
    "bot.cogs.safety",
    "bot.cogs.privacy",
    "bot.cogs.suggestions",
    "bot.cogs.curation",
    "bot.cogs.connect",
    "bot.cogs.signals",
    "bot.cogs.insights",
)
FlagHandler = Callable[[discord.Message, list[Flag]], Awaitable[None]]


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
        # Kindred never joins voice: no start-up warnings about voice libraries it does not need.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
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
        self.offload = Offloader()
        self.backfill = Backfiller(
            self.offload,
            service,
            settings.discord,
            find_channel=self.indexable_channel,
            threads_seen=self._threads_seen,
        )
        self.indexed = IndexedChannels(service, self.offload, self.backfill)
        self.open_views: set[discord.ui.View] = set()
        self._flag_handlers: list[FlagHandler] = []
        self.health = HealthReporter(
            self, health_path(settings), settings.discord.health_interval_seconds
        )

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        self.backfill.start()
        self.health.start()
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
        """No prefix commands: members' messages are only indexed (by the live-index cog)."""

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        """An event handler failed: log its type and place only (the message may quote text)."""
        error = sys.exc_info()[1]
        if error is None:
            log.error("event %s failed", event_method)
            return
        log.error("event %s failed: %s at %s", event_method, type(error).__name__, where(error))

    async def close(self) -> None:
        """Stop taking new work, let the batch being ingested commit, then disconnect (the
        runner saves the indexes afterwards). The health file says `stopping` meanwhile."""
        self.health.set_status("stopping")
        for view in list(self.open_views):
            view.stop()
        self.open_views.clear()
        await self.backfill.stop()
        # let running ingests and deletes commit before the store closes
        if not await self.offload.wait_idle(self.settings.discord.shutdown_wait_seconds):
            log.warning("closing with %d knowledge calls still running", self.offload.running)
        await super().close()
        await self.health.stop("stopping")

    # -- flagged posts -----------------------------------------------------------------------------

    def add_flag_handler(self, handler: FlagHandler) -> None:
        """Called with every new post the safety assessment flagged (the safety cog's answer)."""
        self._flag_handlers.append(handler)

    def remove_flag_handler(self, handler: FlagHandler) -> None:
        if handler in self._flag_handlers:
            self._flag_handlers.remove(handler)

    async def respond_to_flags(self, message: discord.Message, flags: list[Flag]) -> None:
        """Answer flagged posts (resources, alerts) within the event handling that indexed them."""
        if not self._flag_handlers:
            log.warning("message %s was flagged but no safety handler is loaded", message.id)
        for handler in list(self._flag_handlers):
            await handler(message, flags)

    # -- helpers the cogs share ------------------------------------------------------------------

    def indexable_channel(self, guild_id: int, channel_id: int) -> IndexableChannel | None:
        """A text or forum channel from the cache (None: gone, or another kind)."""
        guild = self.get_guild(guild_id)
        channel = guild.get_channel(channel_id) if guild else None
        return channel if isinstance(channel, IndexableChannel) else None

    def _threads_seen(self, threads: Iterable[discord.Thread]) -> None:
        self.indexed.remember_threads(threads)

    def track(self, view: discord.ui.View) -> None:
        """Remember a view so that closing the bot stops its timeout."""
        self.open_views = {v for v in self.open_views if not v.is_finished()}
        self.open_views.add(view)


class ShardedKindredBot(KindredBot, commands.AutoShardedBot):
    """A bot process that runs several of Discord's shards (`kindred run --shards 0-3
    --shard-count 8`); it sees, indexes and loads the indexes of only those shards' guilds."""


def make_bot(
    service: KnowledgeService, settings: BotSettings, shards: ShardSet | None = None
) -> KindredBot:
    """The bot for this process: all of Discord (no shards), or a set of shards."""
    if shards is None:
        return KindredBot(service, settings)
    return ShardedKindredBot(
        service, settings, shard_ids=list(shards.ids), shard_count=shards.count
    )
