"""After `kindred import` of DiscordChatExporter files, the live bot continues the same channels.

The fake Discord serves a server whose guild, channels, thread, members and messages carry the
very ids of the export fixture (tests/kindred/fixtures/discord_export), plus a few messages
posted after the export was made. The import runs first, into the data folder the bot then opens
with catch-up on start. Every check here depends on the ids lining up: had the import hashed
channel ids the bot would not see the channels as enabled; had it ignored or misplaced its
checkpoints the catch-up would read the history again; had it hashed message ids the live
events for imported messages would store them a second time.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kindred.cli import common
from kindred.cli.app import app
from knowledge.config import CONFIG_ENV, DATA_DIR_ENV, KindredSettings
from knowledge.embeddings import HashingEmbedder
from knowledge.records import IngestReport, PostRecord
from knowledge.service import KnowledgeService
from knowledge.store.models import Post

from .conftest import QuickBot, bot_settings, eventually, make_bot, post_count, posts
from .fake_discord import FakeDiscord, RestCall
from .payloads import CATEGORY, PRIVATE_THREAD, FakeMember, Json, World

EXPORTS = Path(__file__).parents[1] / "kindred" / "fixtures" / "discord_export"
GUILD = 815735085465600001
SUPPORT, GENERAL, SLEEP = 815736343756800002, 815736595415040003, 815736847073280004
THREAD, PRIVATE = 1235322100776960003, 1235332418764800020
MAYA, SAM, NIA = 584531627212800005, 664619345510400006, 1235017845964800008
IMPORTED_POSTS = 8  # what the import stores (its own test counts them)
# DiscordChatExporter's message type names -> Discord's message type numbers
MESSAGE_TYPES = {"Default": 0, "Reply": 19, "GuildMemberJoin": 7, "ThreadCreated": 18}


def export(channel_id: int) -> dict[str, Any]:
    [path] = [p for p in EXPORTS.glob("*.json") if p.name.endswith(f"[{channel_id}].json")]
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def newest_in_file(channel_id: int) -> int:
    return max(int(m["id"]) for m in export(channel_id)["messages"])


def member_post(message: dict[str, Any]) -> bool:
    """A member's own message with text: what both the import and the bot store."""
    ordinary = message["type"] in ("Default", "Reply")
    return ordinary and not message["author"]["isBot"] and bool(message["content"])


def gateway_fields(message: dict[str, Any]) -> Json:
    """The payload fields Discord sends for an exported message besides id, author, content."""
    fields: Json = {
        "type": MESSAGE_TYPES[message["type"]],
        "edited_timestamp": message["timestampEdited"],
        "attachments": [
            {
                "id": a["id"],
                "filename": a["fileName"],
                "size": a["fileSizeBytes"],
                "url": a["url"],
                "proxy_url": a["url"],
            }
            for a in message["attachments"]
        ],
    }
    reference = message.get("reference")
    if reference:
        ref: Json = {"type": 0, "channel_id": reference["channelId"]}
        ref["guild_id"] = reference["guildId"]
        if reference["messageId"]:
            ref["message_id"] = reference["messageId"]
        fields["message_reference"] = ref
    return fields


class Mirror:
    """The fixture's server as the fake Discord serves it, every id taken from the export."""

    def __init__(self) -> None:
        files = [export(c) for c in (GENERAL, SLEEP, THREAD, PRIVATE)]
        self.world = world = World()
        self.guild = world.add_guild(files[0]["guild"]["name"], id=GUILD)
        self.members: dict[int, FakeMember] = {}
        for data in files:
            for message in data["messages"]:
                author = message["author"]
                if int(author["id"]) not in self.members:
                    self.members[int(author["id"])] = world.add_member(
                        self.guild, author["name"], bot=author["isBot"], id=int(author["id"])
                    )
        support = world.add_channel(self.guild, "Support", CATEGORY, id=SUPPORT)
        self.general = world.add_channel(self.guild, "general", parent=support, id=GENERAL)
        self.sleep = world.add_channel(self.guild, "sleep", parent=support, id=SLEEP)
        maya = self.members[MAYA]
        self.thread = world.add_thread(self.general, "Night-time lows", owner=maya, id=THREAD)
        self.private = world.add_thread(
            self.general, "mods only", owner=maya, type=PRIVATE_THREAD, id=PRIVATE
        )
        self.history: dict[str, Json] = {}  # every exported message, by id
        for data in files:
            channel = world.channel(int(data["channel"]["id"]))
            assert channel is not None
            for message in data["messages"]:
                author = self.members[int(message["author"]["id"])]
                payload = world.add_message(
                    channel,
                    author,
                    message["content"],
                    id=int(message["id"]),
                    **gateway_fields(message),
                )
                self.history[payload["id"]] = payload

    def post_while_offline(self) -> list[Json]:
        """Messages posted after the export was made (the clock makes later ids)."""
        world, sam, nia = self.world, self.members[SAM], self.members[NIA]
        return [
            world.add_message(self.general, nia, "Thanks all, the juice tip helps already."),
            world.add_message(self.general, sam, "Glad to hear it, Nia."),
            world.add_message(self.thread, nia, "Night lows: a bedtime snack helped me too."),
        ]


def history_calls(fake: FakeDiscord) -> list[RestCall]:
    return fake.calls("GET", r"/channels/\d+/messages")


def as_utc(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def stored_place(post: Post) -> tuple[Any, ...]:
    """What a row says about a message besides its text."""
    return (
        post.channel_id,
        post.thread_id,
        post.author_id,
        str(post.kind),
        post.reply_to,
        as_utc(post.created_at),
        as_utc(post.edited_at),
    )


def record_place(record: PostRecord) -> tuple[Any, ...]:
    return (
        record.channel_id,
        record.thread_id,
        record.author_id,
        str(record.kind),
        record.reply_to,
        as_utc(record.created_at),
        as_utc(record.edited_at),
    )


def by_id(service: KnowledgeService) -> dict[str, Post]:
    return {p.external_id: p for p in posts(service, GUILD)}


def import_fixture(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """`kindred import` of the fixture folder, as an operator runs it (the fast fake model)."""
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.chdir(data_dir.parent)  # no ./kindred.toml

    def fast(settings: KindredSettings) -> KnowledgeService:
        return KnowledgeService(settings, embedder=HashingEmbedder())

    monkeypatch.setattr(common, "service_factory", fast)
    args = ["import", str(EXPORTS), "--guild", str(GUILD), "--data-dir", str(data_dir)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


class IngestSpy:
    """Every record the bot hands the service, with the report it got back."""

    def __init__(self, service: KnowledgeService, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[list[PostRecord], IngestReport]] = []
        original = service.ingest

        def ingest(records: Sequence[PostRecord], *args: Any) -> IngestReport:
            report = original(records, *args)
            self.calls.append((list(records), report))
            return report

        monkeypatch.setattr(service, "ingest", ingest)

    def since(self, mark: int) -> list[tuple[list[PostRecord], IngestReport]]:
        return self.calls[mark:]

    def seen(self, mark: int) -> set[str]:
        return {r.external_id for records, _ in self.since(mark) for r in records}


async def test_bot_continues_an_imported_history_without_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    output = import_fixture(data_dir, monkeypatch)
    assert "Imported 2 channels and 1 thread from 3 files." in output

    settings = bot_settings(data_dir, catch_up_on_start=True)
    service = KnowledgeService(settings, embedder=HashingEmbedder())
    service.start()
    try:
        imported = by_id(service)
        assert len(imported) == IMPORTED_POSTS
        # The import enabled the two channels (an operator's act) and recorded, per channel and
        # thread, that the history is stored up to the newest message of its file.
        assert service.enabled_channel_ids(GUILD) == {GENERAL, SLEEP}
        cursors: dict[int, int] = {}
        for source, channel in ((GENERAL, GENERAL), (THREAD, GENERAL), (SLEEP, SLEEP)):
            found = service.checkpoints.get(source)
            assert found is not None and found.channel_id == channel
            assert found.cursor == newest_in_file(source)
            cursors[source] = found.cursor

        mirror = Mirror()
        offline = mirror.post_while_offline()
        assert all(int(m["id"]) > cursors[GENERAL] for m in offline)
        spy = IngestSpy(service, monkeypatch)
        bot = make_bot(service, settings)
        async with FakeDiscord(mirror.world) as fake, fake.running(bot):
            await check_catch_up(bot, fake, service, cursors, offline)
            new = await check_live_events(bot, fake, mirror, service, spy, imported)
        check_threads_as_the_live_bot_stores_them(service, [*offline, new])
    finally:
        service.close()


async def check_catch_up(
    bot: QuickBot,
    fake: FakeDiscord,
    service: KnowledgeService,
    cursors: dict[int, int],
    offline: list[Json],
) -> None:
    """(1) the imported channels are enabled for the bot, and catch-up runs for them alone;
    (2) it reads only what came after the import's checkpoints."""

    def caught_up() -> bool:
        jobs = bot.backfill.jobs
        return {GENERAL, SLEEP} <= jobs.keys() and all(j.done.is_set() for j in jobs.values())

    await eventually(caught_up, timeout=10, what="catch-up of the imported channels")
    assert await bot.indexed.enabled_ids(GUILD) == {GENERAL, SLEEP}
    jobs = bot.backfill.jobs
    assert set(jobs) == {GENERAL, SLEEP}
    assert [jobs[c].state for c in (GENERAL, SLEEP)] == ["done", "done"]
    assert (jobs[GENERAL].fetched, jobs[SLEEP].fetched) == (len(offline), 0)

    calls = history_calls(fake)
    read = {int(c.path.split("/")[2]) for c in calls}
    assert read == {GENERAL, THREAD, SLEEP}  # never the private thread
    for call in calls:
        source = int(call.path.split("/")[2])
        assert call.status == 200 and "before" not in call.query and "around" not in call.query
        assert int(call.query.get("after", 0)) >= cursors[source], (call.path, call.query)
    for source, cursor in cursors.items():
        first = next(c for c in calls if c.path == f"/channels/{source}/messages")
        assert int(first.query["after"]) == cursor  # continued exactly where the import ended

    expected = IMPORTED_POSTS + len(offline)
    await eventually(lambda: post_count(service, GUILD) == expected, what="caught-up posts")
    stored = [p.external_id for p in posts(service, GUILD)]
    assert len(stored) == len(set(stored)) == expected
    assert {m["id"] for m in offline} <= set(stored)


async def check_live_events(
    bot: QuickBot,
    fake: FakeDiscord,
    mirror: Mirror,
    service: KnowledgeService,
    spy: IngestSpy,
    imported: dict[str, Post],
) -> Json:
    """(3) live events for imported ids meet the imported rows; a new message adds one row."""
    count = post_count(service, GUILD)

    # MESSAGE_CREATE for every member's message exported from #general and its thread: the
    # imported rows answer them, nothing is stored or embedded again.
    replayed = [
        mirror.history[m["id"]]
        for channel in (GENERAL, THREAD)
        for m in export(channel)["messages"]
        if member_post(m)
    ]
    assert len(replayed) == 6
    mark = len(spy.calls)
    for message in replayed:
        await fake.dispatch("MESSAGE_CREATE", message)
    ids = {m["id"] for m in replayed}
    await eventually(lambda: ids <= spy.seen(mark), what="the replayed messages")
    assert await bot.offload.wait_idle(5.0)
    assert post_count(service, GUILD) == count
    for records, report in spy.since(mark):
        assert (report.inserted, report.updated, report.embedded) == (0, 0, 0), records
    rows = by_id(service)
    for message in replayed:
        row = rows[message["id"]]
        assert row.id == imported[message["id"]].id  # the imported row itself
        assert row.content == imported[message["id"]].content
    live = {r.external_id: r for records, _ in spy.since(mark) for r in records}
    for external_id, record in live.items():
        assert record_place(record) == stored_place(imported[external_id]), external_id

    # MESSAGE_UPDATE of an imported thread message: that row changes in place.
    target = mirror.history[str(max(int(m["id"]) for m in export(THREAD)["messages"]))]
    new_text = "**Update:** a whole quiet week now, thank you all."
    await fake.edit_message(target, new_text)
    await eventually(lambda: by_id(service)[target["id"]].content == new_text, what="the edit")
    edited = by_id(service)[target["id"]]
    assert edited.id == imported[target["id"]].id and edited.edited_at is not None
    assert (edited.channel_id, edited.thread_id) == (GENERAL, THREAD)
    assert post_count(service, GUILD) == count

    # A genuinely new message: exactly one row more.
    new = await fake.send_message(mirror.thread, mirror.members[MAYA], "New here: a live reply.")
    await eventually(lambda: new["id"] in by_id(service), what="the new message")
    assert await bot.offload.wait_idle(5.0)
    assert post_count(service, GUILD) == count + 1
    stored = [p.external_id for p in posts(service, GUILD)]
    assert len(stored) == len(set(stored))
    return new


def check_threads_as_the_live_bot_stores_them(service: KnowledgeService, later: list[Json]) -> None:
    """(4) thread posts, imported, caught up or live, sit under #general with the thread set;
    the message that started the thread stays a #general message; nothing from the private
    thread or from bots and system messages is stored."""
    rows = by_id(service)
    in_thread = {m["id"] for m in export(THREAD)["messages"]}
    in_thread |= {m["id"] for m in later if int(m["channel_id"]) == THREAD}
    threaded = {i for i, p in rows.items() if p.thread_id is not None}
    assert threaded == in_thread and len(in_thread) == 4  # imported 2, caught up 1, live 1
    for external_id in threaded:
        assert (rows[external_id].channel_id, rows[external_id].thread_id) == (GENERAL, THREAD)
    starter = rows[str(THREAD)]
    assert (starter.channel_id, starter.thread_id) == (GENERAL, None)
    assert not {m["id"] for m in export(PRIVATE)["messages"]} & rows.keys()
    skipped = [m["id"] for m in export(GENERAL)["messages"] if not member_post(m)]
    assert len(skipped) == 3 and not set(skipped) & rows.keys()
