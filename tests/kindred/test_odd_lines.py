"""Odd lines in a JSON Lines file cost only themselves (issue 10: input never costs a batch)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kindred.files import jsonl
from kindred.files.jsonl import read_posts
from knowledge.records import Skip
from knowledge.text import SkipReason

from .conftest import kindred, stats_of, write_jsonl

GOOD = [{"id": f"g{i}", "text": f"good post number {i} about sleep and fatigue"} for i in range(4)]
NESTED = '{"id": "deep", "text": ' + "[" * 5000 + "]" * 5000 + "}"
FAR_FUTURE = json.dumps(
    {"id": "future", "text": "x y z", "created_at": "9999-12-31T23:59:59-12:00"}
)
LONG_ID = json.dumps({"id": "a" * 128 + "-1", "text": "two ids sharing their first 128 chars"})
LONG_ID_TWIN = json.dumps({"id": "a" * 128 + "-2", "text": "the other one of the pair"})


def odd_file(path: Path) -> Path:
    body = [json.dumps(GOOD[0]), NESTED, json.dumps(GOOD[1]), FAR_FUTURE, json.dumps(GOOD[2])]
    body += [LONG_ID, LONG_ID_TWIN, json.dumps(GOOD[3])]
    path.write_text("\n".join(body) + "\n", encoding="utf-8")
    return path


def test_reader_types_each_odd_line_and_keeps_the_rest(tmp_path: Path) -> None:
    items = list(read_posts(odd_file(tmp_path / "odd.jsonl"), guild_id=7))
    skips = {s.line: s.reason for s in items if isinstance(s, Skip)}
    assert skips == {2: SkipReason.BAD_RECORD, 4: SkipReason.BAD_DATE}
    ids = [i.record.external_id for i in items if not isinstance(i, Skip)]
    assert ids[:3] == ["g0", "g1", "g2"] and ids[-1] == "g3"
    assert len(ids[3]) == 130 and ids[3] != ids[4]  # never cut to a shared prefix


@pytest.mark.usefixtures("fake_model")
def test_ingest_stores_every_good_line_and_names_the_odd_ones(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = kindred("ingest", odd_file(tmp_path / "odd.jsonl"), "--guild", "7", "--data-dir", data)
    assert result.exit_code == 0, result.output
    assert "line 2" in result.output and "line 4" in result.output
    assert "Traceback" not in result.output
    assert stats_of(data, 7)["posts"] == 4  # the four good lines; two too-long ids rejected
    assert "longer than 128" in result.output


def test_a_huge_line_is_skipped_without_holding_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 1024)
    path = write_jsonl(tmp_path / "big.jsonl", [GOOD[0]])
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"id": "big", "text": "w " * 5000}) + "\n")
        handle.write(json.dumps(GOOD[1]) + "\n")
    items = list(read_posts(path, guild_id=7))
    assert [i.line for i in items if isinstance(i, Skip)] == [2]
    assert [i.record.external_id for i in items if not isinstance(i, Skip)] == ["g0", "g1"]
