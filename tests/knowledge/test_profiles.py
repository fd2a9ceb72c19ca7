"""Profiles (`service.profiles`): declared conditions and roles, sample post, inferred conditions
shown only to their owner and used only with consent, helpers for routing, quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from knowledge.errors import InvalidInput, NotFound
from knowledge.service import KnowledgeService
from tests.conftest import GUILD, OTHER_GUILD, enable, post

ME, OTHER = 11, 22
CRISIS = "I have the pills ready and tonight I am going to end my life. Goodbye everyone."


@pytest.fixture
def svc(service: KnowledgeService) -> KnowledgeService:
    enable(service, GUILD, 1)
    enable(service, OTHER_GUILD, 5)
    service.ingest(
        [
            post("mine", "my crohn's flare is back and the prednisone taper hurts", author=ME),
            post("crisis", CRISIS, author=ME, minutes=5),
            post("theirs", "my son has ADHD and school is hard", author=OTHER),
            post("elsewhere", "my crohn's again", author=ME, guild=OTHER_GUILD, channel=5),
        ]
    )
    return service


def test_declare_roles_and_remove(svc: KnowledgeService) -> None:
    profiles = svc.profiles
    declared = profiles.declare(GUILD, ME, "crohns", "patient", helps=True)
    assert declared.name.startswith("Crohn")
    profiles.declare(GUILD, ME, "adhd", "carer")
    view = profiles.view(GUILD, ME)
    assert [(c.condition_id, c.role, c.helps) for c in view.conditions] == [
        ("adhd", "carer", False),
        ("crohns", "patient", True),
    ]
    assert profiles.condition_keys(GUILD, [ME]) == {ME: frozenset({"crohns", "carer:adhd"})}
    assert profiles.condition_keys(OTHER_GUILD, [ME]) == {ME: frozenset()}  # never across guilds
    assert profiles.remove(GUILD, ME, "adhd") and not profiles.remove(GUILD, ME, "adhd")
    with pytest.raises(InvalidInput):
        profiles.declare(GUILD, ME, "not-a-condition", "patient")
    with pytest.raises(InvalidInput):
        profiles.declare(GUILD, ME, "crohns", "friend")
    assert profiles.suggest_conditions("croh")[0].id == "crohns"  # autocomplete


def test_inferred_conditions_are_used_only_with_consent(svc: KnowledgeService) -> None:
    profiles = svc.profiles
    view = profiles.view(GUILD, ME)
    assert "crohns" in view.inferred and not view.use_inferred  # shown to the member
    assert profiles.condition_keys(GUILD, [ME])[ME] == frozenset()  # but not used
    profiles.set_use_inferred(GUILD, ME, True)
    assert "crohns" in profiles.condition_keys(GUILD, [ME])[ME]
    other = profiles.view(GUILD, OTHER)
    assert other.inferred == ("carer:adhd",)  # a son's ADHD: a carer's experience


def test_sample_post_must_be_own_not_crisis_not_hidden(svc: KnowledgeService) -> None:
    profiles = svc.profiles
    sample = profiles.set_sample(GUILD, ME, "mine")
    assert sample is not None and "prednisone" in sample.content
    assert profiles.view(GUILD, ME).sample == sample
    with pytest.raises(NotFound):
        profiles.set_sample(GUILD, ME, "theirs")  # someone else's post
    with pytest.raises(NotFound):
        profiles.set_sample(GUILD, ME, "elsewhere")  # another guild's post
    with pytest.raises(InvalidInput):
        profiles.set_sample(GUILD, ME, "crisis")
    assert profiles.set_sample(GUILD, ME, None) is None
    assert profiles.view(GUILD, ME).sample is None


def test_helpers_for_routing_respect_helps_and_quiet_hours(svc: KnowledgeService) -> None:
    profiles = svc.profiles
    profiles.declare(GUILD, ME, "crohns", "patient", helps=True)
    profiles.declare(GUILD, OTHER, "crohns", "carer", helps=False)
    noon = datetime(2024, 3, 1, 12, tzinfo=UTC)  # two months after ME's crisis post
    assert profiles.helpers_for(GUILD, ["crohns"], at=noon) == []  # helper switch off
    profiles.set_helper(GUILD, ME, True)
    profiles.set_helper(GUILD, OTHER, True)
    assert profiles.helpers_for(GUILD, ["crohns"], at=noon) == [ME]  # OTHER does not help
    assert profiles.helpers_for(GUILD, ["carer:crohns"], at=noon) == [ME]
    assert profiles.helpers_for(OTHER_GUILD, ["crohns"], at=noon) == []
    profiles.set_quiet_hours(GUILD, ME, 22, 14)  # wraps past midnight
    assert profiles.helpers_for(GUILD, ["crohns"], at=noon) == []
    assert profiles.helpers_for(GUILD, ["crohns"], at=noon.replace(hour=15)) == [ME]
    with pytest.raises(InvalidInput):
        profiles.set_quiet_hours(GUILD, ME, 25, 3)
    with pytest.raises(InvalidInput):
        profiles.set_quiet_hours(GUILD, ME, 3, None)
    assert profiles.view(GUILD, ME).quiet_hours == (22, 14)
    # ME posted at crisis level (T0): not asked to help for 30 days after it
    profiles.set_quiet_hours(GUILD, ME, None, None)
    assert profiles.helpers_for(GUILD, ["crohns"], at=noon) == [ME]
    assert profiles.helpers_for(GUILD, ["crohns"], at=noon.replace(month=1)) == []
