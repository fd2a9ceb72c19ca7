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
    *,
    budget: int | None = None,
) -> list[tuple[int, float]]:
    """Up to `k` (post id, score) pairs whose text matches any of `terms`, best first.

    `terms` are plain words (`knowledge.search.fts_query.query_terms`: letters and digits only),
    never a member's raw syntax. SQLite: FTS5 MATCH over quoted terms, score = -bm25. PostgreSQL:
    `websearch_to_tsquery` over the terms joined by `or`, score = `ts_rank_cd` (GIN index).

    Ranking costs time for every matching post, so with a `budget` at most about that many are
    ranked (`bounded_terms`): the commonest terms are left out when together they match more.
    """
    require_all = False
    if budget is not None:
        terms, require_all = bounded_terms(connection, terms, budget)
    if not terms:
        return []
    post = Post.__table__  # type: ignore[attr-defined]
    if connection.dialect.name == "postgresql":
        query = _pg_query(terms, require_all)
        document = sa.func.to_tsvector(_pg_config(), post.c.content)
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
    stmt = (
        sa.select(post.c.id, rank)
        .select_from(fts.join(post, post.c.id == fts.c.rowid))
        .where(_fts5_match(terms, require_all), *conditions)
        .order_by(rank)
        .limit(k)
    )
    return [(int(r[0]), -float(r[1])) for r in connection.execute(stmt).all()]


def bounded_terms(
    connection: sa.Connection, terms: list[str], budget: int
) -> tuple[list[str], bool]:
    """The terms to rank by so that at most about `budget` posts match, and whether all of them
    must match.

    Each term's matches are counted up to `budget` + 1 (a bounded scan of its posting list). The
    rarest terms are kept while their counts add up to at most `budget`; the commoner ones carry
    little weight in BM25 and are left to the dense half of the search. When even the rarest
    term matches more, posts matching every term are ranked if they fit the budget; otherwise
    none. Below `budget` posts in the whole index nothing is counted and every term is kept.
    """
    if not terms or _post_id_bound(connection) <= budget:
        return terms, False
    counts = {term: match_count(connection, [term], budget) for term in terms}
    chosen: list[str] = []
    total = 0
    for term in sorted(terms, key=lambda t: counts[t]):
        if total + counts[term] > budget:
            break
        chosen.append(term)
        total += counts[term]
    if chosen:
        return [t for t in terms if t in chosen], False
    if len(terms) > 1 and match_count(connection, terms, budget, require_all=True) <= budget:
        return terms, True
    return [], False


def match_count(
    connection: sa.Connection, terms: list[str], cap: int, *, require_all: bool = False
) -> int:
    """How many posts match any (or all) of `terms`, counted up to `cap` + 1."""
    post = Post.__table__  # type: ignore[attr-defined]
    if connection.dialect.name == "postgresql":
        document = sa.func.to_tsvector(_pg_config(), post.c.content)
        matching = sa.select(post.c.id).where(document.op("@@")(_pg_query(terms, require_all)))
    else:
        fts = sa.table("post_fts", sa.column("rowid"))
        matching = sa.select(fts.c.rowid).where(_fts5_match(terms, require_all))
    inner = matching.limit(cap + 1).subquery()
    return int(connection.execute(sa.select(sa.func.count()).select_from(inner)).scalar_one())


def _post_id_bound(connection: sa.Connection) -> int:
    """An upper bound of the number of posts (ids are never reused), from the primary key."""
    post = Post.__table__  # type: ignore[attr-defined]
    return int(connection.execute(sa.select(sa.func.max(post.c.id))).scalar() or 0)


def _fts5_match(terms: list[str], require_all: bool) -> sa.ColumnElement[bool]:
    joined = (" AND " if require_all else " OR ").join(fts5_quote(t) for t in terms)
    return sa.literal_column("post_fts").op("MATCH")(joined)


def _pg_config() -> sa.ColumnElement[str]:
    return sa.literal_column(f"'{PG_TS_CONFIG}'::regconfig")


def _pg_query(terms: list[str], require_all: bool) -> sa.ColumnElement[object]:
    text = (" " if require_all else " or ").join(terms)
    return sa.func.websearch_to_tsquery(_pg_config(), sa.literal(text))


def fts5_quote(term: str) -> str:
    """An FTS5 string literal: the term in double quotes, inner quotes doubled."""
    return '"' + term.replace('"', '""') + '"'
