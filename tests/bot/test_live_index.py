"""Live indexing against the fake Discord: only enabled channels are stored, edits re-index,
deletes, threads, forum posts, disable, channel deletion, guild removal and reconnects."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from sqlmodel import select

from bot.config import BotSettings
from knowledge.scope import SearchScope
from knowledge.service import KnowledgeService
from knowledge.store.models import Channel, ChannelKind, Post, PostKind, PostVector

from .conftest import QuickBot, Server, enable, eventually, make_bot, post_count, posts
from .payloads import PRIVATE_THREAD


def vector_of(service: KnowledgeService, external_id: str) -> bytes | None:
    with service.store.session() as session:
        query = select(PostVector.vector).join(Post).where(Post.external_id == external_id)
        return session.exec(query).first()


def contents(service: KnowledgeService, guild_id: int) -> dict[str, str]:
    return {p.external_id: p.content for p in posts(service, guild_id)}


async def test_message_in_channel_not_enabled_leaves_no_trace(
    server: Server, bot: QuickBot, kservice: KnowledgeService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    marker = "zebra-quartz-7731 my private diagnosis"
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        secret = await server.fake.send_message(server.offtopic, server.bob, marker)
        await server.fake.edit_message(secret, marker + " (edited)")
        await server.fake.send_message(server.general, server.bob, "a post in an enabled channel")
        await eventually(lambda: post_count(kservice, server.guild.id) == 1)
    stored = contents(kservice, server.guild.id)
    assert list(stored.values()) == ["a post in an enabled channel"]
    assert len(kservice.store.vector_index(server.guild.id)) == 1
    with kservice.store.session() as session:
        hits = session.connection().exec_driver_sql(
            "SELECT count(*) FROM post_fts WHERE post_fts MATCH 'zebra'"
        )
        assert hits.scalar() == 0
    assert caplog.records, "logging was captured"
    for record in caplog.records:
        assert "zebra" not in record.getMessage(), record.name


async def test_edit_of_uncached_message_reindexes(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    old = server.world.add_message(server.general, server.bob, "I sleep badly since the new pills")
    async with server.fake.running(bot):
        await enable(server, server.general, bot)  # the message is stored, not cached
        assert bot.get_channel(server.general.id) is not None
        before = vector_of(kservice, old["id"])
        assert before is not None
        await server.fake.edit_message(old, "knee pain after running, ice helps")
        await eventually(
            lambda: contents(kservice, server.guild.id)[old["id"]].startswith("knee pain")
        )
        await eventually(lambda: vector_of(kservice, old["id"]) != before, what="re-embed")
    after = vector_of(kservice, old["id"])
    assert after is not None
    assert not np.allclose(np.frombuffer(before, np.float32), np.frombuffer(after, np.float32))
    (row,) = posts(kservice, server.guild.id)
    assert row.edited_at is not None


async def test_delete_and_bulk_delete_remove_from_every_store(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    sent = [
        server.world.add_message(server.general, server.bob, f"panic attacks story {i}")
        for i in range(4)
    ]
    gid = server.guild.id
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        assert post_count(kservice, gid) == 4
        await server.fake.delete_message(sent[0])
        await eventually(lambda: post_count(kservice, gid) == 3)
        await server.fake.bulk_delete(server.general, sent[1:3])
        await eventually(lambda: post_count(kservice, gid) == 1)
    assert list(contents(kservice, gid)) == [sent[3]["id"]]
    assert len(kservice.store.vector_index(gid)) == 1
    scope_hits = kservice.search("panic attacks story", SearchScope(guild_id=gid))
    assert [h.external_id for h in scope_hits] == [sent[3]["id"]]


async def test_threads_and_forum_posts_carry_their_thread(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    gid = server.guild.id
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        await enable(server, server.forum, bot)
        thread = await server.fake.create_thread(server.general, "sleep tips", owner=server.bob)
        await server.fake.send_message(thread, server.bob, "melatonin helped me")
        post, _ = await server.fake.create_forum_post(
            server.forum, "my story", server.alice, "living with migraines"
        )
        await server.fake.send_message(post, server.bob, "same here, migraines daily")
        private = await server.fake.create_thread(
            server.general, "private", owner=server.bob, type=PRIVATE_THREAD
        )
        await server.fake.send_message(private, server.bob, "private thread words")
        await eventually(lambda: post_count(kservice, gid) == 3)
        rows = {p.content: p for p in posts(kservice, gid)}
        assert (rows["melatonin helped me"].channel_id, rows["melatonin helped me"].thread_id) == (
            server.general.id,
            thread.id,
        )
        starter = rows["living with migraines"]
        assert (starter.channel_id, starter.thread_id) == (server.forum.id, post.id)
        assert starter.kind == PostKind.FORUM_POST
        assert rows["same here, migraines daily"].thread_id == post.id
        assert "private thread words" not in rows
        with kservice.store.session() as session:
            registered = session.get(Channel, post.id)
            assert registered is not None and registered.kind == ChannelKind.THREAD
            assert registered.parent_id == server.forum.id
        await server.fake.delete_thread(thread)
        await eventually(lambda: post_count(kservice, gid) == 2)


async def test_disable_asks_then_purges(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    for i in range(5):
        server.world.add_message(server.general, server.bob, f"story {i}")
    gid = server.guild.id
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        assert post_count(kservice, gid) == 5
        ix = await server.fake.slash_command(
            "kindred disable",
            user=server.admin,
            channel=server.general,
            options={"channel": server.general},
        )
        reply = await ix.wait_response()
        assert reply["data"]["flags"] & 64 and post_count(kservice, gid) == 5
        assert ix.original is not None
        buttons = ix.original["components"][0]["components"]
        confirm = next(b for b in buttons if b["label"].startswith("Disable"))
        refused = await server.fake.click(ix.original, confirm["custom_id"], user=server.bob)
        assert (await refused.wait_response())["data"]["flags"] & 64
        assert post_count(kservice, gid) == 5
        click = await server.fake.click(ix.original, confirm["custom_id"], user=server.admin)
        await click.wait_response()
        await eventually(lambda: post_count(kservice, gid) == 0, what="purge")
        await eventually(lambda: "disabled" in (ix.original or {}).get("content", ""))
        assert not kservice.is_enabled(gid, server.general.id)
        assert bot.backfill.checkpoints.for_channel(gid, server.general.id) == []
        await server.fake.send_message(server.general, server.bob, "after disable")
        await server.fake.send_message(server.general, server.bob, "still after")
    assert post_count(kservice, gid) == 0
    assert len(kservice.store.vector_index(gid)) == 0


async def test_channel_delete_and_guild_removal_purge(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    server.world.add_message(server.general, server.bob, "general words")
    server.world.add_message(server.offtopic, server.bob, "offtopic words")
    gid = server.guild.id
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        await enable(server, server.offtopic, bot)
        assert post_count(kservice, gid) == 2
        await server.fake.delete_channel(server.offtopic)
        await eventually(lambda: post_count(kservice, gid) == 1)
        assert kservice.enabled_channel_ids(gid) == {server.general.id}
        await server.fake.remove_guild(server.guild)
        await eventually(lambda: post_count(kservice, gid) == 0)
        await eventually(lambda: kservice.store.guild_ids() == [])
        checkpoints = bot.backfill.checkpoints
        await eventually(lambda: checkpoints.for_channel(gid, server.general.id) == [])


async def test_a_channel_deleted_while_offline_is_purged_by_the_catch_up(
    server: Server, bot: QuickBot, kservice: KnowledgeService, settings: BotSettings
) -> None:
    """The fourth teardown (no CHANNEL_DELETE was seen): on start the catch-up finds an enabled
    channel gone and erases it with one service call, checkpoints included."""
    server.world.add_message(server.general, server.bob, "general words")
    server.world.add_message(server.offtopic, server.bob, "offtopic words")
    gid, gone = server.guild.id, server.offtopic.id
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        await enable(server, server.offtopic, bot)
        assert post_count(kservice, gid) == 2
    assert kservice.checkpoints.for_channel(gid, gone)
    del server.world.guilds[gid].channels[gone]  # deleted while the bot was stopped
    async with server.fake.running(make_bot(kservice, settings)):
        await eventually(lambda: kservice.enabled_channel_ids(gid) == {server.general.id})
        await eventually(lambda: post_count(kservice, gid) == 1)
    assert kservice.checkpoints.for_channel(gid, gone) == []
    assert [p.content for p in posts(kservice, gid)] == ["general words"]


async def test_reconnect_keeps_indexing(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    gid = server.guild.id
    server.fake.accept_resume = False  # the harder path: a fresh IDENTIFY
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        await server.fake.close_gateway(code=4000)
        await server.fake.wait_for_session(2)
        await server.fake.send_message(server.general, server.bob, "after the reconnect")
        await eventually(lambda: post_count(kservice, gid) == 1)
        await eventually(lambda: bot.is_ready())
        await eventually(lambda: not bot.backfill.jobs[server.general.id].active)
    assert server.fake.sessions[-1] == "identify"
    assert contents(kservice, gid).popitem()[1] == "after the reconnect"


CRISIS_WORDS = "I am going to kill myself tonight, I have the pills ready"


def data_files_containing(service: KnowledgeService, needle: bytes) -> list[str]:
    folder = service.settings.storage.data_dir
    return [str(p) for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes()]


async def test_guild_removal_leaves_no_row_and_no_words_on_disk(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    """Through the real client: after GUILD_DELETE every table has zero rows for the guild and
    the exact words of a crisis post are in no file of the data folder."""
    from sqlmodel import SQLModel, text

    from knowledge.privacy.tables import spec_for

    gid = server.guild.id
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        desk = kservice.safety_desk  # alerts go to #staff, so an alert row quotes the post
        await bot.offload.run(
            lambda: desk.configure(gid, server.admin.id, moderator_channel_id=server.staff.id)
        )
        await server.fake.send_message(server.general, server.bob, CRISIS_WORDS)
        await server.fake.send_message(server.general, server.alice, "ordinary words")
        await eventually(lambda: post_count(kservice, gid) == 2)
        await bot.offload.run(lambda: kservice.flush(force=True))

        def alerts() -> int:
            with kservice.store.session() as session:
                query = text(f"SELECT COUNT(*) FROM safetyalert WHERE guild_id = {gid}")
                return int(session.exec(query).one()[0])

        await eventually(lambda: alerts() == 1)  # the crisis path ran and recorded an alert
        assert data_files_containing(kservice, CRISIS_WORDS.encode())  # it was on disk
        await server.fake.remove_guild(server.guild)
        await eventually(lambda: kservice.store.guild_ids() == [])
        await bot.offload.run(lambda: kservice.flush(force=True))
    checked = 0
    with kservice.store.session() as session:
        for table in SQLModel.metadata.sorted_tables:
            spec = spec_for(table.name)
            assert spec is not None, f"{table.name} is not in the registry"
            if spec.guild is not None:
                where = f"{spec.guild} = {gid}"
            elif spec.post is not None:  # rows of a post: none may outlive their post
                where = f"{spec.post} NOT IN (SELECT id FROM post)"
            else:
                continue
            count = session.exec(text(f"SELECT COUNT(*) FROM {table.name} WHERE {where}")).one()
            assert count[0] == 0, table.name
            checked += 1
    assert checked >= 10
    assert data_files_containing(kservice, CRISIS_WORDS.encode()) == []
