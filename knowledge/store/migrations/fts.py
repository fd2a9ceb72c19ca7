"""DDL of the full-text index over posts: SQLite FTS5 kept in step by triggers."""

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


def create_post_fts(bind: sa.Connection) -> None:
    if bind.dialect.name != "sqlite":
        raise NotImplementedError("full-text search is implemented for SQLite only")
    for statement in _SQLITE_CREATE:
        bind.exec_driver_sql(statement)


def drop_post_fts(bind: sa.Connection) -> None:
    for statement in _SQLITE_DROP:
        bind.exec_driver_sql(statement)
