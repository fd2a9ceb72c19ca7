"""The relevance floor: a question with no relevant post gets "nothing close"; one with a
relevant post gets it first, above the floor. Uses the real packaged model (the floor is a
cosine calibrated for it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge.embeddings import SentenceTransformerEmbedder
from knowledge.scope import SearchScope
from knowledge.search.retrieval import paginate
from knowledge.service import KnowledgeService
from tests.conftest import GUILD, PHRASES_ONLY, enable_open, make_settings, post

pytestmark = pytest.mark.slow

POSTS = {
    "ibs": "My IBS flares after coffee and I spend the morning running to the toilet.",
    "migraine": "Migraine with aura again, the flashing lights started before the headache.",
    "sleep": "I can't fall asleep before 3am no matter how tired I am, any tips?",
    "pots": "My heart races whenever I stand up too fast, the cardiologist says it's POTS.",
    "asthma": "Cold air sets off my asthma, I carry my inhaler everywhere in winter.",
    "grief": "I lost my dad last spring and the anniversary is coming up, it feels heavy.",
}


@pytest.fixture
def guild(tmp_path: Path, real_embedder: SentenceTransformerEmbedder) -> Iterator[KnowledgeService]:
    service = KnowledgeService(
        make_settings(tmp_path / "data"),
        embedder=real_embedder,
        safety=PHRASES_ONLY,
    )
    enable_open(service, GUILD, 1)
    service.ingest([post(ext, text, minutes=i) for i, (ext, text) in enumerate(POSTS.items())])
    yield service
    service.close()


def test_a_question_with_no_relevant_post_gets_nothing_close(guild: KnowledgeService) -> None:
    hits = guild.search("anyone here with lupus and joint pain?", SearchScope(guild_id=GUILD))
    assert hits  # the nearest posts are still there to show under the label
    assert not any(h.close for h in hits), [(h.external_id, h.similarity) for h in hits]
    page = paginate(hits, 0, 5)
    assert page.nothing_close


def test_a_question_with_a_relevant_post_gets_it_first(guild: KnowledgeService) -> None:
    hits = guild.search("does coffee upset anyone else's IBS?", SearchScope(guild_id=GUILD))
    assert hits[0].external_id == "ibs" and hits[0].close
    assert hits[0].similarity is not None and hits[0].similarity >= 0.40
    assert not paginate(hits, 0, 5).nothing_close


def test_similar_posts_and_full_text_hits_carry_the_floor(guild: KnowledgeService) -> None:
    similar = guild.similar_to_text(
        "the anniversary of losing my dad is coming up and I feel heavy",
        SearchScope(guild_id=GUILD),
    )
    assert similar[0].external_id == "grief" and similar[0].close
    bm25 = guild.search("inhaler", SearchScope(guild_id=GUILD), mode="bm25")
    assert bm25 and bm25[0].similarity is None and bm25[0].close  # full text is not judged
