"""The shipped demo community and demo queries are well formed and fit together."""

from __future__ import annotations

import json
import re
import tomllib
from collections import defaultdict
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import kindred

DATA = Path(kindred.__file__).parent / "data"
COMMUNITY = DATA / "demo_community.jsonl"
QUERIES = DATA / "demo_queries.toml"

REQUIRED = ("id", "text", "author", "channel", "created_at")
URL = re.compile(r"https?://([^/\s]+)")


@cache
def posts() -> tuple[dict[str, Any], ...]:
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(COMMUNITY.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"blank line {number}"
        row = json.loads(line)
        assert isinstance(row, dict), f"line {number} is not an object"
        rows.append(row)
    return tuple(rows)


@cache
def queries() -> dict[str, Any]:
    with QUERIES.open("rb") as handle:
        return tomllib.load(handle)


def stamp(row: dict[str, Any]) -> datetime:
    value = row["created_at"]
    assert isinstance(value, str) and value.endswith("Z"), value
    return datetime.fromisoformat(value)


def test_every_post_has_the_required_fields() -> None:
    for row in posts():
        missing = [field for field in REQUIRED if field not in row]
        assert not missing, (row.get("id"), missing)
        for field in REQUIRED:
            assert isinstance(row[field], str) and row[field].strip(), (row["id"], field)
        thread = row.get("thread")
        assert thread is None or (isinstance(thread, str) and thread.strip()), row["id"]
        stamp(row)


def test_ids_are_unique() -> None:
    ids = [row["id"] for row in posts()]
    assert len(ids) == len(set(ids))


def test_size_and_spread() -> None:
    rows = posts()
    assert 300 <= len(rows) <= 360
    assert len({row["channel"] for row in rows}) >= 8
    assert len({row["author"] for row in rows}) >= 30
    stamps = sorted(stamp(row) for row in rows)
    assert (stamps[-1] - stamps[0]).days >= 600, "posts should span about two years"


def test_threads_are_in_order_and_stay_in_one_channel() -> None:
    threads: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in posts():
        if row.get("thread"):
            threads[row["thread"]].append(row)
    assert len(threads) >= 8
    for title, members in threads.items():
        assert len({row["channel"] for row in members}) == 1, title
        times = [stamp(row) for row in members]
        assert times == sorted(times), f"thread {title!r} is out of order in the file"
        assert len(set(times)) == len(times), f"thread {title!r} has tied timestamps"


def test_forum_channel_posts_all_belong_to_threads() -> None:
    forum = [row for row in posts() if row["channel"] == "experiences"]
    assert forum
    assert all(row.get("thread") for row in forum)


def test_ingest_edge_cases_are_present() -> None:
    texts = [row["text"] for row in posts()]
    assert any(not re.search(r"[A-Za-z0-9]", text) for text in texts), "an emoji-only post"
    assert any(re.fullmatch(r"https?://\S+", text) for text in texts), "a URL-only post"
    assert any(text.lower() == "same here" for text in texts)
    assert any("@everyone" in text and "**" in text for text in texts)


def test_links_only_point_at_reserved_example_domains() -> None:
    for row in posts():
        for host in URL.findall(row["text"]):
            assert host in {"example.org", "example.com"}, (row["id"], host)


def test_query_sections_have_text() -> None:
    data = queries()
    assert len(data["search"]) >= 3
    assert 1 <= len(data["filtered_search"]) <= 2
    assert 1 <= len(data["similar"]) <= 2
    for section in ("search", "filtered_search", "similar"):
        for entry in data[section]:
            assert isinstance(entry["text"], str) and entry["text"].strip(), section


def test_filtered_queries_name_real_channels_with_posts_after_the_date() -> None:
    channels = {row["channel"] for row in posts()}
    for entry in queries()["filtered_search"]:
        assert entry["channel"] in channels, entry["channel"]
        after = date.fromisoformat(entry["after"])
        matching = [
            row
            for row in posts()
            if row["channel"] == entry["channel"] and stamp(row).date() >= after
        ]
        older = [
            row
            for row in posts()
            if row["channel"] == entry["channel"] and stamp(row).date() < after
        ]
        assert len(matching) >= 3, entry
        assert older, f"the date filter on {entry['channel']!r} should exclude something"


def test_every_query_channel_exists() -> None:
    channels = {row["channel"] for row in posts()}
    for section in queries().values():
        for entry in section:
            if "channel" in entry:
                assert entry["channel"] in channels, entry["channel"]
