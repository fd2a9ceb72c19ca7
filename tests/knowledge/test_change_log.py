"""Several processes on one database: what one changes reaches the others' indexes and consent
through the change log (`indexchange`), on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from knowledge.config import KindredSettings
from knowledge.embeddings import HashingEmbedder
from knowledge.scope import SearchScope
from knowledge.service import KnowledgeService
from tests.conftest import GUILD, OTHER_GUILD, PHRASES_ONLY, enable_open, post

pytestmark = pytest.mark.both_backends  # SQLite and a real PostgreSQL

LEAVER, STAYER = 10, 20


def open_service(settings: KindredSettings) -> KnowledgeService:
    return KnowledgeService(settings, embedder=HashingEmbedder(), safety=PHRASES_ONLY)


@pytest.fixture
def pair(settings: KindredSettings) -> Iterator[tuple[KnowledgeService, KnowledgeService]]:
    """Process A (a shard or the CLI) and process B (another shard), one database."""
    a = open_service(settings)
    enable_open(a, GUILD, 1)
    a.ingest(
        [
            post("l1", "insulin pump alarms wake me every night", author=LEAVER),
            post("s1", "my asthma inhaler before running", author=STAYER),
        ]
    )
    b = open_service(settings)
    b.start()
    yield a, b
    b.close()
    a.close()


def found(service: KnowledgeService, text: str) -> set[str]:
    hits = service.search(text, SearchScope(guild_id=GUILD), 20, mode="dense")
    return {hit.external_id for hit in hits}


def test_a_new_post_elsewhere_reaches_a_loaded_index_only_by_following(
    pair: tuple[KnowledgeService, KnowledgeService],
) -> None:
    a, b = pair
    assert len(b.store.vector_index(GUILD)) == 2
    a.ingest([post("s2", "continuous glucose monitor on my arm", author=STAYER)])
    assert "s2" not in found(b, "continuous glucose monitor on my arm")  # B's faiss lacks it
    assert b.follow_changes() >= 1
    assert "s2" in found(b, "continuous glucose monitor on my arm")
    assert len(b.store.vector_index(GUILD)) == 3


def test_a_privacy_delete_elsewhere_leaves_no_vector_here(
    pair: tuple[KnowledgeService, KnowledgeService],
) -> None:
    a, b = pair
    assert "l1" in found(b, "insulin pump alarms")
    a.privacy.delete_member(GUILD, LEAVER)
    assert len(b.store.vector_index(GUILD)) == 2  # the ghost vector is still held here
    b.follow_changes()
    assert len(b.store.vector_index(GUILD)) == 1
    assert "l1" not in found(b, "insulin pump alarms")


def test_a_consent_change_elsewhere_applies_here_before_the_cache_expires(
    pair: tuple[KnowledgeService, KnowledgeService],
) -> None:
    a, b = pair
    assert "l1" in found(b, "insulin pump alarms")
    a.privacy.set_consent(GUILD, LEAVER, searchable=False, by=LEAVER)
    assert "l1" in found(b, "insulin pump alarms")  # B's consent cache (30 s) still says yes
    b.follow_changes()
    assert "l1" not in found(b, "insulin pump alarms")


def test_a_process_skips_its_own_changes_and_other_guilds_stay_unloaded(
    pair: tuple[KnowledgeService, KnowledgeService],
) -> None:
    a, b = pair
    enable_open(a, OTHER_GUILD, 5)
    a.ingest([post("o1", "a post in another guild", guild=OTHER_GUILD, channel=5)])
    assert a.follow_changes() == 0  # everything new was written by A itself
    b.follow_changes()
    assert OTHER_GUILD not in b.store._indexes  # nothing loaded there: a first use reads SQL


def test_a_removed_guild_is_forgotten_by_the_other_process(
    pair: tuple[KnowledgeService, KnowledgeService],
) -> None:
    a, b = pair
    assert len(b.store.vector_index(GUILD)) == 2
    a.purge_guild(GUILD)
    b.follow_changes()
    assert GUILD not in b.store._indexes
    assert found(b, "insulin pump alarms") == set()
