"""SQLModel tables: the single source of truth. Text and vector indexes derive from these rows."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class PostKind(StrEnum):
    MESSAGE = "message"
    THREAD_STARTER = "thread_starter"
    FORUM_POST = "forum_post"


class ChannelKind(StrEnum):
    TEXT = "text"
    FORUM = "forum"
    THREAD = "thread"


class Guild(SQLModel, table=True):
    """A Discord server (or an offline community loaded from files)."""

    id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    name: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Channel(SQLModel, table=True):
    """A text channel, forum channel or thread. Only an admin action sets `indexing_enabled`."""

    id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    guild_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("guild.id"), nullable=False, index=True)
    )
    name: str | None = None
    kind: str = Field(default=ChannelKind.TEXT)
    parent_id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    indexing_enabled: bool = False
    enabled_by: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    enabled_at: datetime | None = None


class Member(SQLModel, table=True):
    """A member of a guild. Discord members get no stored name; offline files may carry a handle."""

    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    user_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    handle: str | None = None
    first_seen_at: datetime = Field(default_factory=utcnow)


class Post(SQLModel, table=True):
    """One message, thread starter or forum post. `id` is also its vector id in faiss."""

    __table_args__ = (
        sa.UniqueConstraint("guild_id", "external_id", name="uq_post_guild_external"),
        sa.Index("ix_post_guild_channel", "guild_id", "channel_id"),
        sa.Index("ix_post_guild_author", "guild_id", "author_id"),
        sa.Index("ix_post_guild_created", "guild_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    guild_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("guild.id"), nullable=False)
    )
    external_id: str = Field(max_length=128)
    channel_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    thread_id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    author_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    reply_to: str | None = Field(default=None, max_length=128)
    kind: str = Field(default=PostKind.MESSAGE)
    created_at: datetime = Field(default_factory=utcnow)
    edited_at: datetime | None = None
    content: str
    content_hash: str = Field(max_length=64)
    truncated: bool = False
    hidden: bool = False
    curated: bool = False
    crisis_level: str = Field(default="none", max_length=16)
    ingested_at: datetime = Field(default_factory=utcnow)


class PostVector(SQLModel, table=True):
    """The embedding of a post's current content. faiss indexes are rebuilt from these rows."""

    post_id: int = Field(
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("post.id", ondelete="CASCADE"), primary_key=True
        )
    )
    content_hash: str = Field(max_length=64)
    model: str = Field(max_length=128)
    vector: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))


class VectorIndexState(SQLModel, table=True):
    """Bookkeeping of each guild's saved faiss index (for stats and catch-up)."""

    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    model: str
    dimension: int
    vectors: int = 0
    max_post_id: int = 0
    kind: str = "flat"
    saved_at: datetime = Field(default_factory=utcnow)
