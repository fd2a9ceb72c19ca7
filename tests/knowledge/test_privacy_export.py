"""The export holds every row about a member and nothing about anyone else; the summary counts."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from knowledge.privacy.consent import PrivacyManager
from knowledge.privacy.tables import member_specs, registry_problems
from knowledge.records import PostRecord
from knowledge.service import KnowledgeService
from tests.conftest import GUILD, OTHER_GUILD, enable, post

pytestmark = pytest.mark.both_backends  # SQLite and a real PostgreSQL

ME, OTHER = 11, 22


@pytest.fixture
def pm(service: KnowledgeService) -> PrivacyManager:
    manager = service.privacy  # wired by KnowledgeService itself
    enable(service, GUILD, 1)
    enable(service, GUILD, 2)
    enable(service, OTHER_GUILD, 5)
    mine = [post(f"me-{i}", f"my flare diary day {i}: joints ache", author=ME) for i in range(3)]
    mine.append(post("me-c2", "fatigue and brain fog today", author=ME, channel=2))
    records: list[PostRecord] = [
        *mine,
        post("other-1", "insulin pump site rash", author=OTHER),
        post("me-elsewhere", "my post in another guild", author=ME, guild=OTHER_GUILD, channel=5),
    ]
    service.ingest(records)
    manager.set_consent(GUILD, ME, searchable=True, matchable=True, by=ME)
    manager.set_consent(GUILD, OTHER, searchable=True, by=OTHER)
    manager.set_consent(OTHER_GUILD, ME, searchable=False, by=ME)
    return manager


def table_rows(service: KnowledgeService, sql: str, **params: object) -> list[dict[str, object]]:
    with service.store.engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(sa.text(sql), params).all()]


def test_export_holds_every_row_about_the_member(
    pm: PrivacyManager, service: KnowledgeService
) -> None:
    data = pm.export(GUILD, ME)
    data = json.loads(json.dumps(data))  # JSON-serialisable, and compared as a reader sees it
    tables = data["tables"]
    expected_posts = table_rows(
        service,
        "SELECT * FROM post WHERE guild_id = :g AND author_id = :m ORDER BY id",
        g=GUILD,
        m=ME,
    )
    assert len(tables["post"]) == len(expected_posts) == 4
    for got, expected in zip(tables["post"], expected_posts, strict=True):
        assert set(got) == set(expected)  # every column
        assert got["content"] == expected["content"] and got["id"] == expected["id"]
    post_ids = [p["id"] for p in expected_posts]
    marks = ",".join(str(i) for i in post_ids)
    want = table_rows(service, f"SELECT * FROM postvector WHERE post_id IN ({marks})")
    assert len(tables["postvector"]) == len(want) and want
    shown = f"SELECT * FROM postcondition WHERE post_id IN ({marks}) AND weight > 0"
    assert len(tables["postcondition"]) == len(table_rows(service, shown))
    assert len(tables["member"]) == 1 and tables["member"][0]["user_id"] == ME
    assert [(r["searchable"], r["matchable"]) for r in tables["memberconsent"]] == [(True, True)]
    assert [(r["setting"], r["value"]) for r in tables["consentevent"]] == [
        ("searchable", True),
        ("matchable", True),
    ]
    for spec in member_specs():  # every table with a member column appears
        assert spec.name in tables, spec.name
    assert "posttombstone" not in tables  # tombstones name no member (message ids only)


def test_export_holds_nothing_about_anyone_else(
    pm: PrivacyManager, service: KnowledgeService
) -> None:
    data = pm.export(GUILD, ME)
    text = json.dumps(data)
    assert "insulin" not in text and "another guild" not in text
    for name, rows in data["tables"].items():
        for row in rows:
            assert row.get("guild_id", GUILD) == GUILD, name
            for key in ("user_id", "author_id"):
                assert row.get(key, ME) == ME, name
    other_ids = {
        r["id"] for r in table_rows(service, "SELECT id FROM post WHERE author_id != :m", m=ME)
    }
    assert not other_ids & {r["post_id"] for r in data["tables"]["postcondition"]}
    assert not other_ids & {r["post_id"] for r in data["tables"]["postvector"]}


def test_every_member_column_is_covered_by_export_and_delete() -> None:
    """A new table with a member column must be in the registry (export and erase read it)."""
    assert registry_problems(SQLModel.metadata) == []
    probe = sa.MetaData()
    sa.Table(
        "future_profile", probe, sa.Column("user_id", sa.BigInteger), sa.Column("bio", sa.Text)
    )
    assert registry_problems(probe) == [
        "future_profile: not in the registry",
        "future_profile.user_id: looks like an id but is not declared",
    ]


def test_export_after_delete_is_empty_and_tombstones_name_no_one(
    pm: PrivacyManager, service: KnowledgeService
) -> None:
    pm.delete_member(GUILD, ME)
    data = pm.export(GUILD, ME)
    assert all(rows == [] for rows in data["tables"].values())
    assert "counts" not in data and "posttombstone" not in data["tables"]
    assert data["actions_recorded"] and not any(data["actions_recorded"].values())
    tombstones = table_rows(service, "SELECT * FROM posttombstone WHERE guild_id = :g", g=GUILD)
    assert sorted(str(r["external_id"]) for r in tombstones) == [
        "me-0",
        "me-1",
        "me-2",
        "me-c2",
    ]
    assert all(set(r) == {"guild_id", "external_id", "reason", "created_at"} for r in tombstones)
    assert pm.export(OTHER_GUILD, ME)["tables"]["post"]  # another guild is untouched


def test_summary_counts_by_channel_and_states(pm: PrivacyManager) -> None:
    summary = pm.summary(GUILD, ME)
    assert summary.posts == 4 and summary.posts_by_channel == {1: 3, 2: 1}
    assert summary.consent.searchable and summary.consent.matchable
    assert summary.consent_changes == 2
    assert summary.profile is None and summary.pending_introductions == 0
    assert summary.retention_days is None


def test_export_and_summary_show_only_strong_tags(
    pm: PrivacyManager, service: KnowledgeService
) -> None:
    """Own and carer tags are exported and summarised; weak ranking evidence never is."""
    service.ingest([post("me-tags", "brain fog 8 months after covid, my son has ADHD", author=ME)])
    (post_id,) = [
        r["id"] for r in table_rows(service, "SELECT id FROM post WHERE external_id = 'me-tags'")
    ]
    stored = table_rows(service, "SELECT * FROM postcondition WHERE post_id = :p", p=post_id)
    weak = {r["condition_id"] for r in stored if float(str(r["weight"])) < 0}
    assert weak  # the tagger keeps weak evidence (brain fog: ME/CFS, menopause...) for ranking
    data = json.loads(json.dumps(pm.export(GUILD, ME)))
    rows = data["tables"]["postcondition"]
    assert all(r["weight"] > 0 for r in rows)
    exported = {r["condition_id"] for r in rows if r["post_id"] == post_id}
    assert exported == {"long_covid", "carer:adhd"}
    assert not weak & {r["condition_id"] for r in rows}
    assert "postcondition" in data["notes"]
    summary = pm.summary(GUILD, ME)
    assert summary.condition_tags == {"Long COVID": 1, "caring for: ADHD": 1}
