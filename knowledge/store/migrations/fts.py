"""DDL of the full-text index over posts: SQLite FTS5 kept in step by triggers, or on PostgreSQL
a GIN index over `to_tsvector('english', content)` that the database keeps itself."""

from __future__ import annotations

import sqlalchemy as sa

FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"

_SQLITE_CREATE = [
    f"""CREATE VIRTUAL TABLE post_fts USING fts5(
        content, content='post', content_rowid='id', tokenize='{FTS_TOKENIZER}')""",
    "CREATE VIRTUAL TABLE post_fts_vocab USING fts5vocab(post_fts, 'row')",
    """CREATE TRIGGER post_fts_insert AFTER INSERT ON post BEGIN
        INSERT INTO post_fts(rowid, content) VALUES (new.id, new.content);
    END""",
    """CREATE TRIGGER post_fts_delete AFTER DELETE ON post BEGIN
        INSERT INTO post_fts(post_fts, rowid, content) VALUES ('delete', old.id, old.content);
    END""",
    """CREATE TRIGGER post_fts_update AFTER UPDATE OF content ON post BEGIN
        INSERT INTO post_fts(post_fts, rowid, content) VALUES ('delete', old.id, old.content);
        INSERT INTO post_fts(rowid, content) VALUES (new.id, new.content);
    END""",
]

_SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS post_fts_update",
    "DROP TRIGGER IF EXISTS post_fts_delete",
    "DROP TRIGGER IF EXISTS post_fts_insert",
    "DROP TABLE IF EXISTS post_fts_vocab",
    "DROP TABLE IF EXISTS post_fts",
]


# The text search configuration; queries use the same expression, so the GIN index serves them.
PG_TS_CONFIG = "english"
PG_DOCUMENT = f"to_tsvector('{PG_TS_CONFIG}'::regconfig, content)"
_PG_CREATE = [f"CREATE INDEX IF NOT EXISTS ix_post_fts ON post USING GIN ({PG_DOCUMENT})"]
_PG_DROP = ["DROP INDEX IF EXISTS ix_post_fts"]


def _statements(bind: sa.Connection, sqlite: list[str], postgresql: list[str]) -> list[str]:
    if bind.dialect.name == "sqlite":
        return sqlite
    if bind.dialect.name == "postgresql":
        return postgresql
    raise NotImplementedError(f"full-text search is not implemented for {bind.dialect.name}")


def create_post_fts(bind: sa.Connection) -> None:
    for statement in _statements(bind, _SQLITE_CREATE, _PG_CREATE):
        bind.exec_driver_sql(statement)


def drop_post_fts(bind: sa.Connection) -> None:
    for statement in _statements(bind, _SQLITE_DROP, _PG_DROP):
        bind.exec_driver_sql(statement)
