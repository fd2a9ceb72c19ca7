"""Around an introduction: resources instead of matches, what a member can read, and the
private thread opened once both agreed."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from bot.formatting import send
from bot.permissions import readable_channel_ids
from knowledge.matching.introductions import Accepted

if TYPE_CHECKING:
    from bot.client import KindredBot

log = logging.getLogger(__name__)
THREAD_NAME = "Kindred introduction"


def resources_text(bot: KindredBot, guild_id: int) -> str:
    """What a member with a recent crisis-level post gets instead of matches."""
    resources = bot.service.safety_desk.config(guild_id).resources
    return (
        "Kindred can't suggest introductions for you right now. If things are hard, you don't "
        "have to wait: these people can help now.\n\n"
        f"{resources}\n\nThis server's moderators are here for you too."
    )


def readable_for(bot: KindredBot, guild_id: int, member_id: int) -> frozenset[int]:
    """The enabled channels a member can read (nothing when they are not in the cache)."""
    guild = bot.get_guild(guild_id)
    member = guild.get_member(member_id) if guild else None
    if guild is None or member is None:
        return frozenset()
    return readable_channel_ids(guild, member, bot.service.enabled_channel_ids(guild_id))


def thread_parent(bot: KindredBot, accepted: Accepted) -> discord.TextChannel | None:
    """The configured channel for introduction threads, else the first text channel where
    Kindred may open private threads."""
    guild = bot.get_guild(accepted.guild_id)
    if guild is None or guild.me is None:
        return None
    me = guild.me
    configured = (
        guild.get_channel(accepted.thread_channel_id) if accepted.thread_channel_id else None
    )
    candidates = [configured] if isinstance(configured, discord.TextChannel) else []
    candidates += sorted(guild.text_channels, key=lambda c: c.position)
    for channel in candidates:
        perms = channel.permissions_for(me)
        if perms.create_private_threads and perms.send_messages_in_threads:
            return channel
    return None


async def open_thread(bot: KindredBot, accepted: Accepted) -> discord.Thread | None:
    """A private thread with both members (only after both agreed)."""
    parent = thread_parent(bot, accepted)
    if parent is None:
        return None
    thread = await parent.create_thread(
        name=THREAD_NAME, type=discord.ChannelType.private_thread, invitable=False
    )
    for member_id in (accepted.requester_id, accepted.target_id):
        await thread.add_user(discord.Object(member_id))
    common = ", ".join(accepted.conditions) or "what you both shared"
    await send(
        thread,
        f"<@{accepted.requester_id}>, <@{accepted.target_id}>: you both agreed to be "
        f"introduced. In common: {common}.\nThis thread is private to the two of you (and "
        "this server's moderators). Share only what you are comfortable with; either of you "
        "can leave at any time. Kindred does not index this thread.",
    )
    return thread
