"""Matching members (`service.matching`): consent, the asker, crisis, guilds, closeness."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from knowledge.errors import InvalidInput, NotFound
from knowledge.matching import Matches, MatchOutcome, OfferResources
from knowledge.matching.scoring import member_scores
from knowledge.service import KnowledgeService
from tests.conftest import GUILD, OTHER_GUILD, T0, enable, post

pytestmark = pytest.mark.both_backends  # SQLite and a real PostgreSQL

ASKER, ANNA, BEN, CARL, DORA = 1, 11, 22, 33, 44
CRISIS = "I have the pills ready and tonight I am going to end my life. Goodbye everyone."
ASKING = "my crohn's flare and the prednisone taper wrecked my sleep, anyone been through it?"


@pytest.fixture
def community(service: KnowledgeService) -> KnowledgeService:
    enable(service, GUILD, 1)
    enable(service, GUILD, 2)
    service.ingest(
        [
            post("ask", ASKING, author=ASKER),
            post("ask-2", "prednisone taper wrecked my sleep again, crohn's flare", author=ASKER),
            post(
                "anna", "my crohn's flare: the prednisone taper wrecked my sleep too", author=ANNA
            ),
            post("anna-2", "slept better once the prednisone taper ended", author=ANNA),
            post("ben", "my knee brace helps on long walks with the dog", author=BEN),
            post("carl", "crohn's here, the prednisone taper and no sleep for weeks", author=CARL),
            post(
                "dora", "prednisone taper wrecked my sleep, crohn's flare", author=DORA, channel=2
            ),
        ]
    )
    service.matching.clock = lambda: T0 + timedelta(days=1)
    for member in (ANNA, BEN, CARL, DORA):
        service.privacy.set_consent(GUILD, member, matchable=True, by=member)
    return service


def ranked(outcome: MatchOutcome) -> list[int]:
    assert isinstance(outcome, Matches), outcome
    return [m.member_id for m in outcome.members]


def test_ranking_prefers_the_closest_experience_and_never_the_asker(
    community: KnowledgeService,
) -> None:
    outcome = community.matching.rank_members(GUILD, ASKER, post_external_id="ask", limit=10)
    members = ranked(outcome)
    assert ASKER not in members  # the asker's own, closest post never makes them a match
    assert members.index(ANNA) < members.index(BEN) and members[-1] == BEN
    assert isinstance(outcome, Matches) and outcome.asker_conditions == ("crohns",)
    anna = next(m for m in outcome.members if m.member_id == ANNA)
    assert anna.shared_conditions == ("crohns",)  # both name Crohn's as their own
    assert next(m for m in outcome.members if m.member_id == BEN).shared_conditions == ()
    assert [m.score for m in outcome.members] == sorted(
        (m.score for m in outcome.members), reverse=True
    )
    by_text = community.matching.rank_members(GUILD, ASKER, text=ASKING, limit=2)
    assert ranked(by_text)[0] in {ANNA, DORA} and len(ranked(by_text)) == 2


def test_only_members_who_agreed_are_matched(community: KnowledgeService) -> None:
    community.privacy.set_consent(GUILD, ANNA, matchable=False, by=ANNA)
    members = ranked(community.matching.rank_members(GUILD, ASKER, post_external_id="ask"))
    assert ANNA not in members and CARL in members
    community.privacy.set_consent(GUILD, CARL, excluded=True, by=CARL)
    members = ranked(community.matching.rank_members(GUILD, ASKER, post_external_id="ask"))
    assert CARL not in members  # excluded: never indexed, never matched


def test_only_posts_the_asker_can_read_count(community: KnowledgeService) -> None:
    outcome = community.matching.rank_members(
        GUILD, ASKER, post_external_id="ask", readable_channel_ids=frozenset({1})
    )
    assert DORA not in ranked(outcome)  # Dora wrote only in channel 2


def test_recent_crisis_members_are_left_out(community: KnowledgeService) -> None:
    community.ingest([post("carl-c", CRISIS, author=CARL, minutes=60)])
    members = ranked(community.matching.rank_members(GUILD, ASKER, post_external_id="ask"))
    assert CARL not in members and ANNA in members
    community.matching.clock = lambda: T0 + timedelta(days=90)  # long ago: matched again
    assert CARL in ranked(community.matching.rank_members(GUILD, ASKER, post_external_id="ask"))


def test_an_asker_in_crisis_is_offered_resources(community: KnowledgeService) -> None:
    community.ingest([post("ask-c", CRISIS, author=ASKER, minutes=60)])
    outcome = community.matching.rank_members(GUILD, ASKER, post_external_id="ask")
    assert isinstance(outcome, OfferResources)
    by_text = community.matching.rank_members(GUILD, BEN, text=CRISIS)
    assert isinstance(by_text, OfferResources)  # the text itself reads as crisis


def test_guilds_are_never_crossed(community: KnowledgeService) -> None:
    enable(community, OTHER_GUILD, 9)
    twin = 99
    community.ingest([post("twin", ASKING, guild=OTHER_GUILD, channel=9, author=twin)])
    community.privacy.set_consent(OTHER_GUILD, twin, matchable=True, by=twin)
    members = ranked(community.matching.rank_members(GUILD, ASKER, post_external_id="ask"))
    assert twin not in members
    with pytest.raises(NotFound):  # a post of another guild is not this guild's
        community.matching.rank_members(GUILD, ASKER, post_external_id="twin")
    other = community.matching.rank_members(OTHER_GUILD, ASKER, text=ASKING)
    assert ranked(other) == [twin]


def test_nobody_matchable_and_bad_requests(service: KnowledgeService) -> None:
    enable(service, GUILD, 1)
    service.ingest([post("a", ASKING, author=ASKER), post("b", ASKING, author=ANNA)])
    assert ranked(service.matching.rank_members(GUILD, ASKER, post_external_id="a")) == []
    with pytest.raises(InvalidInput):
        service.matching.rank_members(GUILD, ASKER)
    with pytest.raises(InvalidInput):
        service.matching.rank_members(GUILD, ASKER, post_external_id="a", text="also")
    with pytest.raises(NotFound):
        service.matching.rank_members(GUILD, ASKER, post_external_id="missing")


def test_member_closeness_is_the_mean_of_their_best_posts() -> None:
    scores = np.asarray([0.9, 0.1, 0.5, 0.8, 0.7, 0.2], dtype=np.float32)
    authors = np.asarray([5, 5, 5, 7, 7, 9], dtype=np.int64)
    result = member_scores(scores, authors, top_posts=2)
    assert result.members.tolist() == [5, 7, 9]
    assert np.allclose(result.closeness, [0.7, 0.75, 0.2])
    assert result.best_row.tolist() == [0, 3, 5]


def test_a_carer_is_matched_as_a_carer(service: KnowledgeService) -> None:
    enable(service, GUILD, 1)
    service.ingest(
        [
            post("mum", "my son has ADHD and I am worn out by the school meetings", author=ANNA),
            post("own", "I have ADHD and school meetings wear me out", author=BEN),
        ]
    )
    for member in (ANNA, BEN):
        service.privacy.set_consent(GUILD, member, matchable=True, by=member)
    outcome = service.matching.rank_members(GUILD, ASKER, text="my daughter has ADHD, any tips?")
    assert isinstance(outcome, Matches) and outcome.asker_conditions == ("carer:adhd",)
    shared = {m.member_id: m.shared_conditions for m in outcome.members}
    assert shared == {ANNA: ("carer:adhd",), BEN: ()}
