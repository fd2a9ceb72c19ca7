"""Deleting a member leaves nothing findable or recoverable, and nothing comes back by re-ingest."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

import knowledge.privacy.erase as erase_module
from knowledge.config import KindredSettings
from knowledge.embeddings import HashingEmbedder
from knowledge.errors import NotFound
from knowledge.privacy.consent import PrivacyManager
from knowledge.records import PostRecord
from knowledge.scope import SearchScope
from knowledge.service import KnowledgeService
from tests.conftest import GUILD, enable, post

pytestmark = pytest.mark.both_backends  # SQLite and a real PostgreSQL

LEAVER, STAYER, ASKER = 10, 20, 30
MARKER = "zqxv-marker-8812"
TOKEN = "qzxvtokenfour"  # one FTS token; its tail must leave the text index's segments
SECRET_TEXT = f"my private note {MARKER} {TOKEN} about my new meds"


def open_service(settings: KindredSettings) -> tuple[KnowledgeService, PrivacyManager]:
    service = KnowledgeService(settings, embedder=HashingEmbedder())
    manager = service.privacy  # wired by KnowledgeService itself
    return service, manager


def history() -> list[PostRecord]:
    records = [
        post(f"s-{i}", f"week {i}: sleep and fatigue are better on the new dose", author=STAYER)
        for i in range(120)
    ]
    records.append(post("secret", SECRET_TEXT, author=LEAVER, minutes=5))
    records.append(post("secret-2", f"another {MARKER} line about tremor", author=LEAVER))
    return records


@pytest.fixture
def world(settings: KindredSettings) -> Iterator[tuple[KnowledgeService, PrivacyManager]]:
    service, manager = open_service(settings)
    enable(service, GUILD, 1)
    manager.set_search_mode(GUILD, "opt_out", by=1)
    service.ingest(history())
    service.flush(force=True)  # index files exist on disk with the leaver's vectors
    yield service, manager
    service.close()


def raw_files(data_dir: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file()}


def leftovers(data_dir: Path, needles: list[bytes]) -> list[str]:
    return [
        f"{name}: {needle!r}"
        for name, data in raw_files(data_dir).items()
        for needle in needles
        if needle in data
    ]


def vectors_of(service: KnowledgeService, author: int) -> list[bytes]:
    with service.store.engine.connect() as c:
        rows = c.execute(
            sa.text(
                "SELECT v.vector FROM postvector v JOIN post p ON p.id = v.post_id "
                "WHERE p.author_id = :a"
            ),
            {"a": author},
        ).all()
    return [bytes(r[0]) for r in rows]


def findable(service: KnowledgeService, text: str) -> set[str]:
    scope = SearchScope(guild_id=GUILD, asker_id=ASKER, moderator_view=True)
    found: set[str] = set()
    for mode in ("bm25", "dense", "hybrid"):
        found |= {h.external_id for h in service.search(text, scope, 200, mode=mode)}
    return found


def sql_mentions(service: KnowledgeService) -> int:
    queries = [
        ("SELECT count(*) FROM post WHERE author_id = :a OR content LIKE :m", {}),
        ("SELECT count(*) FROM member WHERE user_id = :a", {}),
    ]
    if service.store.is_sqlite:  # FTS5's own tables (PostgreSQL's index is over `post` itself)
        queries += [
            ("SELECT count(*) FROM post_fts WHERE post_fts MATCH :t", {"t": TOKEN}),
            ("SELECT count(*) FROM post_fts_vocab WHERE term = :t", {"t": TOKEN}),
        ]
    with service.store.engine.connect() as c:
        return sum(
            int(c.execute(sa.text(q), {"a": LEAVER, "m": f"%{MARKER}%", **extra}).scalar_one())
            for q, extra in queries
        )


def test_deleted_member_is_gone_from_every_query_and_every_byte(
    world: tuple[KnowledgeService, PrivacyManager], settings: KindredSettings
) -> None:
    service, manager = world
    assert {"secret", "secret-2"} <= findable(service, SECRET_TEXT)  # findable before
    vectors = vectors_of(service, LEAVER)
    assert len(vectors) == 2
    needles = [MARKER.encode(), TOKEN[2:].encode(), *vectors]
    assert leftovers(settings.storage.data_dir, needles)  # the bytes really were on disk

    manager.set_consent(GUILD, LEAVER, searchable=False, by=LEAVER)
    assert manager.read_policy(SearchScope(guild_id=GUILD)).withheld_author_ids == {LEAVER}
    report = manager.delete_member(GUILD, LEAVER, vacuum=True)
    assert report.posts == 2 and report.tombstones == 2 and report.wal_truncated
    assert report.vacuumed and report.rows["consentevent"] == 1
    assert manager.consent_history(GUILD, LEAVER) == []
    assert manager.read_policy(SearchScope(guild_id=GUILD)).withheld_author_ids == {LEAVER}
    # (the "no" outlives the deletion: new posts stay hidden in this opt-out guild)

    assert not findable(service, SECRET_TEXT) & {"secret", "secret-2"}
    assert sql_mentions(service) == 0
    assert leftovers(settings.storage.data_dir, needles) == []
    assert len(findable(service, "sleep and fatigue on the new dose")) >= 100  # others intact

    service.close()  # restart
    service, manager = open_service(settings)
    service.start()
    assert not findable(service, SECRET_TEXT) & {"secret", "secret-2"}
    service.reindex(GUILD)
    assert not findable(service, SECRET_TEXT) & {"secret", "secret-2"}
    assert sql_mentions(service) == 0
    service.close()
    assert leftovers(settings.storage.data_dir, needles) == []


def test_without_the_scrub_steps_deleted_bytes_survive(
    world: tuple[KnowledgeService, PrivacyManager],
    settings: KindredSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The byte check above is sensitive: skip optimize/checkpoint/save and it finds leftovers."""
    service, manager = world
    if not service.store.is_sqlite:
        pytest.skip("SQLite's own files (WAL, FTS5 segments); PostgreSQL's files are the server's")
    needles = [MARKER.encode(), TOKEN[2:].encode(), *vectors_of(service, LEAVER)]
    monkeypatch.setattr(erase_module, "scrub", lambda store, guilds, vacuum=False: (False, False))
    manager.delete_member(GUILD, LEAVER)
    assert leftovers(settings.storage.data_dir, needles)  # WAL, FTS segments, old faiss file
    service.close()  # even an orderly close (checkpoint + save) leaves the FTS token behind
    assert leftovers(settings.storage.data_dir, [TOKEN[2:].encode()])


def test_backfill_after_delete_does_not_bring_posts_back(
    world: tuple[KnowledgeService, PrivacyManager],
) -> None:
    service, manager = world
    manager.delete_member(GUILD, LEAVER)
    report = service.ingest(history())  # a backfill re-reads the same channel history
    assert report.skip_counts().get("deleted_by_member") == 2
    assert report.inserted == 0
    assert sql_mentions(service) == 0
    new = service.ingest([post("later", "a new message after deleting", author=LEAVER)])
    assert new.inserted == 1  # deletion is not exclusion: later messages may be indexed


def test_excluded_members_are_never_stored(
    world: tuple[KnowledgeService, PrivacyManager], settings: KindredSettings
) -> None:
    service, manager = world
    manager.set_consent(GUILD, LEAVER, excluded=True, by=LEAVER)
    assert sql_mentions(service) == 0  # excluding removed what was stored
    assert leftovers(settings.storage.data_dir, [MARKER.encode()]) == []
    report = service.ingest([post("new", "brand new message from the excluded", author=LEAVER)])
    assert report.skip_counts() == {"member_excluded": 1} and report.inserted == 0
    manager.delete_member(GUILD, LEAVER)
    assert manager.consent(GUILD, LEAVER).excluded  # deleting does not undo the exclusion
    assert manager.consent_history(GUILD, LEAVER) == []
    again = service.ingest([post("newer", "still excluded", author=LEAVER)])
    assert again.skip_counts() == {"member_excluded": 1}


def test_delete_message_by_author_is_tombstoned_by_moderator_not(
    world: tuple[KnowledgeService, PrivacyManager], settings: KindredSettings
) -> None:
    service, manager = world
    by_author = manager.delete_message(GUILD, "secret", by=LEAVER)
    assert by_author.posts == 1 and by_author.tombstones == 1
    assert "secret" not in findable(service, SECRET_TEXT)
    assert leftovers(settings.storage.data_dir, [TOKEN[2:].encode()]) == []
    by_moderator = manager.delete_message(GUILD, "s-3", by=ASKER)
    assert by_moderator.posts == 1 and by_moderator.tombstones == 0
    report = service.ingest(history())
    assert report.skip_counts().get("deleted_by_member") == 1
    assert report.inserted == 1  # the moderator-removed message may come back
    with pytest.raises(NotFound):
        manager.delete_message(GUILD, "never-stored", by=LEAVER)


def test_retention_removes_old_posts_everywhere_and_keeps_them_out(
    world: tuple[KnowledgeService, PrivacyManager],
) -> None:
    service, manager = world
    now = datetime.now(UTC)  # the history is from 2024
    assert manager.apply_retention(None, now) == 0  # no retention set: keep
    manager.set_retention(GUILD, 10)
    fresh = post("fresh", "a recent message about pacing", author=STAYER, minutes=0)
    fresh = PostRecord(**{**fresh.__dict__, "created_at": now - timedelta(days=2)})
    assert service.ingest([fresh]).inserted == 1
    assert manager.apply_retention(GUILD, now) == 122
    assert service.stats(GUILD).posts == 1 and service.stats(GUILD).indexed_vectors == 1
    assert findable(service, "pacing") == {"fresh"}
    report = service.ingest(history())  # the gate keeps old history out after retention
    assert report.skip_counts() == {"past_retention": 122}
    manager.set_retention(GUILD, None)
    assert manager.retention_days(GUILD) is None


def test_discord_side_delete_then_compact_scrubs_the_bytes(
    world: tuple[KnowledgeService, PrivacyManager], settings: KindredSettings
) -> None:
    """The bot's on-delete path (service.delete_messages) plus a maintenance `compact`."""
    service, manager = world
    assert service.delete_messages(GUILD, ["secret", "secret-2"]) == 2
    assert not findable(service, SECRET_TEXT) & {"secret", "secret-2"}  # gone from search at once
    assert manager.compact([GUILD])
    assert leftovers(settings.storage.data_dir, [MARKER.encode(), TOKEN[2:].encode()]) == []
    assert service.ingest(history()).inserted == 2  # no tombstone: Discord no longer has them


def test_purge_guild_drops_every_privacy_row(
    world: tuple[KnowledgeService, PrivacyManager],
) -> None:
    service, manager = world
    manager.set_consent(GUILD, STAYER, searchable=False, by=STAYER)
    manager.delete_member(GUILD, LEAVER)
    manager.set_retention(GUILD, 400)
    cached = manager.read_policy(SearchScope(guild_id=GUILD))  # the guild's consent, cached
    assert cached.withheld_author_ids == {STAYER}
    service.purge_guild(GUILD)
    with service.store.engine.connect() as c:
        for table in ("memberconsent", "consentevent", "posttombstone", "guildprivacy"):
            assert c.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() == 0, table
    assert manager.search_mode(GUILD) == "opt_in" and manager.retention_days(GUILD) is None
    scope = manager.read_policy(SearchScope(guild_id=GUILD))
    assert scope.withheld_author_ids == frozenset()  # the cached consent went with the guild
