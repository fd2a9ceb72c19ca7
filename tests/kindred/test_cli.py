"""The command line, run in-process with typer's CliRunner on temp folders (real packaged model)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kindred.cli.app import app

runner = CliRunner()

POSTS = [
    {"id": "a", "text": "My CGM alarm wakes me at 3am with lows", "channel": "diabetes"},
    {"id": "b", "text": "Brain fog after covid lasted months", "channel": "long-covid"},
    {"id": "c", "text": "Panic attacks in the supermarket queue", "author": "sam"},
    {"id": "d", "text": "Night time hypos scare me, I keep juice by the bed"},
]


def write_posts(path: Path, extra_lines: list[str] | None = None) -> Path:
    lines = [json.dumps(p) for p in POSTS] + (extra_lines or [])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_ingest_reports_bad_lines_with_numbers_and_loads_the_rest(tmp_path: Path) -> None:
    posts = write_posts(tmp_path / "p.jsonl", ["{not json", '{"text": "no id"}', '{"id": "e"}'])
    result = runner.invoke(
        app, ["ingest", str(posts), "--guild", "7", "--data-dir", str(tmp_path / "d")]
    )
    assert result.exit_code == 0, result.output
    assert "line 5" in result.output and "line 6" in result.output and "line 7" in result.output
    assert "Stored 4 posts in guild 7: 4 new" in result.output
    assert "Skipped 3 posts: 3 malformed." in result.output
    stats = runner.invoke(
        app, ["stats", "--guild", "7", "--json", "--data-dir", str(tmp_path / "d")]
    )
    assert json.loads(stats.stdout)["posts"] == 4


def test_search_cli_finds_by_meaning(tmp_path: Path) -> None:
    posts = write_posts(tmp_path / "p.jsonl")
    data = ["--data-dir", str(tmp_path / "d")]
    runner.invoke(app, ["ingest", str(posts), "--guild", "7", *data])
    result = runner.invoke(app, ["search", "low blood sugar while asleep", "--guild", "7", *data])
    assert result.exit_code == 0, result.output
    assert "Not medical advice" in result.output
    assert result.output.index("hypos") < result.output.index("supermarket")


def test_missing_file_and_bad_config_fail_with_one_clear_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", str(tmp_path / "nope.jsonl"), "--guild", "1"])
    assert result.exit_code == 2 and "does not exist" in result.output
    bad = tmp_path / "k.toml"
    bad.write_text("[search]\npage_size = -1\n")
    posts = write_posts(tmp_path / "p.jsonl")
    result = runner.invoke(app, ["ingest", str(posts), "--guild", "1", "--config", str(bad)])
    assert result.exit_code == 2 and "search.page_size must be at least 1" in result.output
    assert str(bad) in result.output and len(result.output.strip().splitlines()) == 1


def test_eval_retrieval_writes_the_run_format(tmp_path: Path) -> None:
    posts = write_posts(tmp_path / "p.jsonl")
    queries = tmp_path / "q.tsv"
    queries.write_text("query_id\ttext\nd\t\nq1\tfoggy thinking after a virus\n", encoding="utf-8")
    out = tmp_path / "run.tsv"
    result = runner.invoke(
        app,
        [
            "eval",
            "retrieval",
            "--posts",
            str(posts),
            "--queries",
            str(queries),
            "--out",
            str(out),
            "--k",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["queries"] == 2 and summary["posts"] == 4
    rows = [line.split("\t") for line in out.read_text().splitlines()[1:]]
    by_query: dict[str, list[list[str]]] = {}
    for row in rows:
        by_query.setdefault(row[0], []).append(row)
    assert [r[2] for r in by_query["d"]] == ["1", "2", "3"]
    assert "d" not in {r[1] for r in by_query["d"]}  # a post query never returns itself
    assert by_query["d"][0][1] == "a"  # the other night-time lows post
    assert by_query["q1"][0][1] == "b"
    float(by_query["q1"][0][3])
