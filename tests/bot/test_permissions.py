"""Readable-channel logic without a Discord connection (stand-ins for guild and channels)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import discord

from bot.permissions import member_scope, readable_channel_ids


@dataclass
class StubChannel:
    perms: discord.Permissions

    def permissions_for(self, member: Any) -> discord.Permissions:
        return self.perms


@dataclass
class StubGuild:
    id: int
    channels: dict[int, StubChannel]

    def get_channel(self, channel_id: int) -> StubChannel | None:
        return self.channels.get(channel_id)


class StubMember:
    id = 7


def test_view_and_history_are_both_required() -> None:
    guild = StubGuild(
        1,
        {
            10: StubChannel(discord.Permissions(view_channel=True, read_message_history=True)),
            11: StubChannel(discord.Permissions(view_channel=True)),
            12: StubChannel(discord.Permissions(read_message_history=True)),
            13: StubChannel(discord.Permissions.none()),
            14: StubChannel(discord.Permissions(view_channel=True, read_message_history=True)),
        },
    )
    enabled = [10, 11, 12, 13, 99]  # 14 readable but not enabled; 99 enabled but unknown
    readable = readable_channel_ids(guild, StubMember(), enabled)  # type: ignore[arg-type]
    assert readable == frozenset({10})


def test_scope_carries_asker_and_filters() -> None:
    guild = StubGuild(
        1, {10: StubChannel(discord.Permissions(view_channel=True, read_message_history=True))}
    )
    scope = member_scope(
        guild,  # type: ignore[arg-type]
        StubMember(),  # type: ignore[arg-type]
        {10, 11},
        author_ids=frozenset({3}),
    )
    assert scope.guild_id == 1 and scope.asker_id == 7
    assert scope.readable_channel_ids == frozenset({10}) and scope.author_ids == frozenset({3})
