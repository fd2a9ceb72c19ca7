"""Start-up: settings, logging, the service and the bot; failures end in one clear line."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

import aiohttp
import discord

from bot.client import make_bot
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


async def run_bot(
    settings: BotSettings,
    token: str,
    make_service: ServiceFactory = KnowledgeService,
    shards: ShardSet | None = None,
) -> None:
    """Open the service, run the bot until it stops, then save and close everything.

    With `shards`, this process runs only those of Discord's shards and loads only their guilds'
    indexes; other processes sharing the database run the rest (see `bot.sharding`).
    """
    service = await asyncio.to_thread(make_service, settings)
    try:
        owns = shards.owns if shards is not None else None
        await asyncio.to_thread(service.start, None, owns)
        bot = make_bot(service, settings, shards)
        async with bot:
            try:
                await bot.start(token)
            except discord.LoginFailure:
                raise StartupError(BAD_TOKEN) from None
            except discord.PrivilegedIntentsRequired:
                raise StartupError(NO_INTENTS) from None
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                raise StartupError(UNREACHABLE.format(reason=type(exc).__name__)) from None
    finally:
        await asyncio.to_thread(service.flush, force=True)
        service.close()


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
