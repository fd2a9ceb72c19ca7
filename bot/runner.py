"""Start-up: settings, logging, the service and the bot; failures end in one clear line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import discord

from bot.client import KindredBot, make_bot
from bot.config import TOKEN_ENV, BotSettings, load_bot_settings
from bot.sharding import ShardSet
from knowledge.errors import KindredError
from knowledge.logs import configure_logging
from knowledge.service import KnowledgeService

log = logging.getLogger(__name__)

NO_TOKEN = (
    f"{TOKEN_ENV} is not set: export the bot token from the Discord Developer Portal "
    f"(Bot → Reset Token), e.g. `export {TOKEN_ENV}=...`, then run `kindred run` again."
)
BAD_TOKEN = (
    f"Discord rejected the token in {TOKEN_ENV}: copy a fresh one from the Developer Portal "
    "(Bot → Reset Token) and try again."
)
UNREACHABLE = (
    "Discord could not be reached ({reason}): check this machine's network connection, DNS and "
    "proxy settings, then run `kindred run` again."
)
NO_INTENTS = (
    "Discord refused the privileged intents: enable Message Content Intent and Server Members "
    "Intent under Bot → Privileged Gateway Intents in the Developer Portal, then restart."
)


class StartupError(Exception):
    """A problem the operator must fix; the message is the one line to print."""


def read_token() -> str:
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise StartupError(NO_TOKEN)
    return token


def load(config: Path | None, data_dir: Path | None) -> BotSettings:
    try:
        return load_bot_settings(config).with_data_dir(data_dir)
    except KindredError as exc:
        raise StartupError(exc.detail) from None


ServiceFactory = Callable[[BotSettings], KnowledgeService]
BotFactory = Callable[[KnowledgeService, BotSettings, ShardSet | None], KindredBot]
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.asynccontextmanager
async def graceful_signals(bot: KindredBot) -> AsyncIterator[None]:
    """SIGTERM and SIGINT close the bot (no new backfill work, the batch being ingested commits,
    then the runner saves the indexes and the process exits 0). A second signal exits at once
    (128 + the signal number): SQL stays consistent through its transactions, and index files are
    only ever replaced whole, so the next start rebuilds from SQL what was not saved. Where the
    loop cannot take signal handlers (not the main thread, Windows) nothing changes."""
    loop = asyncio.get_running_loop()
    closing: list[asyncio.Task[None]] = []

    def on_signal(signum: int) -> None:
        if closing:
            log.warning("second %s: exiting now", signal.Signals(signum).name)
            logging.shutdown()
            os._exit(128 + signum)
        log.info("%s: finishing the current batch, then stopping", signal.Signals(signum).name)
        closing.append(loop.create_task(bot.close(), name="kindred-shutdown"))

    installed = []
    for signum in STOP_SIGNALS:
        try:
            loop.add_signal_handler(signum, on_signal, signum)
        except (NotImplementedError, RuntimeError, ValueError):
            continue
        installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
        if closing:  # the close a signal started ends before the runner saves and closes
            await asyncio.wait(closing)


async def run_bot(
    settings: BotSettings,
    token: str,
    make_service: ServiceFactory = KnowledgeService,
    shards: ShardSet | None = None,
    bot_factory: BotFactory = make_bot,
) -> None:
    """Open the service, run the bot until it stops, then save and close everything.

    With `shards`, this process runs only those of Discord's shards and loads only their guilds'
    indexes; other processes sharing the database run the rest (see `bot.sharding`). SIGTERM and
    SIGINT stop it gracefully (`graceful_signals`); the health file ends as `stopped`.
    """
    service = await asyncio.to_thread(make_service, settings)
    bot: KindredBot | None = None
    ending = "failed"
    try:
        owns = shards.owns if shards is not None else None
        await asyncio.to_thread(service.start, None, owns)
        bot = bot_factory(service, settings, shards)
        async with bot:
            try:
                async with graceful_signals(bot):
                    await bot.start(token)
            except discord.LoginFailure:
                raise StartupError(BAD_TOKEN) from None
            except discord.PrivilegedIntentsRequired:
                raise StartupError(NO_INTENTS) from None
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                raise StartupError(UNREACHABLE.format(reason=type(exc).__name__)) from None
        ending = "stopped"
    finally:
        await asyncio.to_thread(service.flush, force=True)
        service.close()
        if bot is not None:
            await bot.health.stop(ending)


def main(
    config: Path | None = None, data_dir: Path | None = None, shards: ShardSet | None = None
) -> None:
    """`kindred run` / `python -m bot`: raises StartupError with the line to print."""
    token = read_token()
    settings = load(config, data_dir)
    configure_logging(settings.log_level)
    logging.getLogger("discord").setLevel(max(logging.INFO, logging.getLogger().level))
    try:
        asyncio.run(run_bot(settings, token, shards=shards))
    except KeyboardInterrupt:
        log.info("stopped")
