"""The one way Kindred erases data: a target, the table registry, one transaction, then the files.

Every removal goes through `erase`: a message deleted on Discord or by its author, a thread, a
channel disabled or deleted, the bot removed from a server, a member's delete or exclusion, and
retention. What a target removes is decided by the registry in `knowledge.privacy.tables`, never
by a list kept here:

1. In one write transaction (`Store.write`, under the single writer lock): the matching posts are
   found, tombstoned if the target asks (message ids only), their child rows (vectors, condition
   entries) deleted, then the posts; then every registered table's rows whose guild, place,
   member or message columns match the target (dependent tables first); for a member's delete
   their name is nulled in every actor column, and what may outlive the delete (a refusal, see
   `tables.refusal_only`) is written back. Rows that only quote or credit the member or message
   (`TableSpec.scrub`, a curated entry) stay with those columns nulled.
2. After the commit, still under the lock: the posts leave the in-memory catalog, condition
   vectors and faiss index (`Store.forget_posts`); when the whole guild goes, its index files and
   in-memory state are dropped (`Store.drop_index`).
3. When asked (`scrub_files`), the deleted bytes are made unrecoverable (`scrub`): the guild's
   faiss files are rewritten at once, FTS5 segments merged (`optimize`, so deleted tokens leave
   the text index), optionally VACUUM, and the WAL folded and truncated. SQLite runs with
   `secure_delete=ON`, so freed pages are zeroed in the database file itself. Deletes that Discord
   made (a message or thread deleted there) skip this step; the periodic maintenance pass
   (`PrivacyManager.compact`) scrubs them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import Session

from knowledge.privacy.tables import REGISTRY, TableSpec, erase_order, post_child_specs
from knowledge.store.models import Post, PostTombstone, utcnow
from knowledge.store.store import Store
from knowledge.store.upsert import insert_ignore

log = logging.getLogger(__name__)

_CHUNK = 500
_T = TypeVar("_T")


@dataclass(frozen=True)
class GuildTarget:
    """Everything about a guild (the bot was removed from it)."""

    guild_id: int


@dataclass(frozen=True)
class ChannelTarget:
    """A channel with its threads, or one thread: every row naming it in a place column.

    For a channel: its posts and its threads' posts (stored under the channel), its row and its
    threads' rows, their backfill checkpoints and safety alerts. For a thread: the same for that
    thread alone. Discord ids are unique across channels and threads, so one id suffices.
    """

    guild_id: int
    channel_id: int


@dataclass(frozen=True)
class MessagesTarget:
    """Given messages (Discord ids). `tombstone` (a reason) means the author asked: their ids are
    tombstoned and records about them that go only at the author's request (alerts) go too."""

    guild_id: int
    external_ids: tuple[str, ...]
    tombstone: str | None = None


@dataclass(frozen=True)
class MemberTarget:
    """A member's data in a guild. A delete removes every row about them and nulls their name as
    an actor; an `exclusion` removes only what they wrote or are called (`content` tables) and
    keeps their choices. The removed posts' ids are tombstoned with `tombstone` as the reason."""

    guild_id: int
    member_id: int
    tombstone: str
    exclusion: bool = False


@dataclass(frozen=True)
class OlderThanTarget:
    """Posts created before `cutoff` (retention)."""

    guild_id: int
    cutoff: datetime


EraseTarget = GuildTarget | ChannelTarget | MessagesTarget | MemberTarget | OlderThanTarget


@dataclass
class EraseReport:
    """What an erase removed (counts only) and whether the scrub steps completed."""

    posts: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    nulled: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)
    tombstones: int = 0
    wal_truncated: bool = False
    vacuumed: bool = False


DeleteReport = EraseReport  # the name the privacy commands have always returned


def erase(
    store: Store, target: EraseTarget, *, scrub_files: bool = True, vacuum: bool = False
) -> EraseReport:
    """Remove what `target` names from SQL, the derived indexes and (with `scrub_files`) the
    files; see the module docstring for the steps."""
    report = EraseReport()
    guild_id = target.guild_id
    with store.lock:
        with store.write() as session:
            post_ids = _erase_posts(session, target, report)
            _erase_rows(session, target, report)
        if isinstance(target, GuildTarget):
            store.drop_index(guild_id)  # other processes notice the guild is gone (`follow`)
        else:
            store.forget_posts(guild_id, post_ids)
    if scrub_files:
        rewrite = [guild_id] if post_ids and not isinstance(target, GuildTarget) else []
        report.wal_truncated, report.vacuumed = scrub(store, rewrite, vacuum=vacuum)
    log.info(
        "guild %s: erased %s: %d posts, rows %s, nulled %s, kept %s, %d tombstones",
        guild_id,
        type(target).__name__,
        report.posts,
        {k: v for k, v in report.rows.items() if v},
        {k: v for k, v in report.nulled.items() if v},
        report.kept,
        report.tombstones,
    )
    return report


def scrub(store: Store, guild_ids: Sequence[int], *, vacuum: bool = False) -> tuple[bool, bool]:
    """Make deleted bytes unrecoverable; returns (WAL truncated, vacuumed).

    Rewrites the faiss files of `guild_ids` now (not at the next flush), merges the FTS5
    segments, optionally VACUUMs, then truncates the WAL. On PostgreSQL (no WAL or FTS5 of
    Kindred's own) a plain VACUUM clears the deleted rows' dead versions: (True, True) once it ran.
    """
    with store.lock:
        store.rewrite_indexes(guild_ids)
        if not store.is_sqlite:
            done = store.vacuum()
            return done, done
        store.optimize_text_index()
        vacuumed = store.vacuum() if vacuum else False
        truncated = store.truncate_wal()
    return truncated, vacuumed


# -- inside the transaction ------------------------------------------------------------------------


def _post_spec() -> TableSpec:
    return next(spec for spec in REGISTRY if spec.model is Post)


def _erase_posts(session: Session, target: EraseTarget, report: EraseReport) -> list[int]:
    """Delete the target's posts with their child rows; tombstone them if asked."""
    spec = _post_spec()
    table = spec.table
    found: dict[int, str] = {}
    for condition in _post_conditions(spec, target):
        rows = session.execute(sa.select(table.c.id, table.c.external_id).where(condition))
        found.update((int(row[0]), str(row[1])) for row in rows)
    reason = target.tombstone if isinstance(target, MessagesTarget | MemberTarget) else None
    if reason is not None:
        for external_id in sorted(set(found.values())):
            values = {
                "guild_id": target.guild_id,
                "external_id": external_id,
                "reason": reason,
                "created_at": utcnow(),
            }
            report.tombstones += insert_ignore(
                session, PostTombstone, values, ["guild_id", "external_id"]
            )
    ids = sorted(found)
    for chunk in _chunks(ids):
        for child in post_child_specs():
            assert child.post is not None
            session.execute(sa.delete(child.table).where(child.table.c[child.post].in_(chunk)))
        session.execute(sa.delete(table).where(table.c.id.in_(chunk)))
    report.posts = len(ids)
    return ids


def _post_conditions(spec: TableSpec, target: EraseTarget) -> list[sa.ColumnElement[bool]]:
    if isinstance(target, OlderThanTarget):
        table = spec.table
        assert spec.guild is not None
        # Curated posts (`kb:<id>`) hold the moderators' words, not a member's: no retention.
        old = (table.c[spec.guild] == target.guild_id) & (table.c.created_at < target.cutoff)
        return [old & table.c.curated.is_(False)]
    return _row_conditions(spec, target)


def _erase_rows(session: Session, target: EraseTarget, report: EraseReport) -> None:
    """Every registered table but posts and their children: delete what matches the target."""
    post_name = _post_spec().name
    for spec in erase_order():
        if spec.name == post_name or spec.post is not None:
            continue
        conditions = _row_conditions(spec, target)
        if not conditions:
            continue
        survivors = _survivors(session, spec, target, conditions)
        removed = 0
        for condition in conditions:
            result = session.execute(sa.delete(spec.table).where(condition))
            removed += int(getattr(result, "rowcount", 0) or 0)
        report.rows[spec.name] = report.rows.get(spec.name, 0) + removed
        for values in survivors:
            session.execute(sa.insert(spec.table).values(**values))
        if survivors:
            report.kept[spec.name] = len(survivors)
    _scrub_rows(session, target, report)
    if isinstance(target, MemberTarget) and not target.exclusion:
        _null_actor(session, target, report)


def _scrub_rows(session: Session, target: EraseTarget, report: EraseReport) -> None:
    """Null what rows keep of an erased member or message (`TableSpec.scrub`); rows stay."""
    for spec in erase_order():
        for scrub in spec.scrub:
            assert spec.guild is not None
            table = spec.table
            in_guild = table.c[spec.guild] == target.guild_id
            if isinstance(target, MemberTarget) and scrub.names == "member":
                where = [in_guild & (table.c[scrub.column] == target.member_id)]
            elif isinstance(target, MessagesTarget) and scrub.names == "message":
                ids = sorted(set(target.external_ids))
                where = [in_guild & table.c[scrub.column].in_(chunk) for chunk in _chunks(ids)]
            else:
                continue
            nulled: dict[str, object] = {name: None for name in (scrub.column, *scrub.also)}
            nulled.update(scrub.reset)
            for condition in where:
                result = session.execute(sa.update(table).where(condition).values(nulled))
                key = f"{spec.name}.{scrub.column}"
                report.nulled[key] = report.nulled.get(key, 0) + int(
                    getattr(result, "rowcount", 0) or 0
                )


def _row_conditions(spec: TableSpec, target: EraseTarget) -> list[sa.ColumnElement[bool]]:
    """Where-clauses selecting the rows of `spec` that `target` names (empty: none)."""
    if spec.guild is None:
        return []  # post children go with their posts; global tables belong to no guild
    table = spec.table
    in_guild = table.c[spec.guild] == target.guild_id
    if isinstance(target, GuildTarget):
        return [in_guild]
    if isinstance(target, ChannelTarget):
        return _any_equal(table, in_guild, spec.places, target.channel_id)
    if isinstance(target, MemberTarget):
        if target.exclusion and not spec.content:
            return []
        return _any_equal(table, in_guild, spec.members, target.member_id)
    if isinstance(target, MessagesTarget):
        columns = spec.messages + (spec.authored_messages if target.tombstone else ())
        if not columns:
            return []
        ids = sorted(set(target.external_ids))
        return [
            in_guild & sa.or_(*(table.c[name].in_(chunk) for name in columns))
            for chunk in _chunks(ids)
        ]
    return []  # OlderThanTarget: posts only


def _any_equal(
    table: sa.Table, in_guild: sa.ColumnElement[bool], columns: Sequence[str], value: int
) -> list[sa.ColumnElement[bool]]:
    if not columns:
        return []
    return [in_guild & sa.or_(*(table.c[name] == value for name in columns))]


def _survivors(
    session: Session,
    spec: TableSpec,
    target: EraseTarget,
    conditions: list[sa.ColumnElement[bool]],
) -> list[dict[str, object]]:
    """Rows that outlive a member's delete (a refusal), computed before the rows go."""
    if spec.survivor is None or not isinstance(target, MemberTarget) or target.exclusion:
        return []
    kept: list[dict[str, object]] = []
    for condition in conditions:
        for row in session.execute(sa.select(spec.table).where(condition)):
            values = spec.survivor({str(k): v for k, v in row._mapping.items()})
            if values is not None:
                kept.append(values)
    return kept


def _null_actor(session: Session, target: MemberTarget, report: EraseReport) -> None:
    """Remove the member's name from records of changes they made (the rows stay)."""
    for spec in erase_order():
        if spec.guild is None:
            continue
        table = spec.table
        for column in spec.actors:
            result = session.execute(
                sa.update(table)
                .where(table.c[spec.guild] == target.guild_id, table.c[column] == target.member_id)
                .values({column: None})
            )
            report.nulled[f"{spec.name}.{column}"] = int(getattr(result, "rowcount", 0) or 0)


def _chunks(items: Sequence[_T]) -> list[list[_T]]:
    return [list(items[start : start + _CHUNK]) for start in range(0, len(items), _CHUNK)]
