"""post ids are never reused: AUTOINCREMENT on post.id (SQLite)

Without AUTOINCREMENT, SQLite gives a new row the largest id in use + 1, so deleting the newest post
frees its id for the next insert in any guild; a vector or catalog row left behind under that id
(a saved index, a race) would then name another guild's post. With AUTOINCREMENT an id is used
once. PostgreSQL's `post.id` is a sequence, which never reuses ids: nothing to do there.

SQLite cannot add AUTOINCREMENT in place, so `post` is rebuilt (ids kept). Two things a plain
batch rebuild would break are handled here:

- dropping the old table runs an implicit `DELETE FROM post`, which (foreign keys are on, and a
  pragma cannot turn them off inside the migration's transaction) cascades to `postvector` and
  `postcondition`: their rows are kept aside and put back;
- the FTS5 triggers live on `post` and go with it: they are dropped first and made again (the
  full-text index itself is keyed by the unchanged ids and stays as it is).

The sequence starts above every id the store has used that it still knows of: the largest post id
and the largest id recorded in any saved vector index.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHILDREN = ("postvector", "postcondition")  # tables with a foreign key to post.id

# The FTS5 triggers as migration 0001 made them (knowledge.store.migrations.fts), frozen here.
TRIGGERS = (
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
)
TRIGGER_NAMES = ("post_fts_insert", "post_fts_delete", "post_fts_update")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    highest = _highest_id_used(bind)
    _rebuild_post(bind, autoincrement=True)
    seq = bind.exec_driver_sql("SELECT seq FROM sqlite_sequence WHERE name = 'post'").scalar()
    if seq is None:
        bind.exec_driver_sql(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('post', ?)", (highest,)
        )
    elif int(seq) < highest:
        bind.exec_driver_sql("UPDATE sqlite_sequence SET seq = ? WHERE name = 'post'", (highest,))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    _rebuild_post(bind, autoincrement=False)


def _highest_id_used(bind: sa.Connection) -> int:
    posts = bind.exec_driver_sql("SELECT max(id) FROM post").scalar()
    indexes = bind.exec_driver_sql("SELECT max(max_post_id) FROM vectorindexstate").scalar()
    return max(int(posts or 0), int(indexes or 0))


def _rebuild_post(bind: sa.Connection, *, autoincrement: bool) -> None:
    for name in TRIGGER_NAMES:
        bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    for child in CHILDREN:
        bind.exec_driver_sql(f"CREATE TEMP TABLE kept_{child} AS SELECT * FROM {child}")
    with op.batch_alter_table(
        "post", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass
    for child in CHILDREN:
        bind.exec_driver_sql(f"DELETE FROM {child}")  # what the cascade left, if it was off
        bind.exec_driver_sql(f"INSERT INTO {child} SELECT * FROM temp.kept_{child}")
        bind.exec_driver_sql(f"DROP TABLE temp.kept_{child}")
    for statement in TRIGGERS:
        bind.exec_driver_sql(statement)
