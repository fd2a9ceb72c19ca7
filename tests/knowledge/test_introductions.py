"""Introductions (`service.introductions`): cards share declared conditions and role, requests
with limits, blocks, cooldown, expiry, crisis, the guild switch, and an export that never names
the other member before both agreed."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from knowledge.errors import InvalidInput, NotFound
from knowledge.matching.introductions import (
    Accepted,
    CardsFound,
    Introductions,
    NeedsConditions,
    Requested,
)
from knowledge.matching.results import OfferResources
from knowledge.service import KnowledgeService
from tests.conftest import GUILD, OTHER_GUILD, T0, enable, post

ASKER, ANNA, BEN, CARL, DORA = 1, 11, 22, 33, 44
CRISIS = "I have the pills ready and tonight I am going to end my life. Goodbye everyone."
ASKING = "my crohn's flare and the prednisone taper wrecked my sleep, anyone been through it?"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 + timedelta(days=1))


@pytest.fixture
def community(service: KnowledgeService, clock: Clock) -> KnowledgeService:
    enable(service, GUILD, 1)
    enable(service, GUILD, 2)
    enable(service, OTHER_GUILD, 9)
    service.ingest(
        [
            post("ask", ASKING, author=ASKER),
            post("anna", "my crohn's flare: the prednisone taper wrecked my sleep", author=ANNA),
            post("ben", "my son's crohn's flare and his prednisone taper", author=BEN),
            post("carl", "crohn's here, the prednisone taper and no sleep for weeks", author=CARL),
            post("dora", "prednisone taper wrecked my sleep, crohn's flare", author=DORA),
            post("twin", ASKING, author=77, guild=OTHER_GUILD, channel=9),
        ]
    )
    service.matching.clock = clock
    service.introductions.clock = clock
    for member in (ANNA, BEN, CARL, DORA):
        service.privacy.set_consent(GUILD, member, matchable=True, by=member)
    service.privacy.set_consent(OTHER_GUILD, 77, matchable=True, by=77)
    profiles = service.profiles
    for member in (ASKER, ANNA, CARL, DORA):
        profiles.declare(GUILD, member, "crohns", "patient")
    profiles.declare(GUILD, BEN, "crohns", "carer")  # same condition, another role
    profiles.declare(OTHER_GUILD, 77, "crohns", "patient")
    profiles.set_sample(GUILD, ANNA, "anna")
    return service


def found(intros: Introductions, asker: int = ASKER, text: str | None = None) -> CardsFound:
    outcome = intros.find(GUILD, asker, text=text)
    assert isinstance(outcome, CardsFound), outcome
    return outcome


def targets(service: KnowledgeService, batch: str) -> list[int]:
    """Who the stored cards stand for (what the asker never sees)."""
    from sqlmodel import col, select

    from knowledge.store.models import MatchCard

    with service.store.session() as s:
        rows = s.exec(
            select(MatchCard).where(MatchCard.batch == batch).order_by(col(MatchCard.position))
        ).all()
    return [r.target_id for r in rows]


def token_for(service: KnowledgeService, batch: str, member: int) -> str:
    from sqlmodel import select

    from knowledge.store.models import MatchCard

    with service.store.session() as s:
        row = s.exec(
            select(MatchCard).where(MatchCard.batch == batch, MatchCard.target_id == member)
        ).one()
    return row.token


def test_cards_share_condition_and_role_and_never_name_anyone(
    community: KnowledgeService,
) -> None:
    intros = community.introductions
    cards = found(intros)
    shown = targets(community, cards.batch)
    assert set(shown) == {ANNA, CARL, DORA}  # Ben cares for someone: another role
    assert ASKER not in shown and 77 not in shown
    position = shown.index(ANNA)
    card = intros.card(cards.batch, position, ASKER)
    assert card.conditions == ("Crohn's disease (living with it)",) or "Crohn" in card.conditions[0]
    assert card.role == "living with it"
    assert card.activity in ("active this week", "active this month")
    assert card.sample is not None and "prednisone" in card.sample
    assert card.token and card.total == 3
    text = repr(card)
    for member in (ANNA, CARL, DORA):
        assert f"={member}," not in text and f"={member})" not in text
    with pytest.raises(NotFound):
        intros.card(cards.batch, 0, BEN)  # someone else's cards
    # the sample is drawn only from channels the viewer can read
    hidden = intros.card(cards.batch, position, ASKER, readable_channel_ids=frozenset({2}))
    assert hidden.sample is None


def test_no_declared_conditions_means_no_cards(community: KnowledgeService) -> None:
    community.profiles.remove(GUILD, ASKER, "crohns")
    assert isinstance(community.introductions.find(GUILD, ASKER), NeedsConditions)


def test_request_accept_and_export_redaction(community: KnowledgeService) -> None:
    intros = community.introductions
    cards = found(intros)
    requested = intros.request(token_for(community, cards.batch, ANNA), ASKER)
    assert isinstance(requested, Requested) and requested.target_id == ANNA
    prompt = intros.prompt_card(requested.intro_id, None)
    assert prompt.role == "living with it" and prompt.sample is None  # Asker chose no sample
    assert intros.unprompted(GUILD, ANNA) == [requested.intro_id]
    intros.mark_prompted(requested.intro_id, 555)
    assert intros.unprompted(GUILD, ANNA) == []
    summary = community.privacy.summary(GUILD, ANNA)  # /privacy view counts both
    assert summary.pending_introductions == 1 and summary.profile is not None
    assert summary.profile["conditions"] == 1 and summary.profile["sample_post"]
    # before Anna agrees, neither export names the other
    mine = community.privacy.export(GUILD, ASKER)["tables"]
    (row,) = mine["introduction"]
    assert row["requester_id"] == ASKER and row["target_id"] is None
    assert all(card["target_id"] is None for card in mine["matchcard"])
    theirs = community.privacy.export(GUILD, ANNA)["tables"]
    assert theirs["introduction"][0]["requester_id"] is None
    assert all(card["user_id"] is None for card in theirs["matchcard"])
    with pytest.raises(NotFound):
        intros.accept(requested.intro_id, CARL)  # only the target answers
    accepted = intros.accept(requested.intro_id, ANNA)
    assert isinstance(accepted, Accepted)
    assert (accepted.requester_id, accepted.target_id) == (ASKER, ANNA)
    intros.opened(requested.intro_id, 9999)
    (row,) = community.privacy.export(GUILD, ASKER)["tables"]["introduction"]
    assert row["target_id"] == ANNA and row["thread_id"] == 9999  # both agreed: named
    assert ANNA not in targets(community, found(intros).batch)  # already introduced
    with pytest.raises(InvalidInput):
        intros.accept(requested.intro_id, ANNA)  # answered once


def test_decline_is_silent_and_starts_a_cooldown(community: KnowledgeService, clock: Clock) -> None:
    intros = community.introductions
    cards = found(intros)
    token = token_for(community, cards.batch, CARL)
    requested = intros.request(token, ASKER)
    assert isinstance(requested, Requested)
    intros.decline(requested.intro_id, CARL)
    assert intros.waiting(GUILD, ASKER) == 1  # "no answer yet", never "declined"
    assert CARL not in targets(community, found(intros).batch)
    with pytest.raises(InvalidInput):
        intros.request(token, ASKER)
    assert ASKER not in targets(community, found(intros, CARL).batch)  # both ways
    clock.now += timedelta(days=31)
    community.ingest([post("ask-later", ASKING, author=ASKER, minutes=60 * 24 * 31)])
    assert CARL in targets(community, found(intros).batch)  # the cooldown is over


def test_expiry_is_silent_and_cools_down(community: KnowledgeService, clock: Clock) -> None:
    intros = community.introductions
    cards = found(intros)
    requested = intros.request(token_for(community, cards.batch, DORA), ASKER)
    assert isinstance(requested, Requested)
    assert intros.expire() == 0
    clock.now += timedelta(hours=73)
    assert intros.expire() == 1
    with pytest.raises(InvalidInput):
        intros.accept(requested.intro_id, DORA)
    assert intros.waiting(GUILD, ASKER) == 1
    assert DORA not in targets(community, found(intros).batch)
    with pytest.raises(NotFound):  # expired cards are cleared
        intros.card(cards.batch, 0, ASKER)


def test_blocks_from_a_card_and_from_a_prompt(community: KnowledgeService) -> None:
    intros = community.introductions
    cards = found(intros)
    intros.hide_member(token_for(community, cards.batch, DORA), ASKER)
    assert DORA not in targets(community, found(intros).batch)
    assert ASKER not in targets(community, found(intros, DORA).batch)  # both ways
    assert intros.blocks(GUILD, ASKER) == 1
    requested = intros.request(token_for(community, found(intros).batch, CARL), ASKER)
    assert isinstance(requested, Requested)
    intros.decline(requested.intro_id, CARL, block=True)  # "never suggest me to this member"
    assert intros.blocks(GUILD, CARL) == 1
    (row,) = community.privacy.export(GUILD, CARL)["tables"]["memberblock"]
    assert row["blocked_id"] is None and row["user_id"] == CARL
    assert intros.clear_blocks(GUILD, ASKER) == 1


def test_requests_per_day_are_limited(community: KnowledgeService, clock: Clock) -> None:
    intros = community.introductions
    intros.settings = intros.settings.model_copy(update={"requests_per_day": 2})
    batch = found(intros).batch
    for member in (ANNA, CARL):
        assert isinstance(intros.request(token_for(community, batch, member), ASKER), Requested)
    with pytest.raises(InvalidInput, match="tomorrow"):
        intros.request(token_for(community, batch, DORA), ASKER)
    clock.now += timedelta(hours=25)
    fresh = found(intros).batch
    assert isinstance(intros.request(token_for(community, fresh, DORA), ASKER), Requested)


def test_crisis_gets_resources_not_matches(community: KnowledgeService) -> None:
    intros = community.introductions
    batch = found(intros).batch
    requested = intros.request(token_for(community, batch, ANNA), ASKER)
    assert isinstance(requested, Requested)
    community.ingest([post("carl-c", CRISIS, author=CARL, minutes=60)])
    assert CARL not in targets(community, found(intros).batch)  # a target in crisis: never
    with pytest.raises(InvalidInput):
        intros.request(token_for(community, batch, CARL), ASKER)
    assert isinstance(intros.find(GUILD, ASKER, text=CRISIS), OfferResources)
    community.ingest([post("anna-c", CRISIS, author=ANNA, minutes=61)])
    assert isinstance(intros.accept(requested.intro_id, ANNA), OfferResources)
    community.ingest([post("ask-c", CRISIS, author=ASKER, minutes=62)])
    assert isinstance(intros.find(GUILD, ASKER), OfferResources)
    assert isinstance(intros.request(token_for(community, batch, DORA), ASKER), OfferResources)


def test_requester_in_crisis_cancels_the_introduction(community: KnowledgeService) -> None:
    intros = community.introductions
    requested = intros.request(token_for(community, found(intros).batch, ANNA), ASKER)
    assert isinstance(requested, Requested)
    community.ingest([post("ask-c", CRISIS, author=ASKER, minutes=62)])
    with pytest.raises(InvalidInput):
        intros.accept(requested.intro_id, ANNA)  # never introduced while in crisis


def test_moderators_turn_introductions_off(community: KnowledgeService) -> None:
    intros = community.introductions
    batch = found(intros).batch
    assert intros.guild_settings(GUILD).enabled
    intros.configure(GUILD, 1, enabled=False, thread_channel_id=2)
    with pytest.raises(InvalidInput, match="turned off"):
        intros.find(GUILD, ASKER)
    with pytest.raises(InvalidInput, match="turned off"):
        intros.request(token_for(community, batch, ANNA), ASKER)
    state = intros.configure(GUILD, 1, enabled=True)
    assert state.enabled and state.thread_channel_id == 2
    assert intros.guild_settings(OTHER_GUILD).enabled  # per guild


def test_every_table_naming_two_members_redacts_the_other_in_exports() -> None:
    from knowledge.privacy.tables import REGISTRY

    for spec in REGISTRY:
        names_another = len(spec.members) > 1 or "blocked_id" in spec.declared()
        assert not names_another or spec.export_view is not None, spec.name
