"""discord.py objects → knowledge records: the one place the two vocabularies meet.

A thread's posts are stored under its parent text or forum channel (`channel_id`, the channel an
admin enables and whose permissions decide who may read them) with `thread_id` set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import discord

from knowledge.records import ChannelRecord, PostRecord
from knowledge.store.models import ChannelKind, PostKind

IndexableChannel = discord.TextChannel | discord.ForumChannel
# A message link (`.../channels/<guild>/<channel>/<message>`) or a bare message id.
_MESSAGE_REF = re.compile(r"(?:channels/\d+/\d+/)?(\d{15,22})/?\s*$")


def message_id_from(text: str) -> str | None:
    """The message id a member pasted as a link or a bare id; None if it is neither."""
    match = _MESSAGE_REF.search(text.strip())
    return match.group(1) if match else None


@dataclass(frozen=True)
class Place:
    """Where a message lives as Kindred stores it."""

    guild_id: int
    channel_id: int
    thread_id: int | None


def place_of(channel: object, guild_id: int | None) -> Place | None:
    """The (channel, thread) a message in `channel` belongs to; None where Kindred never indexes
    (DMs, private threads, voice and other channel kinds)."""
    if guild_id is None:
        return None
    if isinstance(channel, discord.Thread):
        if channel.type is discord.ChannelType.private_thread or channel.parent_id is None:
            return None
        return Place(guild_id, channel.parent_id, channel.id)
    if isinstance(channel, IndexableChannel):
        return Place(guild_id, channel.id, None)
    return None


def reported_place(channel: discord.abc.Snowflake, guild_id: int) -> Place:
    """Where a reported message lives, whatever the channel kind (a report may come from a channel
    Kindred does not index): a thread under its parent, the thread itself when that is unknown."""
    if isinstance(channel, discord.Thread):
        return Place(guild_id, channel.parent_id or channel.id, channel.id)
    return Place(guild_id, channel.id, None)


def is_indexable_author(message: discord.Message) -> bool:
    """Members' own messages only: no bots, webhooks or system messages."""
    if message.author.bot or message.webhook_id is not None:
        return False
    return not message.is_system()


def post_record(message: discord.Message, place: Place) -> PostRecord:
    """A member's message as a PostRecord (no names: Discord members are stored by id only)."""
    kind = PostKind.MESSAGE
    if place.thread_id is not None and message.id == place.thread_id:
        parent = getattr(message.channel, "parent", None)
        kind = (
            PostKind.FORUM_POST
            if isinstance(parent, discord.ForumChannel)
            else (PostKind.THREAD_STARTER)
        )
    reference = message.reference
    reply_to = str(reference.message_id) if reference and reference.message_id else None
    return PostRecord(
        guild_id=place.guild_id,
        external_id=str(message.id),
        channel_id=place.channel_id,
        author_id=message.author.id,
        text=message.content,
        created_at=message.created_at,
        thread_id=place.thread_id,
        kind=kind,
        reply_to=reply_to,
        edited_at=message.edited_at,
    )


def channel_record(channel: IndexableChannel | discord.Thread) -> ChannelRecord:
    if isinstance(channel, discord.Thread):
        return ChannelRecord(
            channel.id, channel.guild.id, channel.name, ChannelKind.THREAD, channel.parent_id
        )
    kind = ChannelKind.FORUM if isinstance(channel, discord.ForumChannel) else ChannelKind.TEXT
    return ChannelRecord(channel.id, channel.guild.id, channel.name, kind)
