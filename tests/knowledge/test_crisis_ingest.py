"""Crisis posts at ingest: flagged with reasons, hidden from others' search and suggestions."""

from __future__ import annotations

import pytest

from knowledge.scope import SearchScope
from knowledge.service import KnowledgeService
from tests.conftest import GUILD, enable_open, post

pytestmark = pytest.mark.both_backends  # SQLite and a real PostgreSQL

CRISIS = "I have the pills ready and tonight I am going to end my life. Goodbye everyone."
ORDINARY = "Tonight I am going to try the new sleep routine, pills for my migraine are ready."
AUTHOR, OTHER = 5, 6


def test_crisis_post_is_flagged_with_reasons(service: KnowledgeService) -> None:
    enable_open(service, GUILD, 1)
    report = service.ingest([post("c", CRISIS, author=AUTHOR), post("o", ORDINARY, author=OTHER)])
    assert [(f.external_id, f.level) for f in report.flagged] == [("c", "crisis")]
    assert report.flagged[0].reasons and report.flagged[0].author_id == AUTHOR
    again = service.ingest([post("c", CRISIS, author=AUTHOR)])
    assert again.flagged == []  # unchanged text is not assessed (or alerted) twice


def test_crisis_post_is_hidden_from_others_but_not_from_author_or_moderators(
    service: KnowledgeService,
) -> None:
    enable_open(service, GUILD, 1)
    service.ingest([post("c", CRISIS, author=AUTHOR), post("o", ORDINARY, author=OTHER)])
    query = "pills ready tonight end my life goodbye"
    other = service.search(query, SearchScope(guild_id=GUILD, asker_id=OTHER))
    assert [h.external_id for h in other] == ["o"]
    author = service.search(query, SearchScope(guild_id=GUILD, asker_id=AUTHOR))
    assert "c" in {h.external_id for h in author}
    moderator = service.search(query, SearchScope(guild_id=GUILD, moderator_view=True))
    assert "c" in {h.external_id for h in moderator}
    similar = service.similar_to_text(CRISIS, SearchScope(guild_id=GUILD, asker_id=OTHER))
    assert "c" not in {h.external_id for h in similar}
    similar_post = service.similar_to_post(GUILD, "o", SearchScope(guild_id=GUILD, asker_id=OTHER))
    assert "c" not in {h.external_id for h in similar_post}


def test_editing_away_the_crisis_language_clears_the_flag(service: KnowledgeService) -> None:
    enable_open(service, GUILD, 1)
    service.ingest([post("c", CRISIS, author=AUTHOR)])
    service.ingest([post("c", "Feeling a bit better today, thanks for listening.", author=AUTHOR)])
    hits = service.search("feeling better today", SearchScope(guild_id=GUILD, asker_id=OTHER))
    assert [h.external_id for h in hits] == ["c"]
