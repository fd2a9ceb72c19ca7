"""Shard processes: two bots share one PostgreSQL, each runs one of two shards and holds only its
guilds' indexes; a CLI privacy delete reaches the other process's index within seconds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import discord
import pytest
from typer.testing import CliRunner

from bot.client import ShardedKindredBot
from bot.config import BotSettings
from bot.sharding import ShardSet, shard_of
from kindred.cli import app
from knowledge.embeddings import HashingEmbedder
from knowledge.service import KnowledgeService
from tests.conftest import with_database
from tests.postgres import PostgresServer

from .conftest import MANAGE_GUILD, bot_settings, eventually, job_done
from .fake_discord import FakeDiscord
from .payloads import FakeChannel, FakeGuild, FakeMember, World

# Guild ids that Discord's rule puts on shard 0 and shard 1 of 2.
GUILD_ZERO, GUILD_ONE = 1000 << 22, 1001 << 22


class QuickShardedBot(ShardedKindredBot):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """No 5-second politeness pause between shards in a test."""


def test_shard_rule_and_ranges() -> None:
    assert shard_of(GUILD_ZERO, 2) == 0 and shard_of(GUILD_ONE, 2) == 1
    shards = ShardSet.parse("0-1,3", 8)
    assert shards.ids == (0, 1, 3) and shards.owns(GUILD_ZERO) and not shards.owns(2 << 22)
    for spec, count in (("4", 4), ("2-1", 8), ("x", 8)):
        with pytest.raises(ValueError):
            ShardSet.parse(spec, count)


def add_guild(world: World, gid: int) -> tuple[FakeGuild, FakeChannel, FakeMember, FakeMember]:
    guild = world.add_guild(f"guild {gid}", id=gid)
    admins = world.add_role(guild, "admins", MANAGE_GUILD)
    general = world.add_channel(guild, "general")
    admin = world.add_member(guild, "admin", [admins])
    member = world.add_member(guild, f"member-{gid}")
    world.add_message(general, member, f"insulin pump alarms at night in guild {gid}")
    world.add_message(general, admin, f"my asthma inhaler before running, guild {gid}")
    return guild, general, admin, member


@pytest.fixture
def database(pg_server: PostgresServer) -> Iterator[str]:
    yield pg_server.new_database()


def settings_for(folder: Path, url: str) -> BotSettings:
    base = bot_settings(folder, follow_changes_seconds=0.1)
    return with_database(base, url)


def shard_bot(service: KnowledgeService, settings: BotSettings, shard: int) -> QuickShardedBot:
    return QuickShardedBot(
        service,
        settings,
        shard_ids=[shard],
        shard_count=2,
        guild_ready_timeout=0.05,
        chunk_guilds_at_startup=False,
    )


async def enable_in(fake: FakeDiscord, bot: Any, admin: FakeMember, channel: FakeChannel) -> None:
    ix = await fake.slash_command(
        "kindred enable", user=admin, channel=channel, options={"channel": channel}
    )
    await ix.wait_response()
    await eventually(lambda: job_done(bot, channel.id), what="backfill")


async def test_two_shard_processes_share_postgresql_and_follow_a_cli_delete(
    database: str, tmp_path: Path
) -> None:
    world = World()
    zero, general0, admin0, member0 = add_guild(world, GUILD_ZERO)
    one, general1, admin1, _ = add_guild(world, GUILD_ONE)
    settings_a = settings_for(tmp_path / "a", database)
    settings_b = settings_for(tmp_path / "b", database)
    service_a = KnowledgeService(settings_a, embedder=HashingEmbedder())
    service_b = KnowledgeService(settings_b, embedder=HashingEmbedder())
    bot_a, bot_b = shard_bot(service_a, settings_a, 0), shard_bot(service_b, settings_b, 1)
    fake = FakeDiscord(world)
    async with fake, fake.running(bot_a), fake.running(bot_b):
        assert {g.id for g in bot_a.guilds} == {zero.id}  # Discord sends each shard its guilds
        assert {g.id for g in bot_b.guilds} == {one.id}
        await enable_in(fake, bot_a, admin0, general0)
        await enable_in(fake, bot_b, admin1, general1)
        for service in (service_a, service_b):
            service.privacy.set_search_mode(zero.id, "opt_out", by=admin0.id)
        assert service_a.store.loaded_guilds() == {zero.id}
        assert service_b.store.loaded_guilds() == {one.id}
        assert service_a.stats().posts == 4  # one database: both guilds' posts
        assert len(service_a.store.vector_index(zero.id)) == 2

        config = tmp_path / "cli.toml"
        config.write_text(f'[storage]\ndatabase_url = "{database}"\n')
        args = ["privacy", "delete", "--guild", str(zero.id), "--member", str(member0.id)]
        args += ["--yes", "--config", str(config), "--data-dir", str(tmp_path / "cli")]
        result = await eventually_run(args)
        assert result.exit_code == 0, result.output
        # The CLI is a third process: bot A hears of the delete through the change log.
        await eventually(
            lambda: len(service_a.store.vector_index(zero.id)) == 1, 5.0, "delete followed"
        )
        assert service_b.store.loaded_guilds() == {one.id}  # B never loaded A's guild
    for service in (service_a, service_b):
        service.close()


async def eventually_run(args: list[str]) -> Any:
    """The CLI in a thread (it blocks), so both bots keep running meanwhile."""
    import asyncio

    return await asyncio.to_thread(CliRunner().invoke, app, args)


def test_the_sharded_bot_is_an_auto_sharded_client() -> None:
    assert issubclass(ShardedKindredBot, discord.AutoShardedClient)
