"""What Kindred holds about one member: a short summary and a complete, table-driven export.

The export reads the member part of the registry (`knowledge.privacy.tables`): every table with a
member column, the child rows of their posts, and counts of the actor columns naming them.
Tombstones name no member (message ids only), so they belong to nobody's export. Of a post's
condition entries only tags are exported (weight > 0); weak ranking evidence is never shown.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from knowledge.privacy.state import ConsentState
from knowledge.privacy.tables import (
    actor_columns,
    member_columns,
    member_specs,
    post_child_specs,
)
from knowledge.store.condition_vectors import CARER_PREFIX
from knowledge.store.models import (
    ConsentEvent,
    Introduction,
    MemberProfile,
    Post,
    PostCondition,
    ProfileCondition,
    utcnow,
)
from knowledge.store.store import Store

EXPORT_FORMAT = "kindred-member-export/2"
_POST = Post.__table__  # type: ignore[attr-defined]
_CONDITION = PostCondition.__table__  # type: ignore[attr-defined]
_CHUNK = 500


@dataclass(frozen=True)
class PrivacySummary:
    """Counts and states for the /privacy view; `profile` None = no profile is kept."""

    guild_id: int
    member_id: int
    posts: int
    posts_by_channel: dict[int, int]
    consent: ConsentState
    consent_changes: int
    retention_days: int | None
    profile: dict[str, Any] | None = None
    pending_introductions: int = 0
    notes: list[str] = field(default_factory=list)
    condition_tags: dict[str, int] = field(default_factory=dict)
    """Condition tags of the member's posts (strong evidence only, e.g. "Long COVID" or
    "caring for: ADHD") -> number of posts; weak ranking evidence is never listed."""


def shown_rows(table: sa.Table) -> tuple[sa.ColumnElement[bool], ...]:
    """Rows of `table` a member may see: for `postcondition` only tags (weight > 0, see
    `knowledge.store.condition_vectors`); weak or negative ranking evidence is never shown."""
    if table.name == _CONDITION.name:
        return (table.c.weight > 0,)
    return ()


def tag_label(store: Store, condition_id: str) -> str:
    """A tag's name ("Long COVID"; "caring for: ADHD" for a carer tag; the id if the
    vocabulary no longer has it)."""
    carer = condition_id.startswith(CARER_PREFIX)
    plain = condition_id.removeprefix(CARER_PREFIX)
    try:
        name = store.tagger.name(plain)
    except KeyError:
        name = plain
    return f"caring for: {name}" if carer else name


def _count(session: sa.Connection, table: sa.Table, *conditions: sa.ColumnElement[bool]) -> int:
    query = sa.select(sa.func.count()).select_from(table).where(*conditions)
    return int(session.execute(query).scalar_one())


def summarize_member(
    store: Store,
    guild_id: int,
    member_id: int,
    consent: ConsentState,
    retention_days: int | None,
) -> PrivacySummary:
    by_channel = (
        sa.select(_POST.c.channel_id, sa.func.count())
        .where(_POST.c.guild_id == guild_id, _POST.c.author_id == member_id)
        .group_by(_POST.c.channel_id)
    )
    events = ConsentEvent.__table__  # type: ignore[attr-defined]
    tags = (
        sa.select(_CONDITION.c.condition_id, sa.func.count())
        .select_from(_CONDITION.join(_POST, _POST.c.id == _CONDITION.c.post_id))
        .where(_POST.c.guild_id == guild_id, _POST.c.author_id == member_id)
        .where(*shown_rows(_CONDITION))
        .group_by(_CONDITION.c.condition_id)
    )
    with store.engine.connect() as connection:
        counts = {int(c): int(n) for c, n in connection.execute(by_channel).all()}
        tag_counts = [(str(c), int(n)) for c, n in connection.execute(tags).all()]
        changes = _count(
            connection, events, events.c.guild_id == guild_id, events.c.user_id == member_id
        )
        profile, pending = _profile_summary(connection, guild_id, member_id)
    return PrivacySummary(
        guild_id=guild_id,
        member_id=member_id,
        posts=sum(counts.values()),
        posts_by_channel=counts,
        consent=consent,
        consent_changes=changes,
        retention_days=retention_days,
        profile=profile,
        pending_introductions=pending,
        notes=[
            "A profile is kept (see /profile view)." if profile else "No profile is kept.",
            f"{pending} introduction(s) pending." if pending else "No introductions are pending.",
        ],
        condition_tags={
            tag_label(store, c): n for c, n in sorted(tag_counts, key=lambda t: (-t[1], t[0]))
        },
    )


def _profile_summary(
    connection: sa.Connection, guild_id: int, member_id: int
) -> tuple[dict[str, Any] | None, int]:
    """The member's profile in counts (None: none kept) and their pending introductions."""
    profiles = MemberProfile.__table__  # type: ignore[attr-defined]
    declared = ProfileCondition.__table__  # type: ignore[attr-defined]
    intros = Introduction.__table__  # type: ignore[attr-defined]
    row = connection.execute(
        sa.select(profiles).where(profiles.c.guild_id == guild_id, profiles.c.user_id == member_id)
    ).first()
    conditions = _count(
        connection, declared, declared.c.guild_id == guild_id, declared.c.user_id == member_id
    )
    pending = _count(
        connection,
        intros,
        intros.c.guild_id == guild_id,
        intros.c.status == "pending",
        sa.or_(intros.c.requester_id == member_id, intros.c.target_id == member_id),
    )
    if row is None and not conditions:
        return None, pending
    profile = {
        "conditions": conditions,
        "helper": bool(row and row.helper),
        "sample_post": bool(row and row.sample_post_id is not None),
    }
    return profile, pending


def json_value(value: object) -> object:
    """A column value as JSON: datetimes in ISO 8601, bytes in base64."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _rows(connection: sa.Connection, query: sa.Select[Any]) -> list[dict[str, object]]:
    return [
        {key: json_value(value) for key, value in row._mapping.items()}
        for row in connection.execute(query).all()
    ]


def export_member(store: Store, guild_id: int, member_id: int) -> dict[str, Any]:
    """Every row about the member in this guild, by table; other members' rows never appear."""
    tables: dict[str, list[dict[str, object]]] = {}
    actions: dict[str, int] = {}
    with store.engine.connect() as connection:
        for spec in member_specs():
            table = spec.table
            assert spec.guild is not None
            where = (
                table.c[spec.guild] == guild_id,
                sa.or_(*(table.c[column] == member_id for column in member_columns(spec))),
            )
            query = sa.select(table).where(*where).order_by(*table.primary_key.columns)
            rows = _rows(connection, query)
            if spec.export_view is not None:  # another member who must stay anonymous
                rows = [spec.export_view(row, member_id) for row in rows]
            tables[spec.name] = rows
        post_ids = [int(str(row["id"])) for row in tables.get(_POST.name, [])]
        for child in post_child_specs():
            table = child.table
            assert child.post is not None
            found: list[dict[str, object]] = []
            for start in range(0, len(post_ids), _CHUNK):
                chunk = post_ids[start : start + _CHUNK]
                query = sa.select(table).where(table.c[child.post].in_(chunk), *shown_rows(table))
                found.extend(_rows(connection, query.order_by(*table.primary_key.columns)))
            tables[child.name] = found
        for spec, column in actor_columns():
            table = spec.table
            assert spec.guild is not None
            actions[f"{spec.name}.{column}"] = _count(
                connection, table, table.c[spec.guild] == guild_id, table.c[column] == member_id
            )
    return {
        "format": EXPORT_FORMAT,
        "guild_id": guild_id,
        "member_id": member_id,
        "exported_at": utcnow().isoformat(),
        "tables": tables,
        "actions_recorded": actions,
        "notes": {
            "postvector.vector": "the post's embedding: float32 values, little-endian, base64",
            "postcondition": (
                "condition tags of your posts: conditions a post clearly names as your own, or "
                "'carer:<id>' for caring for someone with it; weaker hints Kindred uses only to "
                "rank search results are never shown and are not tags"
            ),
            "actions_recorded": "rows naming this member as the one who made a change",
            "anonymous members": (
                "introductions name the other member only once both of you agreed; match "
                "cards and your block list never name the other member"
            ),
            "tombstones": (
                "ids of messages deleted at a member's request are kept so they are never "
                "indexed again; they name no member, so they are in no member's export"
            ),
        },
    }
