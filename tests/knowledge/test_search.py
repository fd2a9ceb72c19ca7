"""Search: scoping by guild and readable channels inside retrieval, filters, hostile queries."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest

from knowledge.errors import EmptyQuery, QueryTooLong
from knowledge.scope import SearchScope
from knowledge.service import KnowledgeService
from tests.conftest import GUILD, OTHER_GUILD, T0, enable_open, post

pytestmark = pytest.mark.both_backends  # SQLite and a real PostgreSQL

SECRET = 7  # a channel the asker cannot read
OPEN = 1


@pytest.fixture
def community(service: KnowledgeService) -> KnowledgeService:
    enable_open(service, GUILD, OPEN)
    enable_open(service, GUILD, SECRET)
    enable_open(service, OTHER_GUILD, 50)
    best = "steroid taper made my sleep terrible, prednisone insomnia every night"
    records = [post("secret-best", best, channel=SECRET)]
    records += [
        post(f"open-{i}", f"sleep was hard on prednisone for me, week {i} of the taper", minutes=i)
        for i in range(30)
    ]
    records.append(post("other-guild", best, guild=OTHER_GUILD, channel=50))
    service.ingest(records)
    return service


def test_unreadable_channel_never_appears_even_as_best_match(community: KnowledgeService) -> None:
    query = "steroid taper made my sleep terrible, prednisone insomnia every night"
    everyone = community.search(query, SearchScope(guild_id=GUILD), limit=10)
    assert everyone[0].external_id == "secret-best"  # it really is the best match
    scope = SearchScope(guild_id=GUILD, readable_channel_ids=frozenset({OPEN}))
    for mode in ("hybrid", "dense", "bm25"):
        hits = community.search(query, scope, limit=10, mode=mode)
        assert len(hits) == 10, mode  # the page is still full
        assert all(h.channel_id == OPEN for h in hits), mode


def test_results_never_cross_guilds(community: KnowledgeService) -> None:
    query = "steroid taper made my sleep terrible, prednisone insomnia every night"
    hits = community.search(query, SearchScope(guild_id=GUILD), limit=50)
    assert hits and all(h.guild_id == GUILD for h in hits)
    assert "other-guild" not in {h.external_id for h in hits}
    other = community.search(query, SearchScope(guild_id=OTHER_GUILD), limit=50)
    assert [h.external_id for h in other] == ["other-guild"]


def test_filters_apply_inside_retrieval(community: KnowledgeService) -> None:
    scope = SearchScope(
        guild_id=GUILD,
        after=T0 + timedelta(minutes=10),
        before=T0 + timedelta(minutes=20),
        channel_ids=frozenset({OPEN}),
    )
    hits = community.search("prednisone sleep", scope, limit=50)
    assert sorted(h.external_id for h in hits) == sorted(f"open-{i}" for i in range(10, 20))


def test_author_filter(service: KnowledgeService) -> None:
    enable_open(service, GUILD, OPEN)
    service.ingest([post("a", "fatigue story", author=1), post("b", "fatigue story too", author=2)])
    hits = service.search("fatigue", SearchScope(guild_id=GUILD, author_ids=frozenset({2})))
    assert [h.external_id for h in hits] == ["b"]


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "AND",
        "NEAR(",
        "*",
        "-",
        ":",
        'prednisone AND NOT "sleep',
        "col:prednisone",
        "^x",
        "(((",
        "OR OR",
    ],
)
def test_fts_syntax_is_searched_as_text(community: KnowledgeService, query: str) -> None:
    # Nothing searchable is a documented answer (EmptyQuery); a syntax error is not.
    with contextlib.suppress(EmptyQuery):
        community.search(query, SearchScope(guild_id=GUILD))


def test_operator_words_match_as_words(service: KnowledgeService) -> None:
    enable_open(service, GUILD, OPEN)
    service.ingest(
        [post("near", "we live near the hospital"), post("x", "unrelated sentence here")]
    )
    hits = service.search("NEAR(", SearchScope(guild_id=GUILD), mode="bm25")
    assert [h.external_id for h in hits] == ["near"]


def test_query_limits(service: KnowledgeService) -> None:
    enable_open(service, GUILD, OPEN)
    with pytest.raises(EmptyQuery):
        service.search("   ", SearchScope(guild_id=GUILD))
    with pytest.raises(QueryTooLong):
        service.search("x" * 5000, SearchScope(guild_id=GUILD))


def test_hits_carry_snippet_marks_and_jump_ids(community: KnowledgeService) -> None:
    (hit,) = community.search("insomnia", SearchScope(guild_id=GUILD), limit=1, mode="bm25")
    assert hit.external_id == "secret-best" and hit.channel_id == SECRET
    assert any(part.match and part.text.lower() == "insomnia" for part in hit.snippet)


def test_similar_to_post_excludes_itself(community: KnowledgeService) -> None:
    hits = community.similar_to_post(GUILD, "open-3", SearchScope(guild_id=GUILD), limit=5)
    assert hits and "open-3" not in {h.external_id for h in hits}


def test_similar_to_message_uses_the_stored_post_and_excludes_it(
    community: KnowledgeService,
) -> None:
    scope = SearchScope(guild_id=GUILD, readable_channel_ids=frozenset({OPEN}))
    # The text passed is unrelated: an indexed message is matched by what Kindred stored.
    hits = community.similar_to_message(GUILD, "open-3", "completely unrelated words", scope, 5)
    ids = [h.external_id for h in hits]
    assert ids and "open-3" not in ids
    assert all(i.startswith("open-") for i in ids)


def test_similar_to_message_falls_back_to_its_text_when_not_indexed(
    community: KnowledgeService,
) -> None:
    scope = SearchScope(guild_id=GUILD, readable_channel_ids=frozenset({OPEN}))
    text = "sleep was hard on prednisone for me, week 7 of the taper"
    hits = community.similar_to_message(GUILD, "never-stored", text, scope, 5)
    assert hits and hits[0].external_id == "open-7"
    assert all(h.channel_id == OPEN for h in hits)
