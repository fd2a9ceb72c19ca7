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
    CURATED = "curated"  # a moderator-curated knowledge-base entry (`kb:<id>`, migration 0011)


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


EXTERNAL_ID_CHARS = 128  # the longest message id a post (or its reply link) keeps


class Post(SQLModel, table=True):
    """One message, thread starter or forum post. `id` is also its vector id in faiss.

    Ids are never reused (AUTOINCREMENT on SQLite, migration 0008; a sequence on PostgreSQL), so
    an id freed by a delete can never name another guild's post in a stale index or result.
    """

    __table_args__ = (
        sa.UniqueConstraint("guild_id", "external_id", name="uq_post_guild_external"),
        sa.Index("ix_post_guild_channel", "guild_id", "channel_id"),
        sa.Index("ix_post_guild_author", "guild_id", "author_id"),
        sa.Index("ix_post_guild_created", "guild_id", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    guild_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("guild.id"), nullable=False)
    )
    external_id: str = Field(max_length=EXTERNAL_ID_CHARS)
    channel_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    thread_id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    author_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    reply_to: str | None = Field(default=None, max_length=EXTERNAL_ID_CHARS)
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


class PostCondition(SQLModel, table=True):
    """One nonzero entry of a post's condition vector (from the lay condition vocabulary)."""

    __table_args__ = (sa.Index("ix_postcondition_condition", "condition_id", "post_id"),)

    post_id: int = Field(
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("post.id", ondelete="CASCADE"), primary_key=True
        )
    )
    condition_id: str = Field(max_length=64, primary_key=True)
    weight: float


class StoreMeta(SQLModel, table=True):
    """Small key/value facts about the store (e.g. the condition vocabulary's fingerprint)."""

    key: str = Field(max_length=64, primary_key=True)
    value: str


class VectorIndexState(SQLModel, table=True):
    """Bookkeeping of each guild's saved faiss index (for stats and catch-up)."""

    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    model: str
    dimension: int
    vectors: int = 0
    max_post_id: int = 0
    kind: str = "flat"
    saved_at: datetime = Field(default_factory=utcnow)


class BackfillCheckpoint(SQLModel, table=True):
    """How far the bot has read one channel's or thread's history (oldest first).

    `source_id` is the channel or thread being paged; `channel_id` the enabled text or forum
    channel it belongs to. `cursor` is the newest message id already ingested, `latest_id` the
    newest message id known when the backfill started (for progress and ETA).
    """

    source_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False)
    )
    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False, index=True))
    channel_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False, index=True))
    cursor: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False))
    latest_id: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False))
    fetched: int = 0
    complete: bool = False
    updated_at: datetime = Field(default_factory=utcnow)


# -- privacy: consent, search mode, retention and tombstones (migration 0004) ---------------------


class MemberConsent(SQLModel, table=True):
    """A member's current privacy choices in one guild; no row means "never chose".

    `searchable` is None until the member chooses: the guild's search mode then decides.
    Matching is opt-in always, so `matchable` defaults to False.
    """

    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    user_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    searchable: bool | None = None
    matchable: bool = False
    excluded: bool = False
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))


class ConsentEvent(SQLModel, table=True):
    """One change of one consent setting: what, to which value, when and by whom."""

    __table_args__ = (sa.Index("ix_consentevent_guild_user", "guild_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    user_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    setting: str = Field(max_length=32)
    value: bool | None = None
    changed_by: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    changed_at: datetime = Field(default_factory=utcnow)


class GuildPrivacy(SQLModel, table=True):
    """A guild's search mode (`opt_in` or `opt_out`) and optional retention in days."""

    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    search_mode: str = Field(default="opt_in", max_length=16)
    mode_changed_at: datetime | None = None
    mode_changed_by: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, nullable=True)
    )
    retention_days: int | None = None
    retention_changed_at: datetime | None = None
    retention_changed_by: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, nullable=True)
    )


class PostTombstone(SQLModel, table=True):
    """A message removed from Kindred at its author's request, so a backfill never stores it again.

    Message ids only: no text and no author (migration 0007 dropped `author_id`), so after a
    member's delete no row names them.
    """

    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    external_id: str = Field(max_length=128, primary_key=True)
    reason: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow)


# -- safety: per-guild crisis response settings and moderator alerts (migration 0005) -----------


class GuildSafety(SQLModel, table=True):
    """Where a guild's crisis alerts go and how members are answered (set by an admin)."""

    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    moderator_channel_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, nullable=True)
    )
    moderator_role_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, nullable=True)
    )
    reply_mode: str | None = Field(default=None, max_length=16)
    concern_alerts: bool | None = None
    resources: str | None = None
    escalation_channel_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, nullable=True)
    )
    escalation_role_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, nullable=True)
    )
    digest_sent_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))


class SafetyAlert(SQLModel, table=True):
    """One crisis or concern alert about a message (detected, or reported by a member).

    `reasons` (JSON list) may quote short phrases of the message: it is member content, exported
    and deleted with the author's data, and never logged. The reporter is never shown to others.
    """

    __table_args__ = (sa.Index("ix_safetyalert_guild_author", "guild_id", "author_id"),)

    id: int | None = Field(default=None, primary_key=True)
    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    channel_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    thread_id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    external_id: str = Field(max_length=128)
    author_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    level: str = Field(max_length=16)
    reasons: str = "[]"
    source: str = Field(default="detected", max_length=16)
    reported_by: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    notified: bool = False
    alert_message_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, nullable=True)
    )
    claimed_by: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    claimed_at: datetime | None = None
    escalated_at: datetime | None = None  # raised again once, unclaimed (migration 0009)
    created_at: datetime = Field(default_factory=utcnow)


class MemberNotice(SQLModel, table=True):
    """When a member was first told what Kindred does (first-contact notice; migration 0006)."""

    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    user_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    shown_at: datetime = Field(default_factory=utcnow)


# -- connecting people: suggestions, questions and helpers (migration 0010) ----------------------


class SuggestionChannel(SQLModel, table=True):
    """A channel where an admin turned on similar-thread suggestions (and helper routing)."""

    channel_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False)
    )
    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False, index=True))
    enabled_by: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    enabled_at: datetime = Field(default_factory=utcnow)


class Question(SQLModel, table=True):
    """A question asked in a suggestion-enabled channel: what routing and insights count.

    `conditions` holds the question's strong condition tags (JSON list), derived from its text,
    so it is the asker's data. No text is stored here; the post itself may not be indexed.
    """

    __table_args__ = (
        sa.UniqueConstraint("guild_id", "external_id", name="uq_question_guild_external"),
        sa.Index("ix_question_guild_asked", "guild_id", "asked_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    channel_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    thread_id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    external_id: str = Field(max_length=EXTERNAL_ID_CHARS)
    author_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    conditions: str = "[]"
    crisis: bool = False
    asked_at: datetime = Field(default_factory=utcnow)
    first_reply_at: datetime | None = None
    routed_at: datetime | None = None
    helpers_asked: int = 0
    solved_at: datetime | None = None
    solved_by: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    solution_message_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, nullable=True)
    )


class Suggestion(SQLModel, table=True):
    """The one reply Kindred posted with prior threads for a new question (ids only, no text)."""

    __table_args__ = (
        sa.UniqueConstraint("guild_id", "external_id", name="uq_suggestion_guild_external"),
    )

    id: int | None = Field(default=None, primary_key=True)
    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    channel_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    thread_id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    external_id: str = Field(max_length=EXTERNAL_ID_CHARS)
    author_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    reply_message_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, nullable=True)
    )
    items: int = 0
    hidden_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class SuggestionFeedback(SQLModel, table=True):
    """A member's "not helpful" on a suggestion (once per member)."""

    suggestion_id: int = Field(
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("suggestion.id", ondelete="CASCADE"), primary_key=True
        )
    )
    user_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False, index=True))
    verdict: str = Field(default="not_helpful", max_length=16)
    created_at: datetime = Field(default_factory=utcnow)


class HelperRequest(SQLModel, table=True):
    """A helper Kindred asked privately about an unanswered question."""

    question_id: int = Field(
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("question.id", ondelete="CASCADE"), primary_key=True
        )
    )
    user_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False, index=True))
    sent_at: datetime = Field(default_factory=utcnow)


# -- connecting people: profiles, introductions and blocks (migration 0010) -----------------------


class MemberProfile(SQLModel, table=True):
    """What a member chose to show on match cards and whether they help newcomers.

    `sample_post_id` names one of their own posts; it is looked up (consent, crisis, hidden) every
    time a card is drawn, so a deleted post simply shows nothing. Quiet hours are UTC hours.
    """

    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    user_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    sample_post_id: int | None = None
    use_inferred: bool = False
    helper: bool = False
    quiet_start_hour: int | None = None
    quiet_end_hour: int | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class ProfileCondition(SQLModel, table=True):
    """A condition a member declared: their role for it and whether they help with it."""

    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    user_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    condition_id: str = Field(max_length=64, primary_key=True)
    role: str = Field(default="patient", max_length=16)
    helps: bool = False
    updated_at: datetime = Field(default_factory=utcnow)


class Introduction(SQLModel, table=True):
    """One introduction request between two members of a guild, and its answer.

    The target's identity never reaches the requester (nor the other way) until `status` is
    `accepted`; then `thread_id` is the private thread Kindred opened for both.
    """

    __table_args__ = (
        sa.Index("ix_introduction_guild_requester", "guild_id", "requester_id"),
        sa.Index("ix_introduction_guild_target", "guild_id", "target_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    requester_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    target_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    status: str = Field(default="pending", max_length=16)
    conditions: str = "[]"
    prompt_message_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, nullable=True)
    )
    thread_id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(default_factory=utcnow)
    answered_at: datetime | None = None
    prompted_at: datetime | None = None
    """When the target was shown the prompt (a DM, or an ephemeral prompt on their next
    command when their DMs are closed); None: not shown yet."""


class MemberBlock(SQLModel, table=True):
    """A member's "never suggest me to (or introduce me to) this member"."""

    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    user_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    blocked_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False)
    )
    created_at: datetime = Field(default_factory=utcnow)


class GuildMatching(SQLModel, table=True):
    """A guild's introduction settings: on or off, and where private threads are opened."""

    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    introductions_enabled: bool = True
    thread_channel_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, nullable=True)
    )
    updated_by: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    updated_at: datetime = Field(default_factory=utcnow)


class MatchCard(SQLModel, table=True):
    """One match card shown to a member by `/connect`: an opaque token stands for the member
    on the card, so buttons never carry their id; `batch` and `position` page through one
    answer. Short-lived (removed when expired)."""

    __table_args__ = (sa.Index("ix_matchcard_batch", "batch", "position"),)

    token: str = Field(max_length=32, primary_key=True)
    batch: str = Field(max_length=32)
    position: int = 0
    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    user_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    target_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    conditions: str = "[]"
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(default_factory=utcnow)


# -- curation: knowledge base, hiding, audit (migration 0011) --------------------------------------
# (curation models go here)


class KnowledgeEntry(SQLModel, table=True):
    """A moderator-curated answer, indexed as a curated `Post` (`post_id`, external id `kb:<id>`).

    `title`, `question`, `answer` and `conditions` are the moderator's words. `quote` keeps the
    member's original reply and `source_*` where it came from; `credit` is set only with that
    author's consent. When the source message or its author's data is deleted, the quote, the
    source and the credit are nulled (`TableSpec.scrub`) and the moderator's words remain.
    """

    __table_args__ = (sa.Index("ix_knowledgeentry_guild_source", "guild_id", "source_author_id"),)

    id: int | None = Field(default=None, primary_key=True)
    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False, index=True))
    title: str = Field(max_length=200)
    question: str = ""
    answer: str
    conditions: str = "[]"
    source_channel_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    source_external_id: str | None = Field(default=None, max_length=EXTERNAL_ID_CHARS)
    source_author_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, nullable=True)
    )
    quote: str | None = None
    credit: bool = False
    created_by: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    updated_by: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    retired: bool = False
    post_id: int | None = None


class HiddenMessage(SQLModel, table=True):
    """A message a moderator hid from Kindred (kept so a re-ingest or backfill keeps it hidden)."""

    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    external_id: str = Field(max_length=EXTERNAL_ID_CHARS, primary_key=True)
    hidden_by: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    hidden_at: datetime = Field(default_factory=utcnow)


class ModAction(SQLModel, table=True):
    """One moderator action for the audit: who, what, on which id, when. Never any content."""

    __table_args__ = (sa.Index("ix_modaction_guild_created", "guild_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    action: str = Field(max_length=32)
    target: str = Field(max_length=EXTERNAL_ID_CHARS)
    done_by: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)


# -- curation: reports queue, "this helped", insights (migration 0012) ----------------------------


class AlertReport(SQLModel, table=True):
    """One member's report of a message: several reports of one message are one queue item
    (the `SafetyAlert`), with one row here per reporter (rate limits count these rows)."""

    __table_args__ = (
        sa.Index("ix_alertreport_guild_user_created", "guild_id", "user_id", "created_at"),
    )

    alert_id: int = Field(
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("safetyalert.id", ondelete="CASCADE"), primary_key=True
        )
    )
    user_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class AlertResolution(SQLModel, table=True):
    """A moderator's "resolved" (or "hidden") on a reported item: it leaves the queue."""

    alert_id: int = Field(
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("safetyalert.id", ondelete="CASCADE"), primary_key=True
        )
    )
    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False, index=True))
    action: str = Field(default="resolved", max_length=16)
    resolved_by: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    resolved_at: datetime = Field(default_factory=utcnow)


class HelpedMark(SQLModel, table=True):
    """A member's "this helped" on a message (a result, a suggestion, a curated entry): once
    per member. `channel_id`/`thread_id` are the message's place when Kindred holds the post."""

    __table_args__ = (sa.Index("ix_helpedmark_guild_external", "guild_id", "external_id"),)

    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    user_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    external_id: str = Field(max_length=EXTERNAL_ID_CHARS, primary_key=True)
    channel_id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    thread_id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)


class SearchGap(SQLModel, table=True):
    """How many searches found nothing close, per guild, UTC day and condition named in the
    query (`""`: none named). Counts only: no query text, no member."""

    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    day: datetime = Field(primary_key=True)
    condition_id: str = Field(max_length=64, primary_key=True)
    count: int = 0


# -- scale: the change log other processes follow (migration 0013) ---------------------------------


class IndexChange(SQLModel, table=True):
    """A post whose derived state (catalog, condition vector, faiss vector) changed, or with
    `post_id` NULL a whole guild (its consent or its existence). Ids only, never content.

    Every process that holds a guild's indexes follows this log from its high-water mark and
    refreshes those posts from SQL, so a change made by another process (a CLI delete, another
    shard) reaches its results within seconds. `origin` names the process that wrote the row (it
    skips its own). Rows older than a day are trimmed.
    """

    __table_args__ = (
        sa.Index("ix_indexchange_created", "created_at"),
        {"sqlite_autoincrement": True},  # ids only grow: a follower's mark never skips a row
    )

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
    )
    guild_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    post_id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    origin: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow)
