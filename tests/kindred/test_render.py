"""Output in words: Discord markdown removed from results, reasons spelled out, crisis by id."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from kindred.cli.render import crisis_lines, hits_table, plain, skip_words, summary_lines
from knowledge.records import Flag, IngestReport, SearchHit, Skip, SnippetPart
from tests.kindred.conftest import kindred


def test_plain_drops_discord_markdown_but_keeps_words() -> None:
    assert plain("**3. Day one** was __hard__ ~~really~~ ||spoiler||") == (
        "3. Day one was hard really spoiler"
    )
    assert plain("> quoted\n# Heading\n-# small print") == "quoted\nHeading\nsmall print"
    assert plain("*tired* and _foggy_ but my_var and 2 * 3 stay") == (
        "tired and foggy but my_var and 2 * 3 stay"
    )
    assert plain("see [the guide](https://example.org/x) `code`") == "see the guide code"
    assert plain("thanks <@123456> in <#987> <:pill:42>") == "thanks @member in #channel :pill:"


def test_results_table_shows_no_markdown() -> None:
    hit = SearchHit(
        post_id=1, external_id="x", guild_id=1, channel_id=2, thread_id=None, author_id=3,
        created_at=datetime(2025, 1, 1, tzinfo=UTC), score=1.0, channel_name="general",
        snippet=(SnippetPart("**3. Day "), SnippetPart("one", match=True), SnippetPart("**")),
    )  # fmt: skip
    console = Console(width=100, record=True)
    console.print(hits_table("Results", [hit]))
    text = console.export_text()
    assert "3. Day one" in text and "**" not in text


def test_reports_in_words() -> None:
    report = IngestReport(received=6, inserted=2, updated=1, unchanged=0)
    report.skipped = [
        Skip("a", "bad_record", 3, "missing 'id'"),
        Skip("b", "bad_record", 4),
        Skip("c", "deleted_by_member"),
    ]
    assert skip_words(report.skipped) == "2 malformed, 1 deleted earlier at their author's request"
    assert summary_lines(report, 7) == [
        "Stored 3 posts in guild 7: 2 new, 1 edited, 0 unchanged.",
        "Skipped 3 posts: 2 malformed, 1 deleted earlier at their author's request.",
    ]
    assert "{" not in " ".join(summary_lines(report, 7))


def test_crisis_lines_name_id_place_and_next_step_never_text() -> None:
    report = IngestReport()
    report.flagged = [
        Flag(1, "111", 5, None, 9, "crisis", ("plan: 'pills ready'",)),
        Flag(1, "222", 5, None, 9, "concern", ("hopelessness",)),
    ]
    found = crisis_lines(report, lambda f: "#sleep", lambda f: f"https://x/{f.external_id}")
    text = "\n".join(found)
    assert "message 111 in #sleep  https://x/111" in text
    assert "Next step" in text and "1 post read as concern" in text and "222" in text
    assert "pills" not in text
    assert crisis_lines(IngestReport(), lambda f: "", lambda f: None) == []


def test_the_demo_runs_and_shows_no_markdown(tmp_path: Path, fake_model: None) -> None:
    result = kindred("demo", "--data-dir", tmp_path / "demo", "--limit", "2")
    assert result.exit_code == 0, result.output
    assert "Indexed 35" in result.output and "Not medical advice" in result.output
    assert "**" not in result.output and "Search in #long-covid" in result.output
    again = kindred("demo", "--data-dir", tmp_path / "demo", "--limit", "1")
    assert again.exit_code == 0 and "Indexed 35" in again.output
