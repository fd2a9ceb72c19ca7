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
