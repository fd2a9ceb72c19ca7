"""`kindred doctor`'s Discord checks: the token logs in, and the application has the privileged
intents Kindred asks for (read from `GET /oauth2/applications/@me`, without opening a gateway)."""

from __future__ import annotations

import asyncio

import aiohttp
import discord

from bot.runner import BAD_TOKEN, UNREACHABLE
from knowledge.health import Check

TIMEOUT_SECONDS = 20.0
# Application flags (Discord's docs, "Application Flags"): the full intent once a verified bot is
# approved for it, the _LIMITED one for bots in fewer than 100 servers with the toggle on.
GATEWAY_GUILD_MEMBERS = 1 << 14
GATEWAY_GUILD_MEMBERS_LIMITED = 1 << 15
GATEWAY_MESSAGE_CONTENT = 1 << 18
GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 19
INTENTS = (
    ("Message Content Intent", GATEWAY_MESSAGE_CONTENT | GATEWAY_MESSAGE_CONTENT_LIMITED),
    ("Server Members Intent", GATEWAY_GUILD_MEMBERS | GATEWAY_GUILD_MEMBERS_LIMITED),
)
NO_TOKEN = "skipped: no DISCORD_TOKEN"
INTENTS_FIX = (
    "enable {names} under Bot → Privileged Gateway Intents in the Developer Portal, then restart"
)


def intents_check(flags: int) -> Check:
    """Whether the application's flags allow both privileged intents Kindred needs."""
    missing = [name for name, bits in INTENTS if not flags & bits]
    if missing:
        names = " and ".join(missing)
        return Check("discord intents", "fail", f"{names} off", INTENTS_FIX.format(names=names))
    return Check("discord intents", "ok", "Message Content and Server Members enabled")


async def check_discord(token: str | None) -> list[Check]:
    """Log in over REST with `token` and read the application's intent flags."""
    if not token:
        fix = "export DISCORD_TOKEN=... to check the token and intents too"
        return [Check("discord", "skip", NO_TOKEN, fix)]
    try:
        return await asyncio.wait_for(_ask(token), TIMEOUT_SECONDS)
    except discord.LoginFailure:
        return [Check("discord token", "fail", "Discord rejected the token", BAD_TOKEN)]
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        detail, _, fix = UNREACHABLE.format(reason=type(exc).__name__).partition("): ")
        return [Check("discord", "fail", f"{detail})", fix)]
    except discord.HTTPException as exc:
        detail = f"Discord answered {exc.status}: {exc.text[:120]}"
        return [Check("discord", "fail", detail, "try again later (see discordstatus.com)")]


async def _ask(token: str) -> list[Check]:
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    try:
        user = await http.static_login(token)
        app = await http.application_info()
    finally:
        await http.close()
    name = f"{user.get('username', '?')} (id {user.get('id', '?')})"
    found = Check("discord token", "ok", f"logs in as {name}")
    return [found, intents_check(int(app.get("flags") or 0))]
