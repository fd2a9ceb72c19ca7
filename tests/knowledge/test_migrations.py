"""Migration 0008: post ids are never reused, and the rebuild of `post` loses nothing.
Migration 0009: escalation and digest state for crisis alerts, matching the models."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from knowledge.service import KnowledgeService
from knowledge.store.db import alembic_config, current_revision, make_engine, migrate, sqlite_url
from tests.conftest import GUILD, OTHER_GUILD, enable_open, post

NOW = "2026-01-01 00:00:00.000000"
HEAD = "0013"  # the newest revision (the change log)
POST_COLUMNS = (
    "id, guild_id, external_id, channel_id, author_id, kind, created_at, content, content_hash,"
    " truncated, hidden, curated, crisis_level, ingested_at"
)


def at_revision(path: Path, revision: str) -> Engine:
    engine = make_engine(sqlite_url(path))
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
    return engine


def fill_0007(engine: Engine) -> None:
    """Two guilds' posts with vectors and condition entries; a saved index that knew id 9."""
    with engine.begin() as c:
        for guild in (GUILD, OTHER_GUILD):
            c.exec_driver_sql("INSERT INTO guild (id, created_at) VALUES (?, ?)", (guild, NOW))
        for number in range(1, 6):
            guild = GUILD if number % 2 else OTHER_GUILD
            c.exec_driver_sql(
                f"INSERT INTO post ({POST_COLUMNS}) VALUES "
                "(?, ?, ?, 1, 10, 'message', ?, ?, 'h', 0, 0, 0, 'none', ?)",
                (number, guild, f"m{number}", NOW, f"word{number} about panic attacks", NOW),
            )
            c.exec_driver_sql(
                "INSERT INTO postvector VALUES (?, 'h', 'model', ?)", (number, bytes([number]) * 8)
            )
            c.exec_driver_sql("INSERT INTO postcondition VALUES (?, 'panic', 0.5)", (number,))
        c.exec_driver_sql(
            "INSERT INTO vectorindexstate VALUES (?, 'model', 8, 5, 9, 'flat', ?)", (GUILD, NOW)
        )
        c.exec_driver_sql("DELETE FROM post WHERE id = 5")  # its vector and entry go with it


def rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.exec_driver_sql(sql).all()]


def post_ddl(engine: Engine) -> str:
    return str(rows(engine, "SELECT sql FROM sqlite_master WHERE name = 'post'")[0][0])


def matching(engine: Engine, word: str) -> list[int]:
    found = rows(engine, f"SELECT rowid FROM post_fts WHERE post_fts MATCH '{word}' ORDER BY 1")
    return [int(str(r[0])) for r in found]


def insert_post(engine: Engine, external_id: str) -> int:
    with engine.begin() as c:
        c.exec_driver_sql(
            f"INSERT INTO post ({POST_COLUMNS.removeprefix('id, ')}) VALUES "
            "(?, ?, 1, 10, 'message', ?, 'fresh words', 'h', 0, 0, 0, 'none', ?)",
            (GUILD, external_id, NOW, NOW),
        )
        return int(c.exec_driver_sql("SELECT last_insert_rowid()").scalar_one())


def test_0008_keeps_every_row_and_index_and_never_reuses_an_id(tmp_path: Path) -> None:
    engine = at_revision(tmp_path / "old.db", "0007")
    fill_0007(engine)
    tables = ("post", "postvector", "postcondition")
    before = {t: rows(engine, f"SELECT * FROM {t} ORDER BY 1") for t in tables}
    assert len(before["postvector"]) == 4 and matching(engine, "panic") == [1, 2, 3, 4]

    migrate(engine)

    assert current_revision(engine) == HEAD  # 0008, then every later revision
    assert {t: rows(engine, f"SELECT * FROM {t} ORDER BY 1") for t in tables} == before
    assert rows(engine, "PRAGMA foreign_key_check") == []
    assert "AUTOINCREMENT" in post_ddl(engine)
    assert matching(engine, "panic") == [1, 2, 3, 4] and matching(engine, "word3") == [3]
    # Above every id used that the store knows of: the saved index recorded id 9.
    assert insert_post(engine, "new") == 10
    with engine.begin() as c:  # the triggers and the cascades work on the rebuilt table
        c.exec_driver_sql("UPDATE post SET content = 'changed text' WHERE id = 2")
        c.exec_driver_sql("DELETE FROM post WHERE id IN (1, 10)")
    assert insert_post(engine, "newer") == 11  # the newest id was freed, and not reused
    assert matching(engine, "panic") == [3, 4] and matching(engine, "changed") == [2]
    assert matching(engine, "fresh") == [11]
    assert rows(engine, "SELECT post_id FROM postvector ORDER BY 1") == [(2,), (3,), (4,)]
    assert rows(engine, "SELECT post_id FROM postcondition ORDER BY 1") == [(2,), (3,), (4,)]
    with engine.begin() as c:
        c.exec_driver_sql("INSERT INTO post_fts(post_fts, rank) VALUES ('integrity-check', 1)")
    with engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    fts = "post_fts"  # FTS5's own tables are not in the models
    assert [d for d in diffs if "post" in repr(d) and fts not in repr(d)] == []
    engine.dispose()


def test_0008_downgrades_and_upgrades_again_without_loss(tmp_path: Path) -> None:
    engine = at_revision(tmp_path / "old.db", "0007")
    fill_0007(engine)
    before = rows(engine, "SELECT * FROM postvector ORDER BY 1")
    migrate(engine)
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0007")
    assert "AUTOINCREMENT" not in post_ddl(engine)
    assert rows(engine, "SELECT * FROM postvector ORDER BY 1") == before
    assert matching(engine, "panic") == [1, 2, 3, 4]
    migrate(engine)
    assert rows(engine, "SELECT * FROM postvector ORDER BY 1") == before
    assert insert_post(engine, "new") == 10
    engine.dispose()


def test_a_deleted_posts_id_is_never_given_to_another_guild(service: KnowledgeService) -> None:
    enable_open(service, GUILD, 1)
    enable_open(service, OTHER_GUILD, 2)
    service.ingest([post("a", "first post here"), post("b", "second post here")])
    b = service.store.find_post(GUILD, "b")
    assert b is not None and b.id is not None
    service.delete_messages(GUILD, ["b"])
    service.ingest([post("c", "a post elsewhere", guild=OTHER_GUILD, channel=2)])
    c = service.store.find_post(OTHER_GUILD, "c")
    assert c is not None and c.id is not None and c.id > b.id
    with service.store.engine.connect() as connection:
        seq = connection.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'post'"))
        assert seq.scalar_one() == c.id


def test_0009_adds_escalation_state_matching_the_models_and_downgrades(tmp_path: Path) -> None:
    engine = at_revision(tmp_path / "old.db", "0008")
    with engine.begin() as c:
        c.exec_driver_sql(
            "INSERT INTO guildsafety (guild_id, moderator_channel_id, updated_at) VALUES (?, 9, ?)",
            (GUILD, NOW),
        )
    migrate(engine)
    assert current_revision(engine) == HEAD
    assert rows(engine, "SELECT moderator_channel_id, escalation_channel_id FROM guildsafety") == [
        (9, None)
    ]
    with engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert [d for d in diffs if "safety" in repr(d)] == []
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0008")
    columns = {str(r[1]) for r in rows(engine, "PRAGMA table_info(safetyalert)")}
    assert "escalated_at" not in columns and "claimed_at" in columns
    assert rows(engine, "SELECT moderator_channel_id FROM guildsafety") == [(9,)]
    engine.dispose()
