"""`kindred eval matching`: RUN.tsv format, members as POSTS names them, the asker left out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.kindred.conftest import kindred, write_jsonl

POSTS: list[dict[str, Any]] = [
    {"id": "q1", "text": "prednisone taper wrecked my sleep with crohn's", "author": "ali"},
    {"id": "q1b", "text": "prednisone taper wrecked my sleep, again", "author": "ali"},
    {"id": "p1", "text": "crohn's flare, the prednisone taper wrecked my sleep", "author": "bea"},
    {"id": "p2", "text": "my knee brace helps on long walks", "author": 42},
    {"id": "p3", "text": "knee brace and long walks with the dog", "author": "007"},
    {"id": "p4", "text": "sleep was wrecked by the prednisone taper", "author": "Cem Ö"},
    {"id": "p5", "text": "a walk in the park with a knee brace"},  # the loader's "anonymous"
]


def run(tmp_path: Path, queries: str, *extra: str) -> tuple[dict[str, object], list[list[str]]]:
    posts = write_jsonl(tmp_path / "posts.jsonl", POSTS, extra=["{not json"])
    (tmp_path / "q.tsv").write_text(queries, encoding="utf-8")
    out = tmp_path / "run.tsv"
    result = kindred(
        "eval", "matching", "--posts", posts, "--queries", tmp_path / "q.tsv", "--out", out, *extra
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "query_id\tmember_id\trank\tscore"
    return summary, [line.split("\t") for line in text.splitlines()[1:]]


def test_run_names_members_as_posts_gives_them(tmp_path: Path, fake_model: None) -> None:
    summary, rows = run(tmp_path, "query_id\tnote\nq1\tx\nnope\t\np2\t\n")
    assert summary["queries"] == 3 and summary["members"] == 6 and summary["answered"] == 2
    assert summary["unknown_queries"] == 1 and summary["offered_resources"] == 0
    by_query: dict[str, list[list[str]]] = {}
    for row in rows:
        assert len(row) == 4
        by_query.setdefault(row[0], []).append(row)
    assert set(by_query) == {"q1", "p2"}
    q1 = by_query["q1"]
    assert [r[2] for r in q1] == ["1", "2", "3", "4", "5"]  # ranks from 1, each other member
    assert {r[1] for r in q1} == {"bea", "42", "007", "Cem Ö", "anonymous"}  # never "ali"
    assert q1[0][1] == "bea"
    scores = [float(r[3]) for r in q1]
    assert scores == sorted(scores, reverse=True)
    assert by_query["p2"][0][1] == "007" and "42" not in {r[1] for r in by_query["p2"]}


def test_k_limits_the_members_per_query(tmp_path: Path, fake_model: None) -> None:
    summary, rows = run(tmp_path, "query_id\nq1\n", "--k", "2")
    assert summary["k"] == 2 and [r[2] for r in rows] == ["1", "2"]


def test_queries_need_a_query_id_header(tmp_path: Path, fake_model: None) -> None:
    posts = write_jsonl(tmp_path / "posts.jsonl", POSTS)
    (tmp_path / "q.tsv").write_text("id\nq1\n", encoding="utf-8")
    result = kindred(
        "eval", "matching", "--posts", posts, "--queries", tmp_path / "q.tsv",
        "--out", tmp_path / "run.tsv",
    )  # fmt: skip
    assert result.exit_code != 0 and "query_id" in result.output
