"""Fixtures for driving KindredBot against the fake Discord: a standard server, a fast-embedder
service on a temp folder, and a bot factory."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest
from sqlmodel import col, func, select

from bot.client import KindredBot
from bot.config import BotSettings, DiscordSettings
from knowledge.embeddings import HashingEmbedder
from knowledge.service import KnowledgeService
from knowledge.store.models import Post

from .fake_discord import FakeDiscord, RestCall
from .payloads import FORUM, FakeChannel, FakeGuild, FakeMember, FakeRole, Overwrite, World

MANAGE_GUILD = discord.Permissions(manage_guild=True).value
VIEW = discord.Permissions(view_channel=True).value


@dataclass
class Server:
    """One guild: #general, #staff (hidden from @everyone, open to staff), a forum, members."""

    fake: FakeDiscord
    guild: FakeGuild
    admins: FakeRole
    staff_role: FakeRole
    general: FakeChannel
    staff: FakeChannel
    forum: FakeChannel
    offtopic: FakeChannel
    admin: FakeMember
    alice: FakeMember
    bob: FakeMember

    @property
    def world(self) -> World:
        return self.fake.world


def build_server() -> Server:
    world = World()
    guild = world.add_guild("Peer Support")
    admins = world.add_role(guild, "admins", MANAGE_GUILD)
    staff_role = world.add_role(guild, "staff")
    general = world.add_channel(guild, "general")
    hide = [Overwrite(guild.id, 0, deny=VIEW), Overwrite(staff_role.id, 0, allow=VIEW)]
    staff = world.add_channel(guild, "staff", overwrites=hide)
    bot_member = guild.members[world.bot.id]
    staff.overwrites.append(Overwrite(bot_member.roles[0], 0, allow=VIEW))
    forum = world.add_channel(guild, "experiences", FORUM)
    offtopic = world.add_channel(guild, "offtopic")
    admin = world.add_member(guild, "admin", [admins])
    alice = world.add_member(guild, "alice", [staff_role])
    bob = world.add_member(guild, "bob")
    fake = FakeDiscord(world)
    return Server(
        fake, guild, admins, staff_role, general, staff, forum, offtopic, admin, alice, bob
    )


class QuickBot(KindredBot):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py sleeps 5 s before a re-IDENTIFY; nobody to be polite to in a test."""


def bot_settings(data_dir: Path, **discord_options: Any) -> BotSettings:
    options: dict[str, Any] = {"progress_interval_seconds": 0.02, **discord_options}
    base = BotSettings(discord=DiscordSettings(**options))
    return base.with_data_dir(data_dir)


def make_bot(service: KnowledgeService, settings: BotSettings) -> QuickBot:
    return QuickBot(service, settings, guild_ready_timeout=0.05, chunk_guilds_at_startup=False)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def settings(data_dir: Path) -> BotSettings:
    return bot_settings(data_dir)


@pytest.fixture
def kservice(settings: BotSettings) -> Iterator[KnowledgeService]:
    svc = KnowledgeService(settings, embedder=HashingEmbedder())
    yield svc
    svc.close()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = build_server()
    async with srv.fake:
        yield srv


@pytest.fixture
def bot(kservice: KnowledgeService, settings: BotSettings) -> QuickBot:
    return make_bot(kservice, settings)


async def eventually(check: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    """Poll `check` until it holds (the bot works in tasks and threads)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.01)


def posts(service: KnowledgeService, guild_id: int) -> list[Post]:
    with service.store.session() as session:
        query = select(Post).where(Post.guild_id == guild_id).order_by(col(Post.id))
        return list(session.exec(query).all())


def post_count(service: KnowledgeService, guild_id: int) -> int:
    with service.store.session() as session:
        query = select(func.count()).select_from(Post).where(Post.guild_id == guild_id)
        return int(session.exec(query).one())


async def enable(srv: Server, channel: FakeChannel, bot: KindredBot) -> Any:
    """Run `/kindred enable` as the admin and wait until its backfill is done."""
    ix = await srv.fake.slash_command(
        "kindred enable", user=srv.admin, channel=srv.general, options={"channel": channel}
    )
    await ix.wait_response()
    await eventually(lambda: job_done(bot, channel.id), what="backfill")
    open_search(bot, srv)
    return ix


def open_search(bot: KindredBot, srv: Server) -> None:
    """Make members searchable unless they opt out (consent itself is tested in knowledge/);
    the default, opt-in, shows others only posts of members who said yes."""
    bot.service.privacy.set_search_mode(srv.guild.id, "opt_out", by=srv.admin.id)


def job_done(bot: KindredBot, channel_id: int) -> bool:
    job = bot.backfill.jobs.get(channel_id)
    return job is not None and job.done.is_set()


def fetched(bot: KindredBot, channel_id: int) -> int:
    job = bot.backfill.jobs.get(channel_id)
    return job.fetched if job is not None else 0


def sent_bodies(fake: FakeDiscord) -> list[tuple[RestCall, dict[str, Any]]]:
    """Every message body the bot sent: channel posts, interaction callbacks with data, webhook
    follow-ups and edits."""
    bodies: list[tuple[RestCall, dict[str, Any]]] = []
    for call in fake.rest_calls:
        if call.method not in ("POST", "PATCH") or not isinstance(call.json, dict):
            continue
        if call.path.endswith("/callback"):
            data = call.json.get("data") or {}
            if call.json.get("type") in (4, 7) and data:
                bodies.append((call, data))
        elif call.path.startswith("/webhooks/") or "/messages" in call.path:
            bodies.append((call, call.json))
    return bodies
