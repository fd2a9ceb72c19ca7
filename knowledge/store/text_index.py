"""The full-text index: ranked matches, and its upkeep.

SQLite: FTS5, created by migration 0001 and kept by triggers; rebuild, optimize and integrity
check are FTS5 commands. PostgreSQL: a GIN index over `to_tsvector` that the database keeps
itself, so the upkeep calls do nothing there.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from knowledge.store.migrations.fts import PG_TS_CONFIG
from knowledge.store.models import Post


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


def ranked_matches(
    connection: sa.Connection,
    terms: list[str],
    conditions: list[sa.ColumnElement[bool]],
    k: int,
) -> list[tuple[int, float]]:
    """Up to `k` (post id, score) pairs whose text matches any of `terms`, best first.

    `terms` are plain words (`knowledge.search.fts_query.query_terms`: letters and digits only),
    never a member's raw syntax. SQLite: FTS5 MATCH over quoted terms, score = -bm25. PostgreSQL:
    `websearch_to_tsquery` over the terms joined by `or`, score = `ts_rank_cd` (GIN index).
    """
    if not terms:
        return []
    post = Post.__table__  # type: ignore[attr-defined]
    if connection.dialect.name == "postgresql":
        config: sa.ColumnElement[str] = sa.literal_column(f"'{PG_TS_CONFIG}'::regconfig")
        query = sa.func.websearch_to_tsquery(config, sa.literal(" or ".join(terms)))
        document = sa.func.to_tsvector(config, post.c.content)
        score = sa.func.ts_rank_cd(document, query)
        stmt = (
            sa.select(post.c.id, score)
            .where(document.op("@@")(query), *conditions)
            .order_by(score.desc(), post.c.id)
            .limit(k)
        )
        return [(int(r[0]), float(r[1])) for r in connection.execute(stmt).all()]
    fts = sa.table("post_fts", sa.column("rowid"))
    rank = sa.func.bm25(sa.literal_column("post_fts"))
    match = " OR ".join(fts5_quote(t) for t in terms)
    stmt = (
        sa.select(post.c.id, rank)
        .select_from(fts.join(post, post.c.id == fts.c.rowid))
        .where(sa.literal_column("post_fts").op("MATCH")(match), *conditions)
        .order_by(rank)
        .limit(k)
    )
    return [(int(r[0]), -float(r[1])) for r in connection.execute(stmt).all()]


def fts5_quote(term: str) -> str:
    """An FTS5 string literal: the term in double quotes, inner quotes doubled."""
    return '"' + term.replace('"', '""') + '"'
