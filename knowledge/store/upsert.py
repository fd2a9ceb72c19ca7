"""Insert-or-ignore and upsert in the dialect of the session's database (SQLite or PostgreSQL).

Both dialects spell "on conflict" the same way in SQLAlchemy, but each has its own `insert`
construct; this is the one place that picks it, so no other module imports a dialect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import SQLModel


def _table(model: type[SQLModel] | sa.Table) -> sa.Table:
    if isinstance(model, sa.Table):
        return model
    return model.__table__  # type: ignore[attr-defined,no-any-return]


def _insert(session: Session, table: sa.Table) -> sqlite.Insert | postgresql.Insert:
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return sqlite.insert(table)
    if dialect == "postgresql":
        return postgresql.insert(table)
    raise NotImplementedError(f"no upsert for the {dialect} dialect")


def insert_ignore(
    session: Session,
    model: type[SQLModel] | sa.Table,
    values: Mapping[str, Any],
    keys: Sequence[str],
) -> int:
    """Insert a row unless one with the same `keys` exists; returns 1 if inserted, else 0."""
    table = _table(model)
    stmt = (
        _insert(session, table).values(**values).on_conflict_do_nothing(index_elements=list(keys))
    )
    # RETURNING, not rowcount: a driver may report -1 for an INSERT ... ON CONFLICT.
    return len(session.execute(stmt.returning(*(table.c[key] for key in keys))).all())


def upsert(
    session: Session,
    model: type[SQLModel] | sa.Table,
    values: Mapping[str, Any],
    keys: Sequence[str],
    update: Mapping[str, Any],
) -> None:
    """Insert a row, or update `update` on the row with the same `keys`."""
    stmt = _insert(session, _table(model)).values(**values)
    session.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=dict(update)))
