"""The world a fake Discord server serves, and its Discord JSON payloads.

`World` holds guilds, roles, channels (text, category, forum, threads, DMs), members and messages.
Every ``*_payload`` function renders one object exactly as Discord API v10 sends it, with the
fields discord.py 2.7 reads. Ids are snowflakes from one `Snowflakes` clock, so a later object
always has a larger id and ids agree with their timestamps (`discord.utils.snowflake_time`).

Permission bits are plain ints; build them with ``discord.Permissions(...).value``.

The ``add_*`` builders take an optional keyword ``id``: an explicit snowflake (for instance one
from a DiscordChatExporter file), so a world can mirror a server whose history already exists
elsewhere. Without it the clock makes one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import discord

Json = dict[str, Any]

DISCORD_EPOCH_MS = 1420070400000
ALL_PERMISSIONS = discord.Permissions.all().value
ADMINISTRATOR = discord.Permissions(administrator=True).value
ALL_CHANNEL = discord.Permissions.all_channel().value
VOICE = discord.Permissions.voice().value
VIEW = discord.Permissions(view_channel=True).value
SEND = discord.Permissions(send_messages=True).value
SEND_IN_THREADS = discord.Permissions(send_messages_in_threads=True).value
SEND_EXTRAS = discord.Permissions(
    send_tts_messages=True, mention_everyone=True, embed_links=True, attach_files=True
).value
DEFAULT_EVERYONE = discord.Permissions(
    view_channel=True,
    send_messages=True,
    read_message_history=True,
    send_messages_in_threads=True,
    use_application_commands=True,
    embed_links=True,
    attach_files=True,
    add_reactions=True,
).value

TEXT, DM, CATEGORY, NEWS_THREAD, PUBLIC_THREAD, PRIVATE_THREAD, FORUM = 0, 1, 4, 10, 11, 12, 15
THREAD_TYPES = frozenset({NEWS_THREAD, PUBLIC_THREAD, PRIVATE_THREAD})


def iso(moment: dt.datetime) -> str:
    """Discord's ISO 8601 timestamp with microseconds and an explicit UTC offset."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def snowflake_time(snowflake: int) -> dt.datetime:
    """The creation time encoded in a snowflake."""
    return dt.datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, dt.UTC)


class Snowflakes:
    """Strictly increasing snowflakes; ``at`` backdates an id (still unique, not monotonic)."""

    def __init__(self) -> None:
        self._last = 0
        self._increment = 0

    def next(self, at: dt.datetime | None = None) -> int:
        if at is not None:
            self._increment = (self._increment + 1) % 4096
            ms = int(at.timestamp() * 1000) - DISCORD_EPOCH_MS
            return (ms << 22) | (1 << 17) | self._increment
        now_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000) - DISCORD_EPOCH_MS
        candidate = now_ms << 22
        self._last = max(candidate, self._last + 1)
        return self._last


@dataclass
class FakeUser:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None


@dataclass
class FakeRole:
    id: int
    guild_id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False


@dataclass
class Overwrite:
    """A permission overwrite: ``type`` 0 for a role, 1 for a member."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0


@dataclass
class FakeMember:
    user: FakeUser
    guild_id: int
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def id(self) -> int:
        return self.user.id


@dataclass
class FakeChannel:
    """Any channel: text (0), DM (1), category (4), forum (15) or thread (10/11/12)."""

    id: int
    name: str
    type: int
    guild_id: int | None
    parent_id: int | None = None
    position: int = 0
    topic: str | None = None
    overwrites: list[Overwrite] = field(default_factory=list)
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    archive_timestamp: dt.datetime | None = None
    auto_archive_duration: int = 10080
    applied_tags: list[int] = field(default_factory=list)
    recipients: list[FakeUser] = field(default_factory=list)
    messages: dict[int, Json] = field(default_factory=dict)

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES


@dataclass
class FakeGuild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, FakeRole] = field(default_factory=dict)
    channels: dict[int, FakeChannel] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)

    @property
    def everyone(self) -> FakeRole:
        return self.roles[self.id]

    def threads(self) -> list[FakeChannel]:
        return [c for c in self.channels.values() if c.is_thread]


def user_payload(user: FakeUser) -> Json:
    data: Json = {
        "id": str(user.id),
        "username": user.username,
        "discriminator": "0",
        "global_name": user.global_name,
        "avatar": None,
        "public_flags": 0,
    }
    if user.bot:
        data["bot"] = True
    return data


def role_payload(role: FakeRole) -> Json:
    return {
        "id": str(role.id),
        "name": role.name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "position": role.position,
        "permissions": str(role.permissions),
        "managed": role.managed,
        "mentionable": False,
        "flags": 0,
        "icon": None,
        "unicode_emoji": None,
    }


def member_payload(member: FakeMember, *, with_user: bool = True) -> Json:
    data: Json = {
        "roles": [str(r) for r in member.roles],
        "nick": member.nick,
        "joined_at": iso(member.joined_at),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
        "avatar": None,
        "communication_disabled_until": None,
    }
    if with_user:
        data["user"] = user_payload(member.user)
    return data


def overwrite_payload(ow: Overwrite) -> Json:
    return {"id": str(ow.id), "type": ow.type, "allow": str(ow.allow), "deny": str(ow.deny)}


def thread_metadata(channel: FakeChannel) -> Json:
    stamp = channel.archive_timestamp or snowflake_time(channel.id)
    return {
        "archived": channel.archived,
        "auto_archive_duration": channel.auto_archive_duration,
        "archive_timestamp": iso(stamp),
        "locked": channel.locked,
        "create_timestamp": iso(snowflake_time(channel.id)),
    }


def channel_payload(channel: FakeChannel) -> Json:
    """A full channel object (guild channel, thread or DM)."""
    last_id = str(max(channel.messages)) if channel.messages else None
    if channel.type == DM:
        return {
            "id": str(channel.id),
            "type": DM,
            "last_message_id": last_id,
            "recipients": [user_payload(u) for u in channel.recipients],
        }
    data: Json = {
        "id": str(channel.id),
        "type": channel.type,
        "guild_id": str(channel.guild_id),
        "name": channel.name,
        "parent_id": str(channel.parent_id) if channel.parent_id else None,
        "nsfw": False,
        "rate_limit_per_user": 0,
        "flags": 0,
    }
    if channel.is_thread:
        count = len(channel.messages)
        data.update(
            owner_id=str(channel.owner_id),
            last_message_id=last_id,
            message_count=count,
            total_message_sent=count,
            member_count=1,
            thread_metadata=thread_metadata(channel),
            applied_tags=[str(t) for t in channel.applied_tags],
        )
        return data
    data.update(
        position=channel.position,
        permission_overwrites=[overwrite_payload(o) for o in channel.overwrites],
    )
    if channel.type in (TEXT, FORUM):
        data.update(topic=channel.topic, last_message_id=last_id)
        data["default_auto_archive_duration"] = 1440
    if channel.type == FORUM:
        data.update(
            available_tags=[],
            default_reaction_emoji=None,
            default_sort_order=None,
            default_forum_layout=0,
            default_thread_rate_limit_per_user=0,
        )
    return data


def guild_payload(guild: FakeGuild) -> Json:
    """The guild object of GET /guilds/{id} (no channels or members)."""
    return {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(guild.owner_id),
        "region": "en-US",
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "application_id": None,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "vanity_url_code": None,
        "preferred_locale": "en-US",
        "features": [],
        "emojis": [],
        "stickers": [],
        "incidents_data": None,
        "roles": [role_payload(r) for r in guild.roles.values()],
    }


def guild_create_payload(guild: FakeGuild) -> Json:
    """GUILD_CREATE: the guild with roles, channels, active threads and members."""
    data = guild_payload(guild)
    channels = [c for c in guild.channels.values() if not c.is_thread]
    active = [c for c in guild.threads() if not c.archived]
    data.update(
        joined_at=iso(snowflake_time(guild.id)),
        large=False,
        unavailable=False,
        member_count=len(guild.members),
        voice_states=[],
        members=[member_payload(m) for m in guild.members.values()],
        channels=[channel_payload(c) for c in channels],
        threads=[channel_payload(t) for t in active],
        presences=[],
        stage_instances=[],
        guild_scheduled_events=[],
        soundboard_sounds=[],
        premium_subscription_count=0,
    )
    return data


def message_payload(
    *,
    message_id: int,
    channel: FakeChannel,
    author: FakeUser,
    content: str = "",
    member: FakeMember | None = None,
    extra: Json | None = None,
) -> Json:
    """A full message object; ``extra`` overrides or adds fields (embeds, components, ...)."""
    data: Json = {
        "id": str(message_id),
        "channel_id": str(channel.id),
        "author": user_payload(author),
        "content": content,
        "timestamp": iso(snowflake_time(message_id)),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "components": [],
        "pinned": False,
        "type": 0,
        "flags": 0,
    }
    if channel.guild_id is not None:
        data["guild_id"] = str(channel.guild_id)
    if member is not None:
        data["member"] = member_payload(member, with_user=False)
    if extra:
        data.update(extra)
    return data


def mention_payload(member: FakeMember) -> Json:
    """A user in a message's ``mentions`` list, with its partial member."""
    data = user_payload(member.user)
    data["member"] = member_payload(member, with_user=False)
    return data


class World:
    """Everything a test server contains. Build it before the bot logs in."""

    def __init__(self, *, bot_name: str = "Kindred", owner_name: str = "owner") -> None:
        self.ids = Snowflakes()
        self.owner = FakeUser(self.ids.next(), owner_name)
        self.bot = FakeUser(self.ids.next(), bot_name, bot=True)
        self.application_id = self.bot.id
        self.guilds: dict[int, FakeGuild] = {}
        self.users: dict[int, FakeUser] = {self.owner.id: self.owner, self.bot.id: self.bot}
        self.dms: dict[int, FakeChannel] = {}

    # building ---------------------------------------------------------------------------------
    def add_guild(
        self, name: str = "Test Server", *, bot_permissions: int = 0, id: int | None = None
    ) -> FakeGuild:
        """A guild with @everyone, the owner and the bot (in a managed role ``bot_permissions``)."""
        gid = id or self.ids.next()
        guild = FakeGuild(gid, name, self.owner.id)
        guild.roles[gid] = FakeRole(gid, gid, "@everyone", DEFAULT_EVERYONE)
        self.guilds[gid] = guild
        bot_role = self.add_role(guild, self.bot.username, bot_permissions, managed=True)
        guild.members[self.owner.id] = FakeMember(self.owner, gid)
        guild.members[self.bot.id] = FakeMember(self.bot, gid, [bot_role.id])
        return guild

    def add_role(
        self, guild: FakeGuild, name: str, permissions: int = 0, *, managed: bool = False
    ) -> FakeRole:
        role = FakeRole(self.ids.next(), guild.id, name, permissions, len(guild.roles), managed)
        guild.roles[role.id] = role
        return role

    def add_user(self, username: str, *, bot: bool = False, id: int | None = None) -> FakeUser:
        user = FakeUser(id or self.ids.next(), username, bot=bot)
        self.users[user.id] = user
        return user

    def add_member(
        self,
        guild: FakeGuild,
        username: str,
        roles: list[FakeRole] | None = None,
        *,
        bot: bool = False,
        id: int | None = None,
    ) -> FakeMember:
        user = self.add_user(username, bot=bot, id=id)
        member = FakeMember(user, guild.id, [r.id for r in roles or []])
        guild.members[member.id] = member
        return member

    def add_channel(
        self,
        guild: FakeGuild,
        name: str,
        type: int = TEXT,
        *,
        parent: FakeChannel | None = None,
        overwrites: list[Overwrite] | None = None,
        topic: str | None = None,
        id: int | None = None,
    ) -> FakeChannel:
        """A text (0), category (4) or forum (15) channel."""
        channel = FakeChannel(
            id or self.ids.next(),
            name,
            type,
            guild.id,
            parent_id=parent.id if parent else None,
            position=len(guild.channels),
            topic=topic,
            overwrites=list(overwrites or []),
        )
        guild.channels[channel.id] = channel
        return channel

    def add_thread(
        self,
        parent: FakeChannel,
        name: str,
        *,
        owner: FakeMember | FakeUser | None = None,
        type: int = PUBLIC_THREAD,
        archived: bool = False,
        archived_at: dt.datetime | None = None,
        created_at: dt.datetime | None = None,
        id: int | None = None,
    ) -> FakeChannel:
        """A thread under a text or forum channel (forum posts are public threads, type 11)."""
        if parent.guild_id is None:
            raise ValueError("threads need a guild channel parent")
        tid = id or self.ids.next(created_at)
        thread = FakeChannel(
            tid,
            name,
            type,
            parent.guild_id,
            parent_id=parent.id,
            owner_id=owner.id if owner else self.owner.id,
            archived=archived,
            archive_timestamp=archived_at or (snowflake_time(tid) if archived else None),
        )
        self.guilds[parent.guild_id].channels[tid] = thread
        return thread

    def add_forum_post(
        self, forum: FakeChannel, name: str, author: FakeMember, content: str
    ) -> tuple[FakeChannel, Json]:
        """A forum thread and its starter message, which shares the thread's id (as on Discord)."""
        thread = self.add_thread(forum, name, owner=author)
        starter = message_payload(
            message_id=thread.id, channel=thread, author=author.user, content=content, member=author
        )
        thread.messages[thread.id] = starter
        return thread, starter

    def dm_with(self, user: FakeUser) -> FakeChannel:
        """The bot's DM channel with ``user`` (created once)."""
        if user.id not in self.dms:
            cid = self.ids.next()
            self.dms[user.id] = FakeChannel(cid, "", DM, None, recipients=[user])
        return self.dms[user.id]

    # lookups ----------------------------------------------------------------------------------
    def channel(self, channel_id: int) -> FakeChannel | None:
        for guild in self.guilds.values():
            if channel_id in guild.channels:
                return guild.channels[channel_id]
        return next((c for c in self.dms.values() if c.id == channel_id), None)

    def find_message(self, message_id: int) -> tuple[FakeChannel, Json] | None:
        channels = [c for g in self.guilds.values() for c in g.channels.values()]
        for channel in [*channels, *self.dms.values()]:
            if message_id in channel.messages:
                return channel, channel.messages[message_id]
        return None

    def member_of(self, channel: FakeChannel, user: FakeUser) -> FakeMember | None:
        if channel.guild_id is None:
            return None
        return self.guilds[channel.guild_id].members.get(user.id)

    # messages ---------------------------------------------------------------------------------
    def add_message(
        self,
        channel: FakeChannel,
        author: FakeMember | FakeUser,
        content: str = "",
        *,
        at: dt.datetime | None = None,
        mentions: list[FakeMember] | None = None,
        id: int | None = None,
        **extra: Any,
    ) -> Json:
        """Store a message (no event); ``extra`` adds payload fields such as ``embeds``;
        ``id`` gives it an existing snowflake (its timestamp follows from it)."""
        user = author.user if isinstance(author, FakeMember) else author
        member = self.member_of(channel, user)
        fields: Json = dict(extra)
        if mentions:
            fields["mentions"] = [mention_payload(m) for m in mentions]
        message = message_payload(
            message_id=id or self.ids.next(at),
            channel=channel,
            author=user,
            content=content,
            member=member,
            extra=fields,
        )
        channel.messages[int(message["id"])] = message
        return message

    # permissions ------------------------------------------------------------------------------
    def base_permissions(self, guild: FakeGuild, member: FakeMember) -> int:
        if member.id == guild.owner_id:
            return ALL_PERMISSIONS
        perms = guild.everyone.permissions
        for role_id in member.roles:
            perms |= guild.roles[role_id].permissions
        return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms

    def permissions_for(self, member: FakeMember, channel: FakeChannel) -> int:
        """Discord's algorithm: roles, @everyone/role/member overwrites, then implicit denials
        (no view: nothing; no send: no embeds, files, mass mentions), as discord.py computes it.
        """
        source = channel
        if channel.is_thread and channel.parent_id:
            source = self.guilds[member.guild_id].channels[channel.parent_id]
        perms = self._overwritten(member, source)
        if not perms & (SEND_IN_THREADS if channel.is_thread else SEND):
            perms &= ~SEND_EXTRAS
        if not perms & VIEW:
            perms &= ~ALL_CHANNEL
        if channel.type in (TEXT, FORUM):
            perms &= ~VOICE
        return perms

    def _overwritten(self, member: FakeMember, channel: FakeChannel) -> int:
        guild = self.guilds[member.guild_id]
        perms = self.base_permissions(guild, member)
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        overwrites = {(o.type, o.id): o for o in channel.overwrites}
        everyone = overwrites.get((0, guild.id))
        if everyone:
            perms = (perms & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for role_id in member.roles:
            ow = overwrites.get((0, role_id))
            if ow:
                allow, deny = allow | ow.allow, deny | ow.deny
        perms = (perms & ~deny) | allow
        own = overwrites.get((1, member.id))
        if own:
            perms = (perms & ~own.deny) | own.allow
        return perms


# interactions (they need the World for permissions) -----------------------------------------
def interaction_payload(
    world: World,
    iid: int,
    token: str,
    kind: int,
    user: FakeMember | FakeUser,
    channel: FakeChannel,
    data: Json,
) -> Json:
    """INTERACTION_CREATE: member with roles and computed ``permissions``, ``app_permissions``
    of the bot, the channel with the invoker's permissions; a DM interaction carries ``user``."""
    payload: Json = {
        "id": str(iid),
        "application_id": str(world.application_id),
        "type": kind,
        "token": token,
        "version": 1,
        "attachment_size_limit": 26214400,
        "channel_id": str(channel.id),
        "locale": "en-US",
        "entitlements": [],
        "data": data,
    }
    chan = channel_payload(channel)
    if isinstance(user, FakeMember):
        perms = world.permissions_for(user, channel)
        me = world.guilds[user.guild_id].members[world.bot.id]
        payload.update(
            guild_id=str(user.guild_id),
            guild={"id": str(user.guild_id), "locale": "en-US", "features": []},
            guild_locale="en-US",
            member={**member_payload(user), "permissions": str(perms)},
            app_permissions=str(world.permissions_for(me, channel)),
            authorizing_integration_owners={"0": str(user.guild_id)},
            context=0,
        )
        chan["permissions"] = str(perms)
    else:
        payload.update(user=user_payload(user), context=1, app_permissions="0")
        payload["authorizing_integration_owners"] = {"1": str(user.id)}
    payload["channel"] = chan
    return payload


def declared_options(command: Json, path: list[str]) -> dict[str, int]:
    """Option name -> type declared for the (sub)command at ``path`` of a synced command."""
    options: list[Json] = command.get("options") or []
    for word in path:
        match = next((o for o in options if o["name"] == word), None)
        options = (match or {}).get("options") or []
    return {o["name"]: o["type"] for o in options}


def command_option(
    name: str,
    value: Any,
    declared: int | None,
    resolved: Json,
    world: World,
    channel: FakeChannel,
    focused: str | None,
) -> Json:
    """One command option; adds users, members, channels and roles to ``resolved``."""
    option: Json = {"name": name}
    if isinstance(value, FakeMember):
        perms = world.permissions_for(value, channel)
        member = {**member_payload(value, with_user=False), "permissions": str(perms)}
        resolved.setdefault("members", {})[str(value.id)] = member
        resolved.setdefault("users", {})[str(value.id)] = user_payload(value.user)
        option.update(type=6, value=str(value.id))
    elif isinstance(value, FakeUser):
        resolved.setdefault("users", {})[str(value.id)] = user_payload(value)
        option.update(type=6, value=str(value.id))
    elif isinstance(value, FakeChannel):
        me = world.guilds[value.guild_id or 0].members[world.bot.id]
        chan = {**channel_payload(value), "permissions": str(world.permissions_for(me, value))}
        resolved.setdefault("channels", {})[str(value.id)] = chan
        option.update(type=7, value=str(value.id))
    elif isinstance(value, FakeRole):
        resolved.setdefault("roles", {})[str(value.id)] = role_payload(value)
        option.update(type=8, value=str(value.id))
    elif isinstance(value, bool):
        option.update(type=5, value=value)
    elif isinstance(value, int):
        option.update(type=declared or 4, value=value)
    elif isinstance(value, float):
        option.update(type=declared or 10, value=value)
    else:
        option.update(type=declared or 3, value=str(value))
    if focused == name:
        option["focused"] = True
    return option
