"""Full text ranks a bounded number of matches: the commonest terms give way in a large index."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from knowledge.scope import SearchScope
from knowledge.service import KnowledgeService
from knowledge.store.models import Post
from knowledge.store.text_index import bounded_terms, match_count, ranked_matches
from tests.conftest import GUILD, enable_open, post

pytestmark = pytest.mark.both_backends  # SQLite and a real PostgreSQL

COMMON = 40  # posts that say "tired"
RARE = 3  # posts that also say "methotrexate"


@pytest.fixture
def community(service: KnowledgeService) -> KnowledgeService:
    enable_open(service, GUILD, 1)
    records = [
        post(f"tired-{i}", f"so tired today, week {i} of feeling tired") for i in range(COMMON)
    ]
    records += [
        post(f"mtx-{i}", f"tired after methotrexate day {i}, tired all evening", minutes=100 + i)
        for i in range(RARE)
    ]
    records.append(post("mtx-alone", "methotrexate nausea, ginger helped", minutes=200))
    service.ingest(records)
    return service


def _connection(service: KnowledgeService) -> sa.Connection:
    return service.store.engine.connect()


def test_counts_stop_at_the_cap(community: KnowledgeService) -> None:
    with _connection(community) as connection:
        assert match_count(connection, ["tired"], 1000) == COMMON + RARE
        assert match_count(connection, ["tired"], 10) == 11  # counted up to cap + 1, no further
        assert match_count(connection, ["methotrexate"], 1000) == RARE + 1
        both = match_count(connection, ["tired", "methotrexate"], 1000, require_all=True)
        assert both == RARE


def test_the_commonest_term_gives_way_when_the_matches_exceed_the_budget(
    community: KnowledgeService,
) -> None:
    with _connection(community) as connection:
        assert bounded_terms(connection, ["tired", "methotrexate"], 1000) == (
            ["tired", "methotrexate"],
            False,
        )
        assert bounded_terms(connection, ["tired", "methotrexate"], 10) == (["methotrexate"], False)
        # Both terms too common for a budget of 3: only posts holding both are ranked (3 fit).
        assert bounded_terms(connection, ["tired", "methotrexate"], 3) == (
            ["tired", "methotrexate"],
            True,
        )
        # Nothing fits: no full-text candidates rather than ranking every match.
        assert bounded_terms(connection, ["tired", "methotrexate"], 2) == ([], False)
        ranked = ranked_matches(connection, ["tired", "methotrexate"], [], 50, budget=10)
    wanted = [f"mtx-{i}" for i in range(RARE)] + ["mtx-alone"]
    with community.store.session() as session:
        ids = set(session.exec(select(Post.id).where(col(Post.external_id).in_(wanted))).all())
    assert len(ids) == RARE + 1
    assert {post_id for post_id, _ in ranked} == ids  # the posts saying only "tired" are not


def test_search_ranks_within_the_configured_budget(community: KnowledgeService) -> None:
    scope = SearchScope(guild_id=GUILD)
    unbounded = community.search("tired methotrexate", scope, limit=50, mode="bm25")
    assert len(unbounded) == COMMON + RARE + 1  # no budget applies below 5,000 posts
    community.searcher.settings = community.searcher.settings.model_copy(
        update={"full_text_budget": 10}
    )
    bounded = community.search("tired methotrexate", scope, limit=50, mode="bm25")
    assert sorted(h.external_id for h in bounded) == sorted(
        [f"mtx-{i}" for i in range(RARE)] + ["mtx-alone"]
    )
