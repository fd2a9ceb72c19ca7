"""The fake Discord server drives the real discord.py client: login, cache, commands, views,
history paging, rate limits, reconnects, threads, events and uploads."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from .fake_discord import FakeDiscord
from .payloads import (
    CATEGORY,
    FORUM,
    PRIVATE_THREAD,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    Overwrite,
    World,
)

MODERATE = discord.Permissions(manage_messages=True, kick_members=True).value
HIDE = discord.Permissions(view_channel=True).value


@dataclass
class Server:
    """The standard test world: one guild with the channel kinds Kindred meets."""

    fake: FakeDiscord
    guild: FakeGuild
    mods: FakeRole
    general: FakeChannel
    hidden: FakeChannel
    forum: FakeChannel
    post: FakeChannel
    private: FakeChannel
    alice: FakeMember
    bob: FakeMember

    @property
    def world(self) -> World:
        return self.fake.world


def build_world(compress: bool = True) -> Server:
    world = World()
    guild = world.add_guild("Peer Support")
    mods = world.add_role(guild, "moderators", MODERATE)
    support = world.add_channel(guild, "Support", CATEGORY)
    general = world.add_channel(guild, "general", parent=support, topic="say hi")
    hidden = world.add_channel(
        guild, "staff", overwrites=[Overwrite(guild.id, 0, deny=HIDE), Overwrite(mods.id, 0, HIDE)]
    )
    forum = world.add_channel(guild, "experiences", FORUM, parent=support)
    alice = world.add_member(guild, "alice", [mods])
    bob = world.add_member(guild, "bob")
    post = world.add_thread(forum, "sleep and anxiety", owner=alice)
    private = world.add_thread(general, "private chat", owner=bob, type=PRIVATE_THREAD)
    fake = FakeDiscord(world, compress=compress)
    return Server(fake, guild, mods, general, hidden, forum, post, private, alice, bob)


class QuickBot(commands.Bot):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py sleeps 5 s before every re-IDENTIFY; a test has no one to be polite to."""


def make_bot() -> commands.Bot:
    intents = discord.Intents.default()
    intents.members = True
    intents.message_content = True
    return QuickBot(
        command_prefix="!",
        intents=intents,
        guild_ready_timeout=0.1,
        chunk_guilds_at_startup=False,
    )


@dataclass
class Seen:
    """Events a test bot received, with a way to wait for the next one."""

    events: list[tuple[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def listen(self, bot: commands.Bot, *names: str) -> None:
        for name in names:
            bot.add_listener(self._recorder(name), f"on_{name}")

    def _recorder(self, name: str) -> Any:
        async def record(*args: Any) -> None:
            self.events.append((name, args[0] if len(args) == 1 else args))
            self.changed.set()

        return record

    async def wait(self, name: str, timeout: float = 2.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            for event, value in self.events:
                if event == name:
                    self.events.remove((event, value))
                    return value
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), max(0.0, deadline - time.monotonic()))


async def assert_no_leaked_tasks() -> None:
    await asyncio.sleep(0)
    leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not leftover, f"leaked tasks: {leftover}"


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = build_world()
    async with srv.fake:
        yield srv
    await assert_no_leaked_tasks()


# login and cache ------------------------------------------------------------------------------
@pytest.mark.parametrize("compress", [True, False])
async def test_login_ready_and_cache(compress: bool) -> None:
    srv = build_world(compress)
    bot = make_bot()
    async with srv.fake, srv.fake.running(bot):
        assert bot.user is not None and bot.user.id == srv.world.bot.id
        assert bot.application_id == srv.world.application_id
        guild = bot.get_guild(srv.guild.id)
        assert guild is not None and guild.name == "Peer Support"
        assert {c.name for c in guild.text_channels} == {"general", "staff"}
        forum = guild.get_channel(srv.forum.id)
        assert isinstance(forum, discord.ForumChannel)
        assert forum.category is not None and forum.category.name == "Support"
        post = guild.get_thread(srv.post.id)
        assert post is not None and post.parent == forum and post.owner_id == srv.alice.id
        private = guild.get_thread(srv.private.id)
        assert private is not None and private.type is discord.ChannelType.private_thread
        alice = guild.get_member(srv.alice.id)
        assert alice is not None and [r.name for r in alice.roles] == ["@everyone", "moderators"]
        assert alice.guild_permissions.kick_members
        staff = guild.get_channel(srv.hidden.id)
        assert isinstance(staff, discord.TextChannel)
        assert not staff.permissions_for(guild.default_role).view_channel
        assert staff.permissions_for(alice).view_channel
        bob = guild.get_member(srv.bob.id)
        assert bob is not None and not staff.permissions_for(bob).view_channel
    await assert_no_leaked_tasks()
    assert srv.fake.sessions == ["identify"]
    assert [p["op"] for p in srv.fake.gateway_received[:2]] == [1, 2]  # heartbeat, IDENTIFY
    assert srv.fake.compressed == [compress]
    assert [c.path for c in srv.fake.rest_calls[:2]] == ["/users/@me", "/oauth2/applications/@me"]
    assert all(c.headers["authorization"] == "Bot fake-bot-token" for c in srv.fake.rest_calls)


async def test_fake_permissions_agree_with_discord_py(server: Server) -> None:
    bot = make_bot()
    async with server.fake.running(bot):
        guild = bot.get_guild(server.guild.id)
        assert guild is not None
        for fake_member in (server.alice, server.bob):
            member = guild.get_member(fake_member.id)
            assert member is not None
            for fake_channel in (server.general, server.hidden, server.forum, server.post):
                channel = guild.get_channel_or_thread(fake_channel.id)
                assert channel is not None
                expected = channel.permissions_for(member).value
                assert server.world.permissions_for(fake_member, fake_channel) == expected


async def test_wrong_token_fails_login(server: Server) -> None:
    bot = make_bot()
    with server.fake.installed(), pytest.raises(discord.LoginFailure):
        await bot.login("not-the-token")
    await bot.close()


# application commands -------------------------------------------------------------------------
@dataclass
class Answers:
    search: list[tuple[str, str, str, int]] = field(default_factory=list)
    enabled: list[str] = field(default_factory=list)
    permissions: list[tuple[bool, bool]] = field(default_factory=list)


def add_commands(bot: commands.Bot, answers: Answers) -> None:
    kindred = app_commands.Group(name="kindred", description="Kindred")
    admin = app_commands.Group(name="admin", description="Admin tools", parent=kindred)

    @kindred.command(name="search", description="Search shared experiences")
    async def search(
        interaction: discord.Interaction,
        query: str,
        channel: discord.TextChannel,
        member: discord.Member,
        limit: int = 5,
    ) -> None:
        answers.search.append((query, channel.name, member.name, limit))
        perms, app = interaction.permissions, interaction.app_permissions
        answers.permissions.append((perms.kick_members, app.send_messages))
        await interaction.response.send_message(f"{len(query)} chars", ephemeral=True)
        await interaction.followup.send("more results", ephemeral=True)

    @search.autocomplete("query")
    async def suggest(interaction: discord.Interaction, current: str) -> list[Any]:
        words = ["sleep", "sleepless", "panic"]
        return [app_commands.Choice(name=w, value=w) for w in words if w.startswith(current)]

    @admin.command(name="enable", description="Enable indexing of a channel")
    async def enable(interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        answers.enabled.append(channel.name)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.edit_original_response(content="enabled")

    @app_commands.context_menu(name="Find similar")
    async def find_similar(interaction: discord.Interaction, message: discord.Message) -> None:
        await interaction.response.send_message(f"similar to {message.id}", ephemeral=True)

    bot.tree.add_command(kindred)
    bot.tree.add_command(find_similar)


async def test_tree_sync_is_recorded_and_echoed(server: Server) -> None:
    bot = make_bot()
    add_commands(bot, Answers())
    async with server.fake.running(bot):
        synced = await bot.tree.sync()
        guild_synced = await bot.tree.sync(guild=discord.Object(server.guild.id))
    app = server.world.application_id
    (put,) = server.fake.calls("PUT", rf"/applications/{app}/commands")
    assert sorted(c["name"] for c in put.json) == ["Find similar", "kindred"]
    assert {c.name: c.id for c in synced} == {
        c["name"]: int(c["id"]) for c in server.fake.commands[None]
    }
    assert guild_synced == []
    assert server.fake.calls("PUT", rf"/applications/{app}/guilds/{server.guild.id}/commands")


async def test_slash_command_ephemeral_reply_and_followup(server: Server) -> None:
    bot = make_bot()
    answers = Answers()
    add_commands(bot, answers)
    async with server.fake.running(bot):
        await bot.tree.sync()
        options = {"query": "sleep", "channel": server.general, "member": server.bob, "limit": 3}
        ix = await server.fake.slash_command(
            "kindred search", user=server.alice, channel=server.general, options=options
        )
        response = await ix.wait_response()
        followup = await server.fake.wait_for_call(lambda c: c.path.startswith("/webhooks/"))
    assert answers.search == [("sleep", "general", "bob", 3)]
    assert answers.permissions == [(True, True)]  # alice moderates; the bot may send
    assert response["type"] == 4
    assert response["data"]["flags"] == 64 and response["data"]["content"] == "5 chars"
    assert followup.method == "POST" and followup.query["wait"] == "1"
    assert followup.json["flags"] == 64 and followup.json["content"] == "more results"
    assert "authorization" not in followup.headers
    assert [m["content"] for m in ix.followups] == ["more results"]
    assert ix.original is not None and int(ix.original["id"]) not in server.general.messages


async def test_subcommand_group_defer_then_edit_original(server: Server) -> None:
    bot = make_bot()
    answers = Answers()
    add_commands(bot, answers)
    async with server.fake.running(bot):
        await bot.tree.sync()
        ix = await server.fake.slash_command(
            "kindred admin enable",
            user=server.alice,
            channel=server.general,
            options={"channel": server.general},
        )
        deferred = await ix.wait_response()
        edit = await server.fake.wait_for_call(lambda c: c.method == "PATCH")
    assert answers.enabled == ["general"]
    assert deferred == {"type": 5, "data": {"flags": 64}}
    assert edit.path.endswith("/messages/@original") and edit.json["content"] == "enabled"
    assert ix.original is not None and ix.original["content"] == "enabled"
    assert ix.original["flags"] == 64  # the loading flag is gone after the edit


async def test_followup_edit_fetch_and_delete_original(server: Server) -> None:
    bot = make_bot()
    done = asyncio.Event()

    @bot.tree.command(name="summary", description="Summarise")
    async def summary(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("working")
        note = await interaction.followup.send("draft", wait=True)
        await note.edit(content="final")
        original = await interaction.original_response()
        assert original.content == "working"
        await interaction.delete_original_response()
        done.set()

    async with server.fake.running(bot):
        await bot.tree.sync()
        ix = await server.fake.slash_command("summary", user=server.bob, channel=server.general)
        await asyncio.wait_for(done.wait(), 2)
    app, token = server.world.application_id, ix.token
    (edit,) = server.fake.calls("PATCH", rf"/webhooks/{app}/{token}/messages/\d+")
    assert edit.json["content"] == "final" and edit.status == 200
    assert server.fake.calls("GET", rf"/webhooks/{app}/{token}/messages/@original")[0].status == 200
    assert server.fake.calls("DELETE", rf"/webhooks/{app}/{token}/messages/@original")
    assert ix.original is None and [m["content"] for m in ix.followups] == ["final"]
    assert [m["content"] for m in server.general.messages.values()] == ["final"]


async def test_guild_fetches(server: Server) -> None:
    bot = make_bot()
    async with server.fake.running(bot):
        guild = bot.get_guild(server.guild.id)
        assert guild is not None
        member = await guild.fetch_member(server.alice.id)
        channels = await guild.fetch_channels()
        roles = await guild.fetch_roles()
        fetched = await bot.fetch_channel(server.post.id)
        with pytest.raises(discord.NotFound):
            await guild.fetch_member(12345)
    assert discord.http.Route.BASE == "https://discord.com/api/v10"  # restored on exit
    assert [r.name for r in member.roles] == ["@everyone", "moderators"]
    assert {c.name for c in channels} == {"Support", "general", "staff", "experiences"}
    assert {r.name for r in roles} == {"@everyone", "Kindred", "moderators"}
    assert isinstance(fetched, discord.Thread) and fetched.parent_id == server.forum.id


async def test_autocomplete_answers_choices(server: Server) -> None:
    bot = make_bot()
    add_commands(bot, Answers())
    async with server.fake.running(bot):
        await bot.tree.sync()
        ix = await server.fake.autocomplete(
            "kindred search",
            user=server.bob,
            channel=server.general,
            options={"query": "sle"},
            focused="query",
        )
        response = await ix.wait_response()
    assert response["type"] == 8
    assert [c["value"] for c in response["data"]["choices"]] == ["sleep", "sleepless"]


async def test_message_context_menu_receives_resolved_message(server: Server) -> None:
    bot = make_bot()
    add_commands(bot, Answers())
    target = server.world.add_message(server.post, server.bob, "I could not sleep for days")
    async with server.fake.running(bot):
        await bot.tree.sync()
        ix = await server.fake.message_command("Find similar", user=server.alice, target=target)
        response = await ix.wait_response()
    assert response["data"]["content"] == f"similar to {target['id']}"


# views ----------------------------------------------------------------------------------------
class Consent(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=30)
        self.clicked: list[str] = []

    @discord.ui.button(label="Yes", custom_id="consent:yes", style=discord.ButtonStyle.success)
    async def yes(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        self.clicked.append(f"yes:{interaction.user.id}")
        await interaction.response.edit_message(content="Thank you", view=None)

    @discord.ui.button(label="No", custom_id="consent:no", style=discord.ButtonStyle.secondary)
    async def no(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        self.clicked.append("no")
        await interaction.response.send_message("ok", ephemeral=True)


async def test_button_click_routes_to_view_callback(server: Server) -> None:
    bot = make_bot()
    view = Consent()
    async with server.fake.running(bot):
        channel = bot.get_channel(server.general.id)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("May we index your posts?", view=view)
        stored = server.general.messages[sent.id]
        assert stored["components"][0]["components"][0]["custom_id"] == "consent:yes"
        ix = await server.fake.click(stored, "consent:yes", user=server.bob)
        response = await ix.wait_response()
        view.stop()
    assert view.clicked == [f"yes:{server.bob.id}"]
    assert response["type"] == 7
    assert server.general.messages[sent.id]["content"] == "Thank you"
    assert server.general.messages[sent.id]["components"] == []


# history and rate limits ----------------------------------------------------------------------
async def test_history_pages_through_250_messages(server: Server) -> None:
    written = [server.world.add_message(server.general, server.alice, f"m{i}") for i in range(250)]
    bot = make_bot()
    async with server.fake.running(bot):
        channel = bot.get_channel(server.general.id)
        assert isinstance(channel, discord.TextChannel)
        oldest_first = [m async for m in channel.history(limit=None, oldest_first=True)]
        newest_first = [m async for m in channel.history(limit=None)]
    assert [m.content for m in oldest_first] == [f"m{i}" for i in range(250)]
    assert [m.id for m in oldest_first] == [int(m["id"]) for m in written]
    assert [m.id for m in newest_first] == [m.id for m in reversed(oldest_first)]
    pages = server.fake.calls("GET", rf"/channels/{server.general.id}/messages")
    assert len(pages) == 6 and all(p.query["limit"] == "100" for p in pages)
    assert "after" in pages[1].query and "before" in pages[4].query


async def test_history_around_and_limit_validation(server: Server) -> None:
    ids = [int(server.world.add_message(server.general, server.bob, "x")["id"]) for _ in range(9)]
    bot = make_bot()
    async with server.fake.running(bot):
        channel = bot.get_channel(server.general.id)
        assert isinstance(channel, discord.TextChannel)
        around = [m.id async for m in channel.history(limit=4, around=discord.Object(ids[4]))]
        with pytest.raises(discord.HTTPException) as err:
            await bot.http.logs_from(server.general.id, 101)
    assert around == [ids[5], ids[4], ids[3], ids[2]]
    assert err.value.status == 400


async def test_rate_limit_on_history_is_waited_out(server: Server) -> None:
    for i in range(120):
        server.world.add_message(server.general, server.alice, f"m{i}")
    bot = make_bot()
    server.fake.fail_next("GET", r"/channels/\d+/messages", times=1, retry_after=0.2)
    async with server.fake.running(bot):
        channel = bot.get_channel(server.general.id)
        assert isinstance(channel, discord.TextChannel)
        started = time.monotonic()
        got = [m async for m in channel.history(limit=None)]
        waited = time.monotonic() - started
    assert len(got) == 120
    statuses = [c.status for c in server.fake.calls("GET", r"/channels/\d+/messages")]
    assert statuses == [429, 200, 200]
    assert waited >= 0.2


async def test_missing_access_is_forbidden(server: Server) -> None:
    server.world.add_message(server.hidden, server.alice, "staff only")
    bot = make_bot()
    async with server.fake.running(bot):
        channel = bot.get_channel(server.hidden.id)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.Forbidden) as err:
            [m async for m in channel.history(limit=10)]
    assert err.value.code == 50001


async def test_unknown_route_404_and_bad_body_400_fail_fast(server: Server) -> None:
    bot = make_bot()
    async with server.fake.running(bot):
        started = time.monotonic()
        with pytest.raises(discord.NotFound) as missing:
            await bot.http.request(discord.http.Route("GET", "/nothing/here"))
        with pytest.raises(discord.HTTPException) as bad:
            await bot.http.request(discord.http.Route("POST", "/users/@me/channels"), json={})
        elapsed = time.monotonic() - started
    assert missing.value.code == 0 and bad.value.status == 400
    assert server.fake.calls("GET", "/nothing/here")[0].status == 404
    assert "recipient_id" in (server.fake.calls("POST", "/users/@me/channels")[0].error or "")
    assert elapsed < 0.5


# gateway --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("close", ["identify", "resume"]),
        ("close-no-resume", ["identify", "resume-rejected", "identify"]),
        ("op7-reconnect", ["identify", "resume"]),
        ("op9-invalid-session", ["identify", "identify"]),
    ],
)
async def test_reconnect_then_still_receives_messages(
    server: Server, how: str, expected: list[str]
) -> None:
    bot = make_bot()
    seen = Seen()
    seen.listen(bot, "message", "resumed", "ready")
    server.fake.accept_resume = how != "close-no-resume"
    async with server.fake.running(bot):
        seen.events.clear()  # forget the first on_ready
        if how.startswith("close"):
            await server.fake.close_gateway(code=4000)
        elif how == "op7-reconnect":
            await server.fake.request_reconnect()
        else:
            await server.fake.invalidate_session(resumable=False)
        await server.fake.wait_for_session(2)
        sent = await server.fake.send_message(server.general, server.bob, "still there?")
        message = await seen.wait("message")
        await seen.wait("resumed" if expected[-1] == "resume" else "ready")
    assert server.fake.sessions == expected
    assert message.id == int(sent["id"]) and message.content == "still there?"
    resumes = [p["d"] for p in server.fake.gateway_received if p["op"] == 6]
    if how == "op9-invalid-session":
        assert resumes == []
    else:
        assert resumes[0]["seq"] == 2 and resumes[0]["token"] == "<redacted>"  # READY, GUILD_CREATE


async def test_message_in_forum_thread_reaches_on_message(server: Server) -> None:
    bot = make_bot()
    seen = Seen()
    seen.listen(bot, "message", "thread_create")
    async with server.fake.running(bot):
        await server.fake.send_message(
            server.post, server.alice, "same here", mentions=[server.bob]
        )
        message = await seen.wait("message")
        thread, _ = await server.fake.create_forum_post(
            server.forum, "new post", server.bob, "first post"
        )
        created = await seen.wait("thread_create")
        starter = await seen.wait("message")
    assert isinstance(message.channel, discord.Thread)
    assert isinstance(message.channel.parent, discord.ForumChannel)
    assert message.channel.parent.id == server.forum.id
    assert isinstance(message.author, discord.Member) and message.author.id == server.alice.id
    assert [u.id for u in message.mentions] == [server.bob.id]
    assert created.id == thread.id and created.parent_id == server.forum.id
    assert starter.id == thread.id and starter.channel.id == thread.id


async def test_events_update_the_client_cache(server: Server) -> None:
    bot = make_bot()
    seen = Seen()
    names = ["raw_message_edit", "raw_message_delete", "raw_bulk_message_delete", "thread_update"]
    names += ["thread_delete", "guild_channel_delete", "member_join", "guild_remove", "thread_join"]
    seen.listen(bot, *names)
    async with server.fake.running(bot):
        guild = bot.get_guild(server.guild.id)
        assert guild is not None
        first = await server.fake.send_message(server.general, server.bob, "one")
        second = await server.fake.send_message(server.general, server.bob, "two")
        await server.fake.edit_message(first, "one, edited")
        assert (await seen.wait("raw_message_edit")).data["content"] == "one, edited"
        await server.fake.delete_message(first)
        assert (await seen.wait("raw_message_delete")).message_id == int(first["id"])
        await server.fake.bulk_delete(server.general, [second])
        assert (await seen.wait("raw_bulk_message_delete")).message_ids == {int(second["id"])}
        await server.fake.update_thread(server.post, archived=True)
        _, after = await seen.wait("thread_update")
        assert after.archived and guild.get_thread(server.post.id) is None
        await server.fake.delete_thread(server.private)
        assert (await seen.wait("thread_delete")).id == server.private.id
        await server.fake.delete_channel(server.hidden)
        assert (await seen.wait("guild_channel_delete")).id == server.hidden.id
        quiet = server.world.add_thread(server.general, "made while away", owner=server.bob)
        assert guild.get_thread(quiet.id) is None
        await server.fake.thread_list_sync(server.guild)
        await seen.wait("thread_join")
        assert guild.get_thread(quiet.id) is not None
        carol = await server.fake.member_join(server.guild, "carol", [server.mods])
        joined = await seen.wait("member_join")
        assert joined.id == carol.id and [r.name for r in joined.roles][-1] == "moderators"
        await server.fake.remove_guild(server.guild)
        assert (await seen.wait("guild_remove")).id == server.guild.id
        assert bot.get_guild(server.guild.id) is None


# threads over REST ----------------------------------------------------------------------------
async def test_active_and_archived_threads(server: Server) -> None:
    old = [
        server.world.add_thread(server.forum, f"old {i}", archived=True, owner=server.bob)
        for i in range(3)
    ]
    bot = make_bot()
    async with server.fake.running(bot):
        guild = bot.get_guild(server.guild.id)
        forum = bot.get_channel(server.forum.id)
        assert guild is not None and isinstance(forum, discord.ForumChannel)
        active = await guild.active_threads()
        archived = [t async for t in forum.archived_threads(limit=None)]
        page = await bot.http.get_public_archived_threads(server.forum.id, limit=2)
    assert {t.id for t in active} == {server.post.id, server.private.id}
    assert [t.id for t in archived] == [t.id for t in reversed(old)]
    assert all(t.archived and t.parent_id == server.forum.id for t in archived)
    assert len(page["threads"]) == 2 and page["has_more"] is True


# messages the bot sends -----------------------------------------------------------------------
async def test_send_reply_file_edit_delete_and_dm(server: Server) -> None:
    question = server.world.add_message(server.general, server.bob, "anyone?")
    bot = make_bot()
    async with server.fake.running(bot):
        channel = bot.get_channel(server.general.id)
        assert isinstance(channel, discord.TextChannel)
        original = await channel.fetch_message(int(question["id"]))
        reply = await original.reply(
            "here is a summary",
            file=discord.File(io.BytesIO(b"line one\n"), filename="summary.txt"),
            allowed_mentions=discord.AllowedMentions.none(),
        )
        edited = await reply.edit(content="updated summary")
        await reply.delete()
        user = await bot.fetch_user(server.bob.id) if False else bot.get_user(server.bob.id)
        assert user is not None
        dm = await user.send("a private note")
    post = server.fake.calls("POST", rf"/channels/{server.general.id}/messages")[0]
    assert post.headers["content-type"].startswith("multipart/form-data")
    assert post.json["content"] == "here is a summary"
    assert post.json["allowed_mentions"] == {"parse": []}
    assert [(f.filename, f.data) for f in post.files] == [("summary.txt", b"line one\n")]
    assert reply.reference is not None and reply.reference.message_id == original.id
    assert reply.attachments[0].filename == "summary.txt" and reply.attachments[0].size == 9
    assert edited.content == "updated summary" and edited.edited_at is not None
    assert reply.id not in server.general.messages
    assert isinstance(dm.channel, discord.DMChannel)
    assert server.fake.calls("POST", "/users/@me/channels")[0].json == {
        "recipient_id": server.bob.id
    }
    assert server.world.dms[server.bob.id].messages[dm.id]["content"] == "a private note"
