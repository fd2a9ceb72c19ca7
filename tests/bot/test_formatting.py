"""Output safety without Discord: escaping, mention neutralising, truncation and embed limits."""

from __future__ import annotations

from datetime import UTC, datetime

import discord
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.formatting import (
    EMBED_TOTAL_LIMIT,
    clamp_embed,
    hit_field,
    jump_url,
    quote_member_text,
    results_embed,
    snippet_markdown,
    truncate,
)
from knowledge.records import SearchHit, SnippetPart

PINGS = [
    "@everyone",
    "@here",
    "<@123456789012345678>",
    "<@!123456789012345678>",
    "<@&123456789012345678>",
]


def hit(text: str, *, thread: int | None = None, match: str = "") -> SearchHit:
    parts = (SnippetPart(text), SnippetPart(match, True)) if match else (SnippetPart(text),)
    return SearchHit(
        post_id=1,
        external_id="555",
        guild_id=10,
        channel_id=20,
        thread_id=thread,
        author_id=30,
        created_at=datetime(2024, 5, 31, tzinfo=UTC),
        score=1.0,
        snippet=parts,
    )


def test_truncate_marks_the_cut() -> None:
    assert truncate("short", 10) == "short"
    cut = truncate("x" * 50, 10)
    assert len(cut) == 10 and cut.endswith("…")
    assert not truncate("abc\\\\\\def", 7).rstrip("…").endswith("\\")


def test_mentions_never_survive_quoting() -> None:
    for ping in PINGS:
        quoted = quote_member_text(f"hey {ping} look")
        assert ping not in quoted


def test_markdown_is_escaped() -> None:
    quoted = quote_member_text("**bold** _it_ `code` ~~gone~~ ||spoiler|| > quote")
    for raw in ("**bold**", "_it_", "`code`", "~~gone~~", "||spoiler||"):
        assert raw not in quoted
    assert "\\*\\*bold\\*\\*" in quoted


def test_snippet_bolds_matches_only() -> None:
    text = snippet_markdown((SnippetPart("I have "), SnippetPart("migraines", True)))
    assert text == "I have **migraines**"
    assert "**" not in snippet_markdown((SnippetPart("no match here"),))


def test_jump_links_use_the_thread_as_channel() -> None:
    assert jump_url(hit("a")) == "https://discord.com/channels/10/20/555"
    assert jump_url(hit("a", thread=99)) == "https://discord.com/channels/10/99/555"


def test_result_field_is_labelled_and_within_limits() -> None:
    name, value = hit_field(hit("word " * 2000, match="pain"), 3, "general")
    assert name.startswith("3. A member shared: #general · 2024-05-31")
    assert len(value) <= 1024 and "[Jump to the post](" in value


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=0, max_size=7000), st.integers(min_value=0, max_value=30))
def test_any_text_fits_every_embed_limit(text: str, fields: int) -> None:
    embed = discord.Embed(title=text, description=text * 2)
    embed.set_footer(text=text)
    embed.set_author(name=text)
    for _ in range(fields):
        embed.add_field(name=text, value=text)
    clamped = clamp_embed(embed)
    assert len(clamped) <= EMBED_TOTAL_LIMIT
    assert len(clamped.title or "") <= 256 and len(clamped.description or "") <= 4096
    assert len(clamped.fields) <= 25 and len(clamped.footer.text or "") <= 2048
    assert all(len(f.name or "") <= 256 and len(f.value or "") <= 1024 for f in clamped.fields)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([*PINGS, "*", "_", "`", "|", "~", ">", "word", " "]), max_size=400))
def test_quoted_text_never_pings_and_fits(pieces: list[str]) -> None:
    quoted = quote_member_text("".join(pieces), 300)
    assert len(quoted) <= 300
    for ping in PINGS:
        assert ping not in quoted


def test_a_page_of_long_hits_stays_under_6000() -> None:
    hits = [hit("sleep " * 1000, match="sleep") for _ in range(10)]
    embed = results_embed("Results", hits, 0, 10, {20: "general"})
    assert len(embed) <= EMBED_TOTAL_LIMIT and len(embed.fields) >= 5
