"""`kindred search` and the relevance floor: with no post close to the query it says "Nothing
close was found" and shows the nearest only under that label; a close post comes first, as an
answer (fake embedder: identical text has cosine 1, disjoint words about 0)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.kindred.conftest import kindred, write_jsonl

pytestmark = pytest.mark.usefixtures("fake_model")

POSTS = [
    {"id": "bread", "text": "sourdough starter recipe with rye flour"},
    {"id": "knit", "text": "I knit scarves for my grandchildren every winter"},
    {"id": "knee", "text": "My knee brace squeaks when I climb stairs"},
]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    posts = write_jsonl(tmp_path / "posts.jsonl", POSTS)
    result = kindred("ingest", posts, "--guild", "7", "--data-dir", folder)
    assert result.exit_code == 0, result.output
    return folder


def test_a_query_with_no_close_post_says_nothing_close(data: Path) -> None:
    result = kindred("search", "anyone here with lupus and joint pain?", "--guild", "7",
                     "--data-dir", data)  # fmt: skip
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "Nothing close was found" in text
    assert "Not close, but the nearest:" in text
    assert text.index("Nothing close") < text.index("Not close, but the nearest:")
    assert "Results for" not in text  # no answer table


def test_a_query_with_a_close_post_gets_it_first(data: Path) -> None:
    result = kindred("search", "sourdough starter recipe with rye flour", "--guild", "7",
                     "--data-dir", data)  # fmt: skip
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "Nothing close" not in text and "Not close, but the nearest" not in text
    answers, below = text.split("Not close:")
    assert answers.count("sourdough") == 2  # the title, then the first answer
    assert "knit" not in answers and "knit" in below  # below the floor: only after the label
