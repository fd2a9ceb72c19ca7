"""Operations: the health file the running bot keeps for supervisors, a graceful stop on SIGTERM
that finishes the batch being ingested, and `kindred doctor`'s Discord checks (token, intents)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.client import KindredBot
from bot.config import BotSettings
from bot.doctor import (
    GATEWAY_GUILD_MEMBERS,
    GATEWAY_GUILD_MEMBERS_LIMITED,
    GATEWAY_MESSAGE_CONTENT_LIMITED,
    NO_TOKEN,
    check_discord,
)
from bot.runner import BAD_TOKEN, run_bot
from bot.sharding import ShardSet
from knowledge.embeddings import HashingEmbedder
from knowledge.health import read_health, read_index_meta
from knowledge.ingest import Progress
from knowledge.records import ChannelRecord, IngestReport, PostRecord
from knowledge.service import KnowledgeService
from knowledge.store.models import ChannelKind

from .conftest import QuickBot, Server, bot_settings, eventually, make_bot, post_count

SECRET = "night sweats on the new tablets"


def read(path: Path) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return value


async def test_the_running_bot_keeps_a_health_file_without_content(
    server: Server, tmp_path: Path
) -> None:
    server.world.add_message(server.general, server.bob, SECRET)
    settings = bot_settings(tmp_path / "data", health_interval_seconds=0.05)
    service = KnowledgeService(settings, embedder=HashingEmbedder())
    bot = make_bot(service, settings)
    path = tmp_path / "data" / "health.json"
    try:
        async with server.fake.running(bot):
            await eventually(lambda: path.exists() and read(path)["ready"], what="ready file")
            first = read(path)
            assert first["pid"] == os.getpid() and first["status"] == "ready"
            assert first["guilds"] == 1 and first["backfill_queue"] == 0
            assert first["interval_seconds"] == 0.05 and first["shards"] is None
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            await eventually(lambda: read(path)["updated_at"] != first["updated_at"], 3.0)
            assert read_health(path).status == "ok"
            text = path.read_text(encoding="utf-8")
            assert SECRET not in text and "Peer Support" not in text and "bob" not in text
        assert read(path)["status"] == "stopping" and not read(path)["ready"]
        assert [p.name for p in path.parent.glob("*.tmp")] == []
    finally:
        service.close()


async def test_no_health_file_when_the_interval_is_zero(server: Server, tmp_path: Path) -> None:
    settings = bot_settings(tmp_path / "data", health_interval_seconds=0)
    service = KnowledgeService(settings, embedder=HashingEmbedder())
    try:
        async with server.fake.running(make_bot(service, settings)):
            await asyncio.sleep(0.1)
    finally:
        service.close()
    assert not (tmp_path / "data" / "health.json").exists()


class HeldService(KnowledgeService):
    """Holds its second ingest call until the test releases it (a batch mid-ingest)."""

    def __init__(self, settings: BotSettings) -> None:
        super().__init__(settings, embedder=HashingEmbedder())
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()

    def ingest(
        self, records: Sequence[PostRecord], progress: Progress | None = None
    ) -> IngestReport:
        self.calls += 1
        if self.calls == 2:
            self.entered.set()
            assert self.release.wait(20)
        return super().ingest(records, progress)


async def test_sigterm_finishes_the_batch_being_ingested_then_stops(
    server: Server, tmp_path: Path
) -> None:
    world, general, bob = server.world, server.general, server.bob
    ids = [int(world.add_message(general, bob, f"{SECRET} {i}")["id"]) for i in range(250)]
    settings = bot_settings(
        tmp_path / "data",
        backfill_batch_size=50,
        backfill_page_size=50,
        health_interval_seconds=0.05,
    )
    services: list[HeldService] = []

    def open_service(settings: BotSettings) -> KnowledgeService:
        service = HeldService(settings)
        record = ChannelRecord(server.general.id, server.guild.id, "general", ChannelKind.TEXT)
        service.register_guild(server.guild.id)
        service.enable_channel(server.guild.id, record, enabled_by=server.admin.id)
        services.append(service)
        return service

    def quick_bot(
        service: KnowledgeService, settings: BotSettings, shards: ShardSet | None
    ) -> KindredBot:
        return make_bot(service, settings)

    health = tmp_path / "data" / "health.json"
    with server.fake.installed():
        run = asyncio.create_task(
            run_bot(settings, server.fake.token, open_service, bot_factory=quick_bot)
        )
        await eventually(lambda: bool(services) and services[0].entered.is_set(), 10.0)
        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None)
        os.kill(os.getpid(), signal.SIGTERM)
        await eventually(lambda: read(health)["status"] == "stopping", what="stopping")
        await asyncio.sleep(0.2)
        assert not run.done()  # the close waits for the batch being ingested
        services[0].release.set()
        await asyncio.wait_for(run, 20.0)  # returns: the process would exit 0
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handlers removed
    assert read(health)["status"] == "stopped"
    reopened = KnowledgeService(settings, embedder=HashingEmbedder())
    try:
        assert post_count(reopened, server.guild.id) == 100  # two whole batches, no third
        mark = reopened.checkpoints.get(server.general.id)
        assert mark is not None and not mark.complete
        assert mark.cursor == ids[99]  # the checkpoint moved with the committed batch
        stored = reopened.stats(server.guild.id)
        assert stored.posts == stored.vectors == 100
    finally:
        reopened.close()
    meta = read_index_meta(tmp_path / "data" / "indexes" / f"guild-{server.guild.id}")
    assert meta is not None and meta["vectors"] == 100  # flushed to disk on the way out


# -- doctor's Discord checks ----------------------------------------------------------------------


async def test_no_token_skips_the_discord_check() -> None:
    (found,) = await check_discord(None)
    assert found.status == "skip" and found.detail == NO_TOKEN


async def test_intents_enabled_pass(server: Server) -> None:
    server.fake.application_flags = GATEWAY_MESSAGE_CONTENT_LIMITED | GATEWAY_GUILD_MEMBERS
    with server.fake.installed():
        token, intents = await check_discord(server.fake.token)
    assert token.status == "ok" and server.world.bot.username in token.detail
    assert intents.status == "ok", intents
    assert server.fake.calls("GET", "/oauth2/applications/@me")


async def test_a_missing_intent_is_named_with_where_to_enable_it(server: Server) -> None:
    server.fake.application_flags = GATEWAY_GUILD_MEMBERS_LIMITED
    with server.fake.installed():
        _, intents = await check_discord(server.fake.token)
    assert intents.status == "fail"
    assert intents.detail == "Message Content Intent off"
    assert "Privileged Gateway Intents" in intents.fix
    server.fake.application_flags = 0
    with server.fake.installed():
        _, intents = await check_discord(server.fake.token)
    assert intents.detail == "Message Content Intent and Server Members Intent off"


async def test_a_rejected_token_fails(server: Server) -> None:
    with server.fake.installed():
        (found,) = await check_discord("not-the-token")
    assert found.status == "fail" and found.fix == BAD_TOKEN


async def test_unreachable_discord_fails() -> None:
    saved = discord.http.Route.BASE
    discord.http.Route.BASE = "http://127.0.0.1:9/api/v10"
    try:
        (found,) = await check_discord("any-token")
    finally:
        discord.http.Route.BASE = saved
    assert found.status == "fail" and found.detail.startswith("Discord could not be reached (")
    assert "network connection" in found.fix


def test_quickbot_is_a_kindred_bot() -> None:
    assert issubclass(QuickBot, KindredBot)


@pytest.fixture(autouse=True)
def _no_stray_sigterm_handler() -> Any:
    yield
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


SECOND_SIGNAL = """
import asyncio, os, signal, sys
from bot.runner import graceful_signals

class Stuck:
    async def close(self):
        print("closing", flush=True)
        await asyncio.sleep(60)  # a batch that takes long to finish

async def main():
    async with graceful_signals(Stuck()):
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(30)

asyncio.run(main())
"""


def test_a_second_signal_exits_at_once(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", SECOND_SIGNAL],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "closing"  # the first signal closed the bot
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
