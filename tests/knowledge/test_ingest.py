"""Ingest: idempotency, edits, deletes, bad input, enabled channels only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
import sqlalchemy as sa
from sqlmodel import select

from knowledge.embeddings import HashingEmbedder, Vectors
from knowledge.records import PostRecord
from knowledge.scope import SearchScope
from knowledge.service import KnowledgeService
from knowledge.store.models import Post, PostVector
from knowledge.store.text_index import ranked_matches
from tests.conftest import GUILD, PHRASES_ONLY, enable_open, post

pytestmark = pytest.mark.both_backends  # SQLite and a real PostgreSQL


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.encoded: list[str] = []

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.encoded.extend(texts)
        return super().encode(texts)


@pytest.fixture
def counting(settings) -> KnowledgeService:  # type: ignore[no-untyped-def]
    svc = KnowledgeService(settings, embedder=CountingEmbedder(), safety=PHRASES_ONLY)
    yield svc
    svc.close()


def posts_in_sql(service: KnowledgeService) -> list[Post]:
    with service.store.session() as session:
        return list(session.exec(select(Post)).all())


def fts_ids(service: KnowledgeService, term: str) -> list[int]:
    """Posts the full-text index finds for one word (FTS5 or PostgreSQL, the search's own path)."""
    with service.store.engine.connect() as conn:
        return [post_id for post_id, _ in ranked_matches(conn, [term], [], 1000)]


def test_same_message_twice_is_stored_once_and_embedded_once(counting: KnowledgeService) -> None:
    enable_open(counting, GUILD, 1)
    first = counting.ingest([post("m1", "insulin pump alarms at night")])
    second = counting.ingest([post("m1", "insulin pump alarms at night")])
    assert (first.inserted, second.unchanged, second.embedded) == (1, 1, 0)
    assert len(posts_in_sql(counting)) == 1
    assert counting.embedder.encoded == ["insulin pump alarms at night"]  # type: ignore[attr-defined]


def test_edit_re_embeds_and_replaces_text_everywhere(counting: KnowledgeService) -> None:
    enable_open(counting, GUILD, 1)
    counting.ingest([post("m1", "original wording about migraines")])
    report = counting.ingest([post("m1", "edited wording about tinnitus")])
    assert report.updated == 1 and report.embedded == 1
    (row,) = posts_in_sql(counting)
    assert row.content == "edited wording about tinnitus" and row.edited_at is not None
    assert fts_ids(counting, "migraines") == [] and fts_ids(counting, "tinnitus") == [row.id]
    index = counting.store.vector_index(GUILD)
    assert len(index) == 1
    stored = index.reconstruct(np.asarray([row.id]))[0]
    expected = counting.embedder.encode(["edited wording about tinnitus"])[0]
    assert np.allclose(stored, expected, atol=1e-6)


def test_channel_not_enabled_stores_nothing(service: KnowledgeService) -> None:
    enable_open(service, GUILD, 1)
    report = service.ingest([post("m1", "private health detail", channel=2)])
    assert report.skip_counts() == {"channel_not_enabled": 1}
    assert posts_in_sql(service) == [] and len(service.store.vector_index(GUILD)) == 0
    assert fts_ids(service, "private") == []


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("\x00\x00\x01", "empty"),
        ("🙂🎉💙", "no_text"),
        ("https://example.org/some/page", "no_text"),
        (b"\xff\xfe not utf8", "invalid_utf8"),
        (12345, "not_text"),
    ],
)
def test_bad_posts_are_skipped_with_a_reason_and_the_batch_survives(
    service: KnowledgeService, text: object, reason: str
) -> None:
    enable_open(service, GUILD, 1)
    report = service.ingest(
        [post("good1", "a fine post"), post("bad", text), post("good2", "another")]
    )
    assert report.inserted == 2
    assert [(s.external_id, s.reason) for s in report.skipped] == [("bad", reason)]


def test_control_characters_and_surrogates_are_cleaned(service: KnowledgeService) -> None:
    enable_open(service, GUILD, 1)
    service.ingest([post("m1", "fatigue\x00 and\x07 pain \ud800 today")])
    (row,) = posts_in_sql(service)
    assert row.content == "fatigue and pain \ufffd today"


def test_huge_post_is_stored_truncated(service: KnowledgeService) -> None:
    enable_open(service, GUILD, 1)
    report = service.ingest([post("big", "word " * 200_000)])  # 1 MB
    (row,) = posts_in_sql(service)
    assert report.truncated == 1 and row.truncated
    assert len(row.content) <= service.settings.ingest.max_post_chars


def test_delete_removes_from_sql_fts_and_vectors(service: KnowledgeService) -> None:
    enable_open(service, GUILD, 1)
    service.ingest([post("m1", "zebrafinch marker text"), post("m2", "something else entirely")])
    (gone,) = [p for p in posts_in_sql(service) if p.external_id == "m1"]
    assert service.delete_messages(GUILD, ["m1"]) == 1
    assert [p.external_id for p in posts_in_sql(service)] == ["m2"]
    assert fts_ids(service, "zebrafinch") == []
    assert gone.id not in service.store.vector_index(GUILD)
    with service.store.session() as session:
        assert session.get(PostVector, gone.id) is None
    scope = SearchScope(guild_id=GUILD)
    assert all(h.external_id != "m1" for h in service.search("zebrafinch marker", scope))


def test_deleted_text_stays_gone_after_restart_and_reindex(settings) -> None:  # type: ignore[no-untyped-def]
    svc = KnowledgeService(settings, embedder=HashingEmbedder())
    enable_open(svc, GUILD, 1)
    svc.ingest([post("m1", "quokkamarker words"), post("m2", "other words here")])
    svc.delete_messages(GUILD, ["m1"])
    svc.close()
    again = KnowledgeService(settings, embedder=HashingEmbedder())
    again.start()
    again.reindex()
    assert fts_ids(again, "quokkamarker") == []
    assert len(again.store.vector_index(GUILD)) == 1
    hits = again.search("quokkamarker words", SearchScope(guild_id=GUILD))
    assert [h.external_id for h in hits] == ["m2"]
    with again.store.engine.connect() as db:
        found = db.execute(sa.text("SELECT count(*) FROM post WHERE content LIKE '%quokka%'"))
        assert found.scalar_one() == 0
    again.close()


def test_disable_channel_purges_it(service: KnowledgeService) -> None:
    enable_open(service, GUILD, 1)
    enable_open(service, GUILD, 2)
    service.ingest([post("a", "alpha text", channel=1), post("b", "beta text", channel=2)])
    assert service.disable_channel(GUILD, 1) == 1
    assert [p.external_id for p in posts_in_sql(service)] == ["b"]
    assert not service.is_enabled(GUILD, 1)
    assert service.ingest([post("c", "new text", channel=1)]).skip_counts() == {
        "channel_not_enabled": 1
    }


def test_purge_guild_removes_everything_of_that_guild_only(service: KnowledgeService) -> None:
    enable_open(service, GUILD, 1)
    enable_open(service, GUILD + 1, 9)
    service.ingest([post("a", "alpha", channel=1), post("b", "beta", guild=GUILD + 1, channel=9)])
    assert service.purge_guild(GUILD) == 1
    assert [p.guild_id for p in posts_in_sql(service)] == [GUILD + 1]
    assert not (service.store.index_path(GUILD).with_suffix(".faiss")).exists()


# -- one bad post never costs its batch ------------------------------------------------------------


def record(ext: str = "bad", **fields: object) -> PostRecord:
    return replace(post(ext, "a post with fine words"), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (record(created_at=datetime.fromisoformat("9999-12-31T23:59:59-12:00")), "bad_date"),
        (record(created_at=datetime(1969, 12, 31, 23, 59, tzinfo=UTC)), "bad_date"),
        (
            record(created_at=datetime(1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=5)))),
            "bad_date",
        ),
        (record(created_at="2024-01-01T00:00:00Z"), "bad_date"),
        (record(edited_at=datetime.fromisoformat("9999-12-31T23:59:59-12:00")), "bad_date"),
        (record("x" * 129), "id_too_long"),
        (record(reply_to="r" * 129), "id_too_long"),
        (record(""), "bad_id"),
        (record(author_id=2**64), "bad_id"),
        (record(channel_id=-1), "bad_id"),
        (record(thread_id=True), "bad_id"),
        (record(kind="poll"), "bad_record"),
    ],
)
def test_a_post_that_cannot_be_stored_is_a_typed_skip_and_the_batch_survives(
    service: KnowledgeService, bad: PostRecord, reason: str
) -> None:
    enable_open(service, GUILD, 1)
    report = service.ingest([post("good1", "a fine post"), bad, post("good2", "another one")])
    assert report.inserted == 2 and report.embedded == 2
    assert [s.reason for s in report.skipped] == [reason]
    assert len(report.skipped[0].external_id) <= 128
    assert sorted(p.external_id for p in posts_in_sql(service)) == ["good1", "good2"]
    assert len(service.store.vector_index(GUILD)) == 2


def test_ids_that_share_their_first_128_characters_never_merge(service: KnowledgeService) -> None:
    enable_open(service, GUILD, 1)
    stem = "7" * 128
    report = service.ingest([post(stem + "1", "first text"), post(stem + "2", "second text")])
    assert report.skip_counts() == {"id_too_long": 2} and posts_in_sql(service) == []
    assert service.ingest([post(stem, "exactly the limit")]).inserted == 1


def test_dates_are_stored_in_utc_whether_naive_or_aware(service: KnowledgeService) -> None:
    enable_open(service, GUILD, 1)
    eastern = timezone(timedelta(hours=-5))
    report = service.ingest(
        [
            record("naive", created_at=datetime(2024, 3, 1, 12, 0)),
            record("aware", created_at=datetime(2024, 3, 1, 7, 0, tzinfo=eastern)),
            record("utc", created_at=datetime(2024, 3, 1, 12, 0, tzinfo=UTC)),
        ]
    )
    assert report.inserted == 3 and not report.skipped
    stamps = {p.external_id: p.created_at.replace(tzinfo=None) for p in posts_in_sql(service)}
    assert set(stamps.values()) == {datetime(2024, 3, 1, 12, 0)}
    after = datetime(2024, 3, 1, 11, 0, tzinfo=UTC)
    hits = service.search("fine words", SearchScope(guild_id=GUILD, after=after), mode="dense")
    assert len(hits) == 3  # the catalog (epoch seconds) and SQL agree on every post's time


def test_a_value_the_database_refuses_costs_only_its_own_post(
    service: KnowledgeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the field checks (here switched off), the batch is retried post by post."""
    enable_open(service, GUILD, 1)
    monkeypatch.setattr("knowledge.ingest.checked_record", lambda r: r)
    late = datetime.fromisoformat("9999-12-31T23:59:59-12:00")
    report = service.ingest(
        [
            post("good1", "a fine post"),
            record("huge", author_id=2**64),
            record("late", created_at=late),
            post("good2", "another one"),
        ]
    )
    assert report.received == 4 and report.inserted == 2 and report.embedded == 2
    assert sorted((s.external_id, s.reason) for s in report.skipped) == [
        ("huge", "bad_record"),
        ("late", "bad_record"),
    ]
    assert sorted(p.external_id for p in posts_in_sql(service)) == ["good1", "good2"]
    columns = service.store.catalog(GUILD).columns()
    assert set(columns.ids.tolist()) == {p.id for p in posts_in_sql(service)}
