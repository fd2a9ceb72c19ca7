"""Which tables hold data about a member: one list each, read by export and delete alike.

A new table with a member column is added here once; `test_privacy_export` fails until it is
(every column named like a member id must be covered by one of these lists).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import SQLModel

from knowledge.store.models import (
    Channel,
    ConsentEvent,
    GuildPrivacy,
    GuildSafety,
    Member,
    MemberConsent,
    MemberNotice,
    Post,
    PostCondition,
    PostTombstone,
    PostVector,
    SafetyAlert,
)

# Column names that identify the member a row is about, and the actor of an action.
MEMBER_COLUMN_NAMES = frozenset({"user_id", "author_id", "member_id"})
ACTOR_SUFFIX = "_by"


@dataclass(frozen=True)
class _ModelRef:
    """A table given by its SQLModel class."""

    model: type[SQLModel]

    @property
    def table(self) -> sa.Table:
        return self.model.__table__  # type: ignore[attr-defined,no-any-return]

    @property
    def name(self) -> str:
        return str(self.table.name)


@dataclass(frozen=True)
class MemberTable(_ModelRef):
    """Rows of `model` about a member: `guild_column` = guild and `member_column` = member.

    `on_delete`: "delete" removes the rows when the member asks; "keep" keeps them (tombstones,
    which hold ids only and exist so deleted messages are never indexed again).
    `export`: "rows" exports every column; "count" only how many rows there are.
    """

    guild_column: str
    member_column: str
    on_delete: str = "delete"
    export: str = "rows"


@dataclass(frozen=True)
class PostChildTable(_ModelRef):
    """Rows of `model` that belong to a post through `post_column` (removed with the post)."""

    post_column: str


@dataclass(frozen=True)
class ActorColumn(_ModelRef):
    """A column recording which member performed an action (nulled when that member is deleted)."""

    guild_column: str
    column: str

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column}"


MEMBER_TABLES: tuple[MemberTable, ...] = (
    MemberTable(Member, "guild_id", "user_id"),
    MemberTable(Post, "guild_id", "author_id"),
    MemberTable(MemberConsent, "guild_id", "user_id"),
    MemberTable(ConsentEvent, "guild_id", "user_id"),
    MemberTable(PostTombstone, "guild_id", "author_id", on_delete="keep", export="count"),
    MemberTable(SafetyAlert, "guild_id", "author_id"),
    MemberTable(MemberNotice, "guild_id", "user_id"),
)

POST_CHILD_TABLES: tuple[PostChildTable, ...] = (
    PostChildTable(PostVector, "post_id"),
    PostChildTable(PostCondition, "post_id"),
)

ACTOR_COLUMNS: tuple[ActorColumn, ...] = (
    ActorColumn(Channel, "guild_id", "enabled_by"),
    ActorColumn(MemberConsent, "guild_id", "updated_by"),
    ActorColumn(ConsentEvent, "guild_id", "changed_by"),
    ActorColumn(GuildPrivacy, "guild_id", "mode_changed_by"),
    ActorColumn(GuildPrivacy, "guild_id", "retention_changed_by"),
    ActorColumn(GuildSafety, "guild_id", "updated_by"),
    ActorColumn(SafetyAlert, "guild_id", "reported_by"),
    ActorColumn(SafetyAlert, "guild_id", "claimed_by"),
)


def uncovered_member_columns(metadata: sa.MetaData) -> list[str]:
    """`table.column` names that look like member ids but no list above covers."""
    covered = {(t.name, t.member_column) for t in MEMBER_TABLES}
    covered |= {(a.table.name, a.column) for a in ACTOR_COLUMNS}
    missing: list[str] = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            looks_like_member = column.name in MEMBER_COLUMN_NAMES or column.name.endswith(
                ACTOR_SUFFIX
            )
            if looks_like_member and (table.name, column.name) not in covered:
                missing.append(f"{table.name}.{column.name}")
    return missing
