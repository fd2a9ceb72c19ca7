"""Who may read what: a member's readable enabled channels, from roles and overwrites."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import discord
from discord import app_commands

from knowledge.scope import SearchScope


def require_manage_guild(interaction: discord.Interaction[Any]) -> bool:
    """Manage Server (or Administrator), checked at run time: admins can override the
    commands' default permissions, so the default alone is not enough."""
    perms = interaction.permissions
    if not (perms.manage_guild or perms.administrator):
        raise app_commands.MissingPermissions(["manage_guild"])
    return True


def can_read(channel: discord.abc.GuildChannel, member: discord.Member) -> bool:
    """View Channel and Read Message History, after roles and permission overwrites."""
    perms = channel.permissions_for(member)
    return perms.view_channel and perms.read_message_history


def readable_channel_ids(
    guild: discord.Guild, member: discord.Member, enabled: Iterable[int]
) -> frozenset[int]:
    """The enabled channels `member` can read (channels missing from the cache are left out)."""
    readable: set[int] = set()
    for channel_id in enabled:
        channel = guild.get_channel(channel_id)
        if channel is not None and can_read(channel, member):
            readable.add(channel_id)
    return frozenset(readable)


def member_scope(
    guild: discord.Guild,
    member: discord.Member,
    enabled: Iterable[int],
    *,
    channel_ids: frozenset[int] | None = None,
    author_ids: frozenset[int] | None = None,
    after: datetime | None = None,
    before: datetime | None = None,
    curated_only: bool = False,
) -> SearchScope:
    """The SearchScope of one asker: their readable channels plus the filters they chose."""
    return SearchScope(
        guild_id=guild.id,
        readable_channel_ids=readable_channel_ids(guild, member, enabled),
        asker_id=member.id,
        channel_ids=channel_ids,
        author_ids=author_ids,
        after=after,
        before=before,
        curated_only=curated_only,
    )


# -- public replies: never leak a channel some reader cannot read ---------------------------------


def _denies_reading(channel: discord.abc.GuildChannel) -> bool:
    """Whether any permission overwrite on `channel` denies View Channel or Read Message History
    to some role or member."""
    for overwrite in channel.overwrites.values():
        _allow, deny = overwrite.pair()
        if deny.view_channel or deny.read_message_history:
            return True
    return False


def open_to_everyone(channel: discord.abc.GuildChannel) -> bool:
    """Every member can read `channel`: @everyone may view it and read its history, and no
    overwrite denies either to any role or member (roles only add permissions server-wide)."""
    perms = channel.permissions_for(channel.guild.default_role)
    return perms.view_channel and perms.read_message_history and not _denies_reading(channel)


def readable_by_every_reader(
    current: discord.abc.GuildChannel, source: discord.abc.GuildChannel
) -> bool:
    """The conservative rule for a public reply in `current` that links posts in `source`:
    true only when every member who can read `current` can also read `source`, because

    - it is the same channel (its threads included: they are stored under it), or
    - `source` is open to everyone (`open_to_everyone`), or
    - `source` has exactly the same permission overwrites as `current` (the same members can
      read both, whatever the roles).

    Anything else (a staff channel, a channel open to some roles) is left out, even when the
    readers happen to overlap today."""
    if source.id == current.id:
        return True
    if open_to_everyone(source):
        return True
    return source.overwrites == current.overwrites


def public_reply_sources(
    guild: discord.Guild, current: discord.abc.GuildChannel, enabled: Iterable[int]
) -> frozenset[int]:
    """The enabled channels a public reply in `current` may link to (see
    `readable_by_every_reader`); channels missing from the cache are left out."""
    allowed: set[int] = set()
    for channel_id in enabled:
        channel = guild.get_channel(channel_id)
        if channel is not None and readable_by_every_reader(current, channel):
            allowed.add(channel_id)
    return frozenset(allowed)
