"""Upkeep of the full-text index (SQLite FTS5, created by migration 0001 and kept by triggers).

These statements are SQLite's; on another database they do nothing (its full text lives in its
own index, kept by the database itself).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine


def _is_sqlite(engine: Engine) -> bool:
    return engine.url.get_backend_name() == "sqlite"


def rebuild(engine: Engine) -> None:
    """Rebuild the text index from the `post` table."""
    if _is_sqlite(engine):
        with engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO post_fts(post_fts) VALUES ('rebuild')")


def optimize(engine: Engine) -> None:
    """Merge the index's segments, so terms of deleted posts leave it."""
    if _is_sqlite(engine):
        with engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO post_fts(post_fts) VALUES ('optimize')")


def integrity_ok(engine: Engine) -> bool:
    """FTS5's own check of the text index against the posts table."""
    if not _is_sqlite(engine):
        return True
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO post_fts(post_fts, rank) VALUES ('integrity-check', 1)"
            )
    except sa.exc.DatabaseError:
        return False
    return True
