"""Snippets mark the query's content words only, never stop words."""

from __future__ import annotations

import pytest

from knowledge.search.snippets import SNIPPET_STOPWORDS, make_snippet, query_terms

POST = "The morning stiffness eased a little after I started the new stretches with my physio."


def marked(query: str, text: str = POST) -> list[str]:
    return [part.text for part in make_snippet(text, query) if part.match]


def test_stop_words_of_the_query_are_never_marked() -> None:
    words = marked("the morning stiffness eased a little")
    assert words == ["morning", "stiffness", "eased"]


def test_stop_words_in_the_post_are_never_marked_even_when_asked_for() -> None:
    for query in ("the", "a little", "with my", "after I started the", "and or but"):
        for word in marked(query):
            assert word.lower() not in SNIPPET_STOPWORDS, (query, word)
    assert marked("after with the a") == []


@pytest.mark.parametrize(
    "query",
    [
        "does anyone else have morning stiffness with their joints?",
        "stretches that helped with the stiffness",
        "What is it like to start with a physio",
    ],
)
def test_every_mark_is_a_content_word(query: str) -> None:
    words = marked(query)
    assert words, query
    assert all(w.lower() not in SNIPPET_STOPWORDS and len(w) > 2 for w in words), words


def test_inflected_content_words_are_marked() -> None:
    assert "stretches" in marked("stretching")
    assert "started" in marked("starting")


def test_query_terms_drop_stop_words_and_numbers() -> None:
    assert query_terms("How do I get the 2 flare ups under control?") == {"flare", "ups", "control"}


def test_snippet_text_is_kept_whole() -> None:
    parts = make_snippet(POST, "the a little")
    assert "".join(p.text for p in parts) == POST
    assert not any(p.match for p in parts)
