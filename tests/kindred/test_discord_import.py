"""`kindred import`: DiscordChatExporter JSON with real snowflakes, matching the live bot's records.

The fixture (tests/kindred/fixtures/discord_export, written for the project) is one guild with
#general (an edited message, a reply, a message that starts a thread, a "started a thread" system
message, a join message, a bot's welcome), its public thread "Night-time lows", #sleep (a crisis
post and an attachment-only message) and a private thread that must be left out.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kindred.files.discord_export import (
    ImportResult,
    import_exports,
    read_export,
    read_exports,
    snowflake_time,
)
from knowledge.config import KindredSettings
from knowledge.directory import Directory
from knowledge.records import PostRecord
from knowledge.store.checkpoints import BackfillCheckpoints
from knowledge.store.models import PostKind
from tests.kindred.conftest import FIXTURES, fake_service, kindred, lines

EXPORTS = FIXTURES / "discord_export"
GUILD = 815735085465600001
GENERAL, SLEEP, THREAD = 815736595415040003, 815736847073280004, 1235322100776960003
PRIVATE = 1235332418764800020
MAYA, SAM, KES = 584531627212800005, 664619345510400006, 1008163042099200007
CRISIS_TEXT = "I have the pills ready"


def export_file(channel: int | str) -> Path:
    """The fixture file of a channel or thread id (DiscordChatExporter ends names with [id])."""
    [path] = [p for p in EXPORTS.glob("*.json") if p.name.endswith(f"[{channel}].json")]
    return path


def messages(channel: int | str) -> list[dict[str, Any]]:
    path = export_file(channel)
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return list(data["messages"])


def stored(data: Path) -> dict[str, dict[str, Any]]:
    engine = sa.create_engine(f"sqlite:///{data / 'kindred.db'}")
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM post")).mappings().all()
    engine.dispose()
    return {str(r["external_id"]): dict(r) for r in rows}


def import_fixture(data: Path, *extra: str) -> Any:
    return kindred("import", EXPORTS, "--guild", str(GUILD), "--data-dir", data, *extra)


def test_import_keeps_real_ids_and_reports_in_words(tmp_path: Path, fake_model: None) -> None:
    data = tmp_path / "d"
    result = import_fixture(data)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Imported 2 channels and 1 thread from 3 files." in out
    assert f"Stored 8 messages in guild {GUILD}: 8 new, 0 edited, 0 unchanged." in out
    assert "Skipped 4 messages: 2 system messages" in out and "1 from bots or webhooks" in out
    assert "left out:" in out and "private thread" in out
    [crisis] = [m for m in messages(SLEEP) if CRISIS_TEXT in m["content"]]
    link = f"https://discord.com/channels/{GUILD}/{SLEEP}/{crisis['id']}"
    assert f"message {crisis['id']} in #sleep  {link}" in out
    assert CRISIS_TEXT not in out  # crisis posts are listed by id and place, never by text
    assert "Next step: ask a moderator" in out and "is opt-in" in out
    rows = stored(data)
    general = messages(GENERAL)
    edited, reply, starter = general[0], general[1], general[2]
    assert rows[edited["id"]]["edited_at"] is not None
    assert rows[reply["id"]]["reply_to"] == edited["id"]
    assert int(starter["id"]) == THREAD and rows[starter["id"]]["thread_id"] is None
    for message in messages(THREAD):
        row = rows[message["id"]]
        assert (row["channel_id"], row["thread_id"]) == (GENERAL, THREAD)
    assert {r["author_id"] for r in rows.values()} >= {MAYA, SAM, KES}
    assert not {m["id"] for m in messages(PRIVATE)} & rows.keys()


def test_members_and_channels_by_name_after_import(tmp_path: Path, fake_model: None) -> None:
    data = tmp_path / "d"
    import_fixture(data)
    members = kindred("members", "--guild", str(GUILD), "--data-dir", data)
    assert "maya_lc" in members.output and str(MAYA) in members.output
    channels = json.loads(
        kindred("channels", "--guild", str(GUILD), "--json", "--data-dir", data).stdout
    )
    named = {(c["id"], c["name"], c["kind"], c["posts"]) for c in channels}
    assert named == {
        (GENERAL, "general", "text", 6),
        (THREAD, "Night-time lows", "thread", 2),
        (SLEEP, "sleep", "text", 2),
    }
    found = kindred("search", "juice by the bed", "--guild", str(GUILD), "--channel", "general",
                    "--data-dir", data)  # fmt: skip
    assert found.exit_code == 0
    deleted = kindred("privacy", "delete", "--guild", str(GUILD), "--member", "maya_lc", "--yes",
                      "--data-dir", data)  # fmt: skip
    assert f"Deleted 3 posts of member {MAYA} (maya_lc)" in deleted.output
    assert {r["author_id"] for r in stored(data).values()} == {SAM, KES, 1235017845964800008}


def test_importing_again_stores_and_embeds_nothing_new(
    settings: KindredSettings, tmp_path: Path
) -> None:
    first = run_import(settings, EXPORTS)
    assert first.report.inserted == 8 and first.report.embedded == 8
    again = run_import(settings, EXPORTS)
    assert again.report.inserted == 0 and again.report.unchanged == 8
    assert again.report.embedded == 0 and again.report.flagged == []
    edited = tmp_path / "edited"
    shutil.copytree(EXPORTS, edited)
    sleep = edited / export_file(SLEEP).name
    data = json.loads(sleep.read_text(encoding="utf-8"))
    data["messages"][0]["content"] += " (edited later)"
    sleep.write_text(json.dumps(data), encoding="utf-8")
    third = run_import(settings, edited)
    assert (third.report.inserted, third.report.updated, third.report.embedded) == (0, 1, 1)


def run_import(settings: KindredSettings, folder: Path) -> ImportResult:
    service = fake_service(settings)
    try:
        result = ImportResult()
        exports = read_exports(sorted(folder.glob("*.json")), GUILD, result)
        return import_exports(service, Directory(service.store), exports, result)
    finally:
        service.close()


def bot_record(message: dict[str, Any], channel_id: int, thread_id: int | None) -> PostRecord:
    """A PostRecord built field by field as bot/adapters.py `post_record` builds one from the
    discord.Message the gateway delivers for this message (no discord import here)."""
    reference = message.get("reference") or {}
    kind = PostKind.MESSAGE
    if thread_id is not None and int(message["id"]) == thread_id:
        kind = PostKind.THREAD_STARTER
    edited = message.get("timestampEdited")
    return PostRecord(
        guild_id=GUILD,
        external_id=str(int(message["id"])),
        channel_id=channel_id,
        author_id=int(message["author"]["id"]),
        text=message["content"],
        created_at=snowflake_time(int(message["id"])),
        thread_id=thread_id,
        kind=kind,
        reply_to=str(reference["messageId"]) if reference.get("messageId") else None,
        edited_at=None if edited is None else datetime.fromisoformat(edited),
    )


def indexable(message: dict[str, Any]) -> bool:
    """What bot/adapters.py `is_indexable_author` lets through: members' own messages."""
    return not message["author"]["isBot"] and message["type"] in ("Default", "Reply")


def test_the_live_bot_records_for_the_same_messages_store_nothing_twice(
    settings: KindredSettings,
) -> None:
    run_import(settings, EXPORTS)
    live = [
        *(bot_record(m, GENERAL, None) for m in messages(GENERAL) if indexable(m)),
        *(bot_record(m, GENERAL, THREAD) for m in messages(THREAD) if indexable(m)),
        *(bot_record(m, SLEEP, None) for m in messages(SLEEP) if indexable(m)),
    ]
    service = fake_service(settings)
    try:
        before = service.stats(GUILD).posts
        report = service.ingest(live)
        assert report.inserted == 0 and report.updated == 0
        assert service.stats(GUILD).posts == before == 8
        newer = replace(live[0], external_id=str(int(live[0].external_id) + (1 << 30)))
        assert service.ingest([newer]).inserted == 1  # a genuinely new live message is stored
    finally:
        service.close()


def test_import_records_where_each_history_ends(settings: KindredSettings) -> None:
    run_import(settings, EXPORTS)
    service = fake_service(settings)
    try:
        checkpoints = BackfillCheckpoints(service.store)
        for source, channel in ((GENERAL, GENERAL), (THREAD, GENERAL), (SLEEP, SLEEP)):
            found = checkpoints.get(source)
            assert found is not None and found.channel_id == channel
            assert found.cursor == max(int(m["id"]) for m in messages(source))
            assert not found.complete  # the bot continues after it
    finally:
        service.close()


def test_partial_exports_leave_the_backfill_alone(
    settings: KindredSettings, tmp_path: Path
) -> None:
    folder = tmp_path / "partial"
    shutil.copytree(EXPORTS, folder)
    for path in folder.glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        data["dateRange"]["after"] = "2024-05-01T00:00:00+00:00"
        path.write_text(json.dumps(data), encoding="utf-8")
    run_import(settings, folder)
    service = fake_service(settings)
    try:
        assert BackfillCheckpoints(service.store).get(GENERAL) is None
    finally:
        service.close()


def test_bad_files_are_one_line_each_and_the_good_ones_load(
    tmp_path: Path, fake_model: None
) -> None:
    folder = tmp_path / "exports"
    shutil.copytree(EXPORTS, folder)
    (folder / "broken.json").write_text('{"guild": {"id": "1"', encoding="utf-8")
    (folder / "posts.json").write_text('{"id": "a", "text": "hi"}\n', encoding="utf-8")
    (folder / "image.json").write_bytes(b"\x00\x01binary")
    other = json.loads(export_file(GENERAL).read_text(encoding="utf-8"))
    other["guild"]["id"] = "815735085465600999"
    (folder / "other-server.json").write_text(json.dumps(other), encoding="utf-8")
    data = tmp_path / "d"
    result = kindred("import", folder, "--guild", str(GUILD), "--data-dir", data)
    assert result.exit_code == 1, result.output
    failures = [line for line in lines(result.output) if line.startswith("not imported:")]
    assert len(failures) == 4
    assert any("not valid JSON" in line for line in failures)
    assert any("not a DiscordChatExporter JSON export" in line for line in failures)
    assert any("binary" in line for line in failures)
    assert any("815735085465600999" in line for line in failures)
    assert f"Stored 8 messages in guild {GUILD}: 8 new" in result.output
    assert "Traceback" not in result.output


def test_import_failures_without_anything_to_import(tmp_path: Path, fake_model: None) -> None:
    data = tmp_path / "d"
    for source, words in (
        (tmp_path / "missing", "does not exist"),
        (tmp_path, "holds no .json files"),
    ):
        result = kindred("import", source, "--guild", str(GUILD), "--data-dir", data)
        assert result.exit_code != 0 and len(lines(result.output)) == 1 and words in result.output
    other = kindred("import", EXPORTS, "--guild", "42", "--data-dir", data)
    assert other.exit_code != 0 and "nothing to import" in other.output
    assert not data.exists()


def test_thread_of_a_forum_becomes_a_forum_post(tmp_path: Path) -> None:
    data = json.loads(export_file(THREAD).read_text(encoding="utf-8"))
    data["messages"][0]["id"] = data["channel"]["id"]  # a forum post's first message is the thread
    forum = tmp_path / "forum.json"
    forum.write_text(json.dumps(data), encoding="utf-8")
    export = read_export(forum)
    assert export.parent is not None and export.parent.kind == "forum"
    assert export.records[0].kind == PostKind.FORUM_POST
    assert export.records[1].kind == PostKind.MESSAGE


@pytest.mark.parametrize("kind", ["DirectTextChat", "GuildVoiceChat", "GuildPrivateThread"])
def test_channels_the_bot_never_indexes_are_left_out(tmp_path: Path, kind: str) -> None:
    data = json.loads(export_file(SLEEP).read_text(encoding="utf-8"))
    data["channel"]["type"] = kind
    target = tmp_path / "x.json"
    target.write_text(json.dumps(data), encoding="utf-8")
    result = ImportResult()
    assert read_exports([target], GUILD, result) == []
    assert len(result.left_out) == 1 and not result.problems
