"""The one place command errors become replies: Kindred errors → their short message, failed checks
→ "you need Manage Server", anything else → a generic apology and a log line with ids only."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import discord
from discord import app_commands

from bot.formatting import respond
from bot.logsafe import where
from knowledge.errors import InvalidInput, KindredError

log = logging.getLogger(__name__)

NEEDS_MANAGE_SERVER = "You need the **Manage Server** permission to do that."
NOT_IN_SERVER = "Kindred's commands work inside a server."
GENERIC = "Something went wrong in Kindred. The error was logged (without any message text)."


def reply_for(error: BaseException) -> str | None:
    """The text to show for an error, or None when it is unexpected."""
    if isinstance(error, app_commands.TransformerError):
        return "That option's value can't be used here."
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, InvalidInput):
        return error.detail if error.detail != error.reason else error.user_message
    if isinstance(error, KindredError):
        return error.detail
    if isinstance(error, app_commands.NoPrivateMessage):
        return NOT_IN_SERVER
    if isinstance(error, app_commands.CheckFailure):
        return NEEDS_MANAGE_SERVER
    return None


class KindredTree(app_commands.CommandTree[Any]):
    """A command tree whose errors are answered by `reply_for`."""

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        message = reply_for(error)
        if message is None:
            root = error.original if isinstance(error, app_commands.CommandInvokeError) else error
            command = interaction.command.qualified_name if interaction.command else "?"
            log.error(
                "command %s failed in guild %s for user %s: %s at %s",
                command,
                interaction.guild_id,
                interaction.user.id,
                type(root).__name__,
                where(root),
            )
            message = GENERIC
        if interaction.client.is_closed():
            return
        try:
            await respond(interaction, message)
        except (discord.HTTPException, aiohttp.ClientError, RuntimeError) as exc:
            log.warning("could not send an error reply: %s", type(exc).__name__)
