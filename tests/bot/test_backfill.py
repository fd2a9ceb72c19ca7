"""Backfill through the paginated history endpoint: progress, checkpoints across a restart,
rate limits, threads and catch-up after downtime."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Sequence
from pathlib import Path

from bot.config import BotSettings
from knowledge.embeddings import HashingEmbedder, Vectors
from knowledge.service import KnowledgeService

from .conftest import (
    Server,
    bot_settings,
    eventually,
    fetched,
    job_done,
    make_bot,
    post_count,
    posts,
)
from .fake_discord import RestCall

HISTORY = 2500


class SlowEmbedder(HashingEmbedder):
    """The hashing embedder with a pause per batch, so that a test can stop half-way."""

    def __init__(self, pause: float) -> None:
        super().__init__()
        self.pause = pause

    def encode(self, texts: Sequence[str]) -> Vectors:
        time.sleep(self.pause)
        return super().encode(texts)


def fill(server: Server) -> set[str]:
    """2,500 messages over a year in #general, plus active and archived threads and a forum."""
    world, start = server.world, dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    ids: set[str] = set()
    for i in range(HISTORY):
        at = start + dt.timedelta(minutes=200 * i)
        ids.add(world.add_message(server.general, server.bob, f"day {i} notes", at=at)["id"])
    world.add_message(server.general, world.bot, "a bot message is never indexed")
    active = world.add_thread(server.general, "active", owner=server.bob)
    archived = world.add_thread(server.general, "old", owner=server.bob, archived=True)
    for thread in (active, archived):
        for i in range(30):
            ids.add(world.add_message(thread, server.alice, f"{thread.name} {i}")["id"])
    post, starter = world.add_forum_post(server.forum, "a forum post", server.bob, "forum story")
    ids.add(starter["id"])
    ids.add(world.add_message(post, server.alice, "forum reply")["id"])
    return ids


def history_calls(server: Server, channel_id: int, since: int = 0) -> list[RestCall]:
    return [
        c
        for c in server.fake.rest_calls[since:]
        if c.method == "GET" and c.path == f"/channels/{channel_id}/messages"
    ]


def progress_edits(server: Server, token: str) -> list[str]:
    pattern = re.compile(rf"/webhooks/\d+/{token}/messages/@original")
    return [
        c.json.get("content") or ""
        for c in server.fake.rest_calls
        if c.method == "PATCH" and pattern.fullmatch(c.path)
    ]


def open_service(settings: BotSettings, pause: float = 0.0) -> KnowledgeService:
    service = KnowledgeService(settings, embedder=SlowEmbedder(pause))
    service.start()
    return service


async def test_backfill_resumes_from_checkpoint_and_waits_out_429(
    server: Server, data_dir: Path
) -> None:
    expected = fill(server)
    gid, general = server.guild.id, server.general.id
    settings = bot_settings(data_dir, backfill_batch_size=100, progress_interval_seconds=0.02)

    # first run: enable, watch progress, stop half-way
    service = open_service(settings, pause=0.01)
    bot = make_bot(service, settings)
    async with server.fake.running(bot):
        ix = await server.fake.slash_command(
            "kindred enable",
            user=server.admin,
            channel=server.general,
            options={"channel": server.forum},
        )
        await ix.wait_response()
        await eventually(lambda: job_done(bot, server.forum.id))
        ix = await server.fake.slash_command(
            "kindred enable",
            user=server.admin,
            channel=server.general,
            options={"channel": server.general},
        )
        assert (await ix.wait_response())["data"]["flags"] & 64
        checkpoints = bot.backfill.checkpoints

        def halfway() -> bool:
            found = checkpoints.get(general)
            return found is not None and found.fetched >= 1000

        await eventually(halfway, timeout=20, what="half the history")
    stopped = checkpoints.get(general)
    service.close()
    assert stopped is not None and not stopped.complete and stopped.fetched < HISTORY
    edits = progress_edits(server, ix.token)
    with_counts = [e for e in edits if re.search(r"[\d,]+ messages", e)]
    assert len(with_counts) >= 2, edits
    assert any("/s" in e and "%" in e for e in with_counts)
    calls_before = len(server.fake.rest_calls)
    first_run_pages = len(history_calls(server, general))

    # second run on the same data: continue from the checkpoint, through a 429
    service = open_service(settings)
    bot = make_bot(service, settings)
    server.fake.fail_next("GET", rf"/channels/{general}/messages", times=1, retry_after=0.3)
    async with server.fake.running(bot):
        await eventually(lambda: job_done(bot, general), timeout=20)
        job = bot.backfill.jobs[general]
        assert job.state == "done" and job.fetched < HISTORY
        status = await server.fake.slash_command(
            "kindred status", user=server.admin, channel=server.general
        )
        shown = (await status.wait_response())["data"]["embeds"][0]["description"]
    try:
        stored = posts(service, gid)
        assert sorted(p.external_id for p in stored) == sorted(expected)  # each exactly once
        assert len(service.store.vector_index(gid)) == len(expected)
    finally:
        service.close()
    second = history_calls(server, general, calls_before)
    assert [c.status for c in second[:2]] == [429, 200]
    assert int(second[0].query["after"]) == stopped.cursor  # not from the start
    assert all(int(c.query["after"]) >= stopped.cursor for c in second)
    assert len(second) <= (HISTORY - stopped.fetched) // 100 + 3
    assert first_run_pages + len([c for c in second if c.status == 200]) <= HISTORY // 100 + 3
    assert "history backfill done" in shown and f"{len(expected) - 2:,} posts" in shown


async def test_catch_up_fetches_only_what_was_posted_while_offline(
    server: Server, data_dir: Path
) -> None:
    for i in range(120):
        server.world.add_message(server.general, server.bob, f"before {i}")
    settings = bot_settings(data_dir)
    service = open_service(settings)
    bot = make_bot(service, settings)
    async with server.fake.running(bot):
        ix = await server.fake.slash_command(
            "kindred enable",
            user=server.admin,
            channel=server.general,
            options={"channel": server.general},
        )
        await ix.wait_response()
        await eventually(lambda: job_done(bot, server.general.id))
        live = await server.fake.send_message(server.general, server.bob, "live while online")
        await eventually(lambda: post_count(service, server.guild.id) == 121)
    missed = [
        server.world.add_message(server.general, server.alice, f"missed {i}") for i in range(7)
    ]
    mark = len(server.fake.rest_calls)
    bot = make_bot(service, settings)
    async with server.fake.running(bot):
        await eventually(lambda: post_count(service, server.guild.id) == 128)
        await eventually(lambda: job_done(bot, server.general.id))
    service.close()
    calls = history_calls(server, server.general.id, mark)
    assert [int(c.query["after"]) for c in calls] == [int(live["id"])]
    assert int(missed[0]["id"]) > int(live["id"])


async def test_live_messages_do_not_wait_for_a_backfill(server: Server, data_dir: Path) -> None:
    for i in range(600):
        server.world.add_message(server.general, server.bob, f"old {i}")
    settings = bot_settings(data_dir, backfill_batch_size=50)
    service = open_service(settings, pause=0.03)  # the backfill needs well over a second
    bot = make_bot(service, settings)
    async with server.fake.running(bot):
        ix = await server.fake.slash_command(
            "kindred enable",
            user=server.admin,
            channel=server.general,
            options={"channel": server.general},
        )
        await ix.wait_response()
        await eventually(lambda: fetched(bot, server.general.id) >= 50)
        live = await server.fake.send_message(server.general, server.alice, "urgent live post")

        def stored() -> bool:
            return any(p.external_id == live["id"] for p in posts(service, server.guild.id))

        await eventually(stored, timeout=3)
        assert not bot.backfill.jobs[server.general.id].done.is_set()
    assert bot.backfill.jobs[server.general.id].state == "cancelled"
    service.close()
