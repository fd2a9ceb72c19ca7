"""Consent as data, checked on every read: opt-in and opt-out search modes, history, matching."""

from __future__ import annotations

import pytest

from knowledge.errors import InvalidInput
from knowledge.privacy.consent import OPT_IN, OPT_OUT, PrivacyManager
from knowledge.scope import SearchScope
from knowledge.service import KnowledgeService
from tests.conftest import GUILD, OTHER_GUILD, enable, post

pytestmark = pytest.mark.both_backends  # SQLite and a real PostgreSQL

ALICE, BOB, CARA = 11, 22, 33  # Alice shares; Bob and Cara search
ALICE_TEXT = "prednisone taper insomnia wrecked my sleep for weeks"


@pytest.fixture
def pm(service: KnowledgeService) -> PrivacyManager:
    manager = service.privacy  # wired by KnowledgeService itself
    return manager


@pytest.fixture
def community(service: KnowledgeService, pm: PrivacyManager) -> KnowledgeService:
    enable(service, GUILD, 1)
    service.ingest(
        [
            post("alice-1", ALICE_TEXT, author=ALICE),
            post("bob-1", "prednisone made me hungry all the time", author=BOB),
            post("cara-1", "my knee brace helps on long walks", author=CARA),
        ]
    )
    return service


def _seen(service: KnowledgeService, asker: int) -> set[str]:
    """Every post `asker` can reach through search, similar-to-text and similar-to-post."""
    scope = SearchScope(guild_id=GUILD, asker_id=asker)
    found: set[str] = set()
    for mode in ("hybrid", "dense", "bm25"):
        found |= {h.external_id for h in service.search(ALICE_TEXT, scope, 50, mode=mode)}
    found |= {h.external_id for h in service.similar_to_text(ALICE_TEXT, scope, 50)}
    for ext in ("bob-1", "cara-1"):
        found |= {h.external_id for h in service.similar_to_post(GUILD, ext, scope, 50)}
    return found


def test_opt_in_hides_members_until_they_agree(
    community: KnowledgeService, pm: PrivacyManager
) -> None:
    assert pm.search_mode(GUILD) == OPT_IN  # the default
    assert "alice-1" not in _seen(community, BOB)
    assert "alice-1" in _seen(community, ALICE)  # a member always finds their own posts
    pm.set_consent(GUILD, ALICE, searchable=True, by=ALICE)
    assert "alice-1" in _seen(community, BOB)  # right after agreeing, no restart
    assert "bob-1" not in _seen(community, CARA)  # Bob never agreed
    pm.set_consent(GUILD, ALICE, searchable=False, by=ALICE)
    assert "alice-1" not in _seen(community, BOB)


def test_opt_out_shows_members_unless_they_say_no(
    community: KnowledgeService, pm: PrivacyManager
) -> None:
    pm.set_search_mode(GUILD, OPT_OUT, by=1)
    assert {"alice-1", "bob-1"} <= _seen(community, CARA)
    pm.set_consent(GUILD, ALICE, searchable=False, by=ALICE)
    assert "alice-1" not in _seen(community, BOB)
    assert "alice-1" in _seen(community, ALICE)
    assert "bob-1" in _seen(community, CARA)
    pm.set_search_mode(GUILD, OPT_IN, by=1)  # back to opt-in: nobody agreed, nobody shown
    assert _seen(community, CARA) <= {"cara-1"}


def test_policy_narrows_but_never_widens_and_stays_in_its_guild(pm: PrivacyManager) -> None:
    pm.set_consent(GUILD, ALICE, searchable=True, by=ALICE)
    pm.set_consent(GUILD, BOB, searchable=True, by=BOB)
    narrowed = pm.read_policy(
        SearchScope(guild_id=GUILD, consenting_author_ids=frozenset({BOB, CARA}))
    )
    assert narrowed.consenting_author_ids == frozenset({BOB})
    other = pm.read_policy(SearchScope(guild_id=OTHER_GUILD))
    assert other.consenting_author_ids == frozenset()  # consent is per guild


def test_consent_changes_are_kept_with_time_and_author(pm: PrivacyManager) -> None:
    pm.set_consent(GUILD, ALICE, searchable=True, matchable=True, by=ALICE)
    pm.set_consent(GUILD, ALICE, searchable=True, by=ALICE)  # no change, no event
    pm.set_consent(GUILD, ALICE, matchable=False, by=99)
    history = pm.consent_history(GUILD, ALICE)
    assert [(e.setting, e.value, e.changed_by) for e in history] == [
        ("searchable", True, ALICE),
        ("matchable", True, ALICE),
        ("matchable", False, 99),
    ]
    assert all(e.changed_at is not None for e in history)
    state = pm.consent(GUILD, ALICE)
    assert state.searchable and not state.matchable and not state.excluded


def test_matching_is_opt_in_even_in_opt_out_mode(pm: PrivacyManager) -> None:
    pm.set_search_mode(GUILD, OPT_OUT, by=1)
    assert pm.matchable_member_ids(GUILD) == frozenset()
    assert not pm.consent(GUILD, BOB).matchable and pm.consent(GUILD, BOB).searchable
    pm.set_consent(GUILD, BOB, matchable=True, by=BOB)
    assert pm.matchable_member_ids(GUILD) == frozenset({BOB})
    pm.set_consent(GUILD, BOB, excluded=True, by=BOB)
    assert pm.matchable_member_ids(GUILD) == frozenset()


def test_search_mode_is_validated_and_its_change_time_stored(pm: PrivacyManager) -> None:
    assert pm.mode_changed_at(GUILD) is None
    with pytest.raises(InvalidInput):
        pm.set_search_mode(GUILD, "everyone", by=1)
    pm.set_search_mode(GUILD, OPT_OUT, by=1)
    assert pm.search_mode(GUILD) == OPT_OUT and pm.mode_changed_at(GUILD) is not None


def test_policy_is_cached_until_a_change(pm: PrivacyManager, service: KnowledgeService) -> None:
    pm.set_consent(GUILD, ALICE, searchable=True, by=ALICE)
    first = pm.read_policy(SearchScope(guild_id=GUILD))
    calls: list[str] = []
    original = pm._load_view

    def counting(guild_id: int, now: float):  # type: ignore[no-untyped-def]
        calls.append("load")
        return original(guild_id, now)

    pm._load_view = counting  # type: ignore[method-assign]
    for _ in range(50):
        assert pm.read_policy(SearchScope(guild_id=GUILD)) == first
    assert calls == []  # no SQL per search
    pm.set_consent(GUILD, BOB, searchable=True, by=BOB)
    both = pm.read_policy(SearchScope(guild_id=GUILD)).consenting_author_ids
    assert both == frozenset({ALICE, BOB})
    assert calls == ["load"]


def test_delete_removes_agreements_but_keeps_refusals(pm: PrivacyManager) -> None:
    pm.set_consent(GUILD, ALICE, searchable=True, matchable=True, by=ALICE)
    pm.set_consent(GUILD, BOB, searchable=False, by=BOB)
    assert pm.read_policy(SearchScope(guild_id=GUILD)).consenting_author_ids == frozenset({ALICE})
    pm.delete_member(GUILD, ALICE)
    pm.delete_member(GUILD, BOB)
    assert pm.read_policy(SearchScope(guild_id=GUILD)).consenting_author_ids == frozenset()
    assert pm.matchable_member_ids(GUILD) == frozenset()
    assert pm.consent(GUILD, BOB).searchable_choice is False
    assert pm.consent(GUILD, ALICE).searchable_choice is None
    pm.set_search_mode(GUILD, OPT_OUT, by=1)
    assert pm.read_policy(SearchScope(guild_id=GUILD)).withheld_author_ids == {BOB}
