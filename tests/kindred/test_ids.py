"""Ids people recognise in JSON Lines files, and one clear line for every failure."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest

from kindred.files.jsonl import author_id_for, channel_id_for, stable_id
from knowledge.service import KnowledgeService
from tests.kindred.conftest import files_containing, kindred, lines, stats_of, write_jsonl

MARKER = "qqmarker-5521"
NAMED_MARKER = "qqmarker-7730"
POSTS = [
    {"id": "a", "text": "My CGM alarm wakes me at 3am with lows", "channel": "diabetes"},
    {"id": "b", "text": "Brain fog after covid lasted months", "channel": "long-covid"},
    {"id": "c", "text": "Panic attacks in the supermarket queue", "author": "sam"},
    {"id": "d", "text": "Night time hypos scare me, I keep juice by the bed", "thread": "nights"},
]
NUMERIC: list[dict[str, Any]] = [
    {"id": "n1", "text": f"Low carb dinners keep my nights steady {MARKER}", "author": "777",
     "channel": "555"},
    {"id": "n2", "text": f"Pacing with a heart rate monitor {MARKER}", "author": 777,
     "channel": 555},
    {"id": "n3", "text": f"Ice packs for the migraine aura {NAMED_MARKER}", "author": "maya_lc",
     "channel": "555"},
    {"id": "n4", "text": f"Ginger tea settles my stomach {NAMED_MARKER}", "author": "maya_lc",
     "channel": "gut"},
]  # fmt: skip


def ingest(data: Path, file: Path, guild: int) -> str:
    result = kindred("ingest", file, "--guild", str(guild), "--data-dir", data)
    assert result.exit_code == 0, result.output
    return result.output


def test_names_get_ids_scoped_by_guild_numbers_are_kept() -> None:
    assert channel_id_for("general", 42) != channel_id_for("general", 45)
    assert channel_id_for("general", 42) == stable_id("channel", "general", 42)
    assert channel_id_for("555", 42) == channel_id_for(555, 45) == 555
    assert author_id_for("1234567890123456789", 1) == 1234567890123456789
    assert author_id_for("0", 1) != 0 and author_id_for("-5", 1) > 0  # not ids: names


def test_the_same_file_into_two_guilds_keeps_both(tmp_path: Path, fake_model: None) -> None:
    data, file = tmp_path / "d", write_jsonl(tmp_path / "p.jsonl", POSTS)
    assert "Stored 4 posts in guild 42: 4 new" in ingest(data, file, 42)
    second = ingest(data, file, 45)
    assert "Stored 4 posts in guild 45: 4 new" in second and "Skipped" not in second
    assert stats_of(data, 42)["posts"] == 4 and stats_of(data, 45)["posts"] == 4
    for guild in (42, 45):
        found = kindred("search", "brain fog", "--guild", str(guild), "--data-dir", data)
        assert found.exit_code == 0 and "Brain fog after covid" in found.output


def test_numeric_ids_are_searchable_listed_and_deletable(tmp_path: Path, fake_model: None) -> None:
    data, file = tmp_path / "d", write_jsonl(tmp_path / "p.jsonl", NUMERIC)
    ingest(data, file, 43)
    channels = json.loads(kindred("channels", "--guild", "43", "--json", "--data-dir", data).stdout)
    assert {(c["id"], c["name"], c["posts"]) for c in channels} >= {(555, None, 3)}
    members = json.loads(kindred("members", "--guild", "43", "--json", "--data-dir", data).stdout)
    assert {(m["user_id"], m["handle"], m["posts"]) for m in members} >= {(777, None, 2)}
    for channel in ("555", "#555"):
        found = kindred("search", "migraine aura", "--guild", "43", "--channel", channel,
                        "--data-dir", data)  # fmt: skip
        assert found.exit_code == 0 and "Ice packs" in found.output, found.output
    by_name = kindred("search", "ginger", "--guild", "43", "--channel", "gut", "--data-dir", data)
    assert "Ginger tea" in by_name.output
    exported = kindred("privacy", "export", "--guild", "43", "--member", "777", "--data-dir", data)
    assert [p["external_id"] for p in json.loads(exported.stdout)["tables"]["post"]] == [
        "n1",
        "n2",
    ]
    deleted = kindred("privacy", "delete", "--guild", "43", "--member", "777", "--yes",
                      "--data-dir", data)  # fmt: skip
    assert deleted.exit_code == 0 and "Deleted 2 posts of member 777" in deleted.output
    assert files_containing(data, MARKER) == []
    gone = kindred("search", "heart rate monitor pacing", "--guild", "43", "--data-dir", data)
    assert "Pacing" not in gone.output
    by_handle = kindred("privacy", "delete", "--guild", "43", "--member", "maya_lc", "--yes",
                        "--data-dir", data)  # fmt: skip
    assert by_handle.exit_code == 0 and "Deleted 2 posts of member" in by_handle.output
    assert files_containing(data, NAMED_MARKER) == [] and files_containing(data, "maya_lc") == []
    assert stats_of(data, 43)["posts"] == 0


def test_a_request_that_matches_no_one_fails_with_one_line(
    tmp_path: Path, fake_model: None
) -> None:
    data = tmp_path / "d"
    ingest(data, write_jsonl(tmp_path / "p.jsonl", NUMERIC), 43)
    for command in (["export"], ["delete", "--yes"]):
        for member in ("999", "nobody"):
            result = kindred("privacy", *command, "--guild", "43", "--member", member,
                             "--data-dir", data)  # fmt: skip
            assert result.exit_code != 0
            assert len(lines(result.output)) == 1 and "no member" in result.output, result.output
    wrong = kindred("search", "x y", "--guild", "43", "--channel", "nowhere", "--data-dir", data)
    assert wrong.exit_code != 0 and len(lines(wrong.output)) == 1
    assert stats_of(data, 43)["posts"] == 4


def one_line_failure(*args: str | Path) -> str:
    result = kindred(*args)
    assert result.exit_code != 0, result.output
    assert len(lines(result.output)) == 1, result.output
    assert "Traceback" not in result.output
    return result.output


def test_every_bad_input_is_one_line_and_creates_nothing(
    tmp_path: Path, fake_model: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "d"
    binary = tmp_path / "photo.jsonl"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)
    assert "is a folder" in one_line_failure("ingest", tmp_path, "--guild", "44",
                                             "--data-dir", data)  # fmt: skip
    assert "binary" in one_line_failure("ingest", binary, "--guild", "44", "--data-dir", data)
    missing = tmp_path / "nope.jsonl"
    assert "does not exist" in one_line_failure("ingest", missing, "--guild", "1",
                                                "--data-dir", data)  # fmt: skip
    assert not data.exists()
    for command in (["stats"], ["members", "--guild", "1"], ["search", "x", "--guild", "1"],
                    ["privacy", "export", "--guild", "1", "--member", "2"]):  # fmt: skip
        message = one_line_failure(*command)
        assert "kindred-data" in message and "--data-dir" in message
    assert not (tmp_path / "kindred-data").exists()
    ingest(data, write_jsonl(tmp_path / "p.jsonl", POSTS), 42)
    message = one_line_failure("search", "fog", "--guild", "44", "--data-dir", data)
    assert "guild 44" in message and "42" in message
    message = one_line_failure("stats", "--guild", "44", "--data-dir", data)
    assert "guild 44" in message
    hint = one_line_failure("stats")  # from the folder above: points at the data it sees
    assert "--data-dir d" in hint


def test_an_unreadable_file_is_one_line(
    tmp_path: Path, fake_model: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = write_jsonl(tmp_path / "p.jsonl", POSTS)
    real_open = Path.open

    def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == secret:  # what chmod 000 does for anyone but root
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    message = one_line_failure("ingest", secret, "--guild", "1", "--data-dir", tmp_path / "d")
    assert "permission denied" in message and str(secret) in message
    assert not (tmp_path / "d").exists()


def test_a_mixed_file_stores_every_good_post(tmp_path: Path, fake_model: None) -> None:
    file = tmp_path / "mixed.jsonl"
    good = [json.dumps(p) for p in POSTS]
    with file.open("wb") as handle:
        for line in (
            good[0],
            "{broken json",
            good[1],
            '["not", "an", "object"]',
            good[2],
            '{"id": "e", "text": ""}',
            '{"id": "f", "text": "ok", "author": {"nested": true}}',
            good[3],
        ):
            handle.write(line.encode() + b"\n")
        handle.write(b'{"id": "g", "text": "caf\xe9 latte"}\n')
    data = tmp_path / "d"
    result = kindred("ingest", file, "--guild", "9", "--data-dir", data)
    assert result.exit_code == 0, result.output
    assert "Stored 4 posts in guild 9: 4 new" in result.output
    assert "Skipped 5 posts: 3 malformed, 1 empty, 1 not valid UTF-8." in result.output
    for number in (2, 4, 7, 9):
        assert f"line {number}:" in result.output
    assert "Traceback" not in result.output
    assert stats_of(data, 9)["posts"] == 4


def test_ingest_lists_crisis_posts_by_id_and_place_never_text(
    tmp_path: Path, fake_model: None
) -> None:
    crisis = "I have the pills ready and tonight I am going to end my life. Goodbye everyone."
    rows = [
        {"id": "x1", "text": crisis, "channel": "sleep", "thread": "bad nights"},
        {"id": "x2", "text": "Chamomile tea helps me wind down", "channel": "sleep"},
    ]
    result = kindred("ingest", write_jsonl(tmp_path / "p.jsonl", rows), "--guild", "5",
                     "--data-dir", tmp_path / "d")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 post read as crisis language" in result.output
    assert "message x1 in #sleep › bad nights" in result.output
    assert "Next step" in result.output and "pills" not in result.output


def test_an_unexpected_error_is_one_line_unless_debugging(
    tmp_path: Path, fake_model: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "d"
    ingest(data, write_jsonl(tmp_path / "p.jsonl", POSTS), 42)

    def broken(self: KnowledgeService, guild_id: int | None = None) -> None:
        raise RuntimeError("disk on fire\nand a second line")

    monkeypatch.setattr(KnowledgeService, "stats", broken)
    message = one_line_failure("stats", "--data-dir", data)
    assert "unexpected RuntimeError: disk on fire" in message and "KINDRED_DEBUG=1" in message
    monkeypatch.setenv("KINDRED_DEBUG", "1")
    assert isinstance(kindred("stats", "--data-dir", data).exception, RuntimeError)


def test_a_channel_id_of_another_guild_is_refused_not_merged(
    tmp_path: Path, fake_model: None
) -> None:
    data, file = tmp_path / "d", write_jsonl(tmp_path / "p.jsonl", NUMERIC)
    ingest(data, file, 43)
    second = ingest(data, file, 44)
    assert "Stored 1 post in guild 44: 1 new" in second
    assert "Skipped 3 posts: 3 in channels that belong to another guild." in second
    assert "channel 555 already belongs to guild 43" in second
    assert stats_of(data, 43)["posts"] == 4 and stats_of(data, 44)["posts"] == 1
