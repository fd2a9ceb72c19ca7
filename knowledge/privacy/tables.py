"""The registry of every table: what each of its columns names, read by erase and export alike.

Every table in `SQLModel.metadata` has one `TableSpec` in `REGISTRY`, which says which column
holds its guild, which name a channel or thread (a *place*), which name the member a row is
about, which record who made a change (an *actor*), which tie it to a post, and which name a
Discord message. `knowledge.privacy.erase` removes data by these declarations alone, and
`knowledge.privacy.export` exports a member's rows by them, so the two cannot drift apart.

A column that looks like an id of one of those things (by its name, see `column_kind`) must be
declared, either in a role or in `kept` with the reason it is not erased with what it names;
`registry_problems` lists every gap and `tests/knowledge/test_erase.py` fails on any. So a new
table, or a new column, is erased correctly from the day it is added, or a test says why not.

What each role means for erasing (targets are in `knowledge.privacy.erase`):

- `guild`: the row goes when the bot leaves that guild (every table with a guild column).
- `places`: the row goes with that channel (and its threads) or thread. Discord ids are unique
  across channels and threads, so a channel id and its threads' ids never collide.
- `members`: the row is about that member and goes with their delete. With their *exclusion*
  ("never keep my posts") only rows of `content` tables go: what they wrote or are called.
- `actors`: who made a change; nulled (not deleted) when that member's data is deleted, because
  the row itself is about something else (a channel, a setting, another member's alert).
- `post`: a child of a post (its vector, its condition entries); goes with the post.
- `messages`: the Discord message a row is (ids only); goes when that message is deleted on
  Discord. The author's delete or retention erases their posts but keeps these ids (a hide
  must still hold if the message is imported again; no author, no text).
- `authored_messages`: a record about a message that goes with it only when its *author* asks
  (a safety alert: a moderator who deleted a crisis message on Discord must still be able to
  claim the alert about it; the author's own delete removes it).
- `kept`: a column that names something but is deliberately not erased with it, and why.
- `scrub`: a member or message column whose row is not about that member or message but quotes
  or credits it (a curated knowledge-base entry built from a reply): when the member's data or
  the message is deleted (or the member excludes themselves), the row stays and the column is
  nulled with the columns listed with it (see `Scrub`).
- `survivor`: maps a member's row to what may outlive their delete (see `refusal_only`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel

from knowledge.store.models import (
    AlertReport,
    AlertResolution,
    BackfillCheckpoint,
    Channel,
    ConsentEvent,
    Guild,
    GuildMatching,
    GuildPrivacy,
    GuildSafety,
    HelpedMark,
    HelperRequest,
    HiddenMessage,
    IndexChange,
    Introduction,
    KnowledgeEntry,
    MatchCard,
    Member,
    MemberBlock,
    MemberConsent,
    MemberNotice,
    MemberProfile,
    ModAction,
    Post,
    PostCondition,
    PostTombstone,
    PostVector,
    ProfileCondition,
    Question,
    SafetyAlert,
    SearchGap,
    StoreMeta,
    Suggestion,
    SuggestionChannel,
    SuggestionFeedback,
    VectorIndexState,
)

# What a column name says it holds. Used to find columns the registry does not declare.
GUILD_COLUMN_NAMES = frozenset({"guild_id"})
PLACE_COLUMN_NAMES = frozenset({"channel_id", "thread_id", "parent_id", "source_id"})
PLACE_SUFFIX = "_channel_id"
MEMBER_COLUMN_NAMES = frozenset({"user_id", "author_id", "member_id"})
ACTOR_SUFFIX = "_by"
POST_COLUMN_NAMES = frozenset({"post_id"})
MESSAGE_COLUMN_NAMES = frozenset({"external_id", "message_id"})
MESSAGE_SUFFIX = "_message_id"

Survivor = Callable[[Mapping[str, Any]], dict[str, Any] | None]
ExportView = Callable[[Mapping[str, Any], int], dict[str, Any]]


def column_kind(name: str) -> str | None:
    """What a column looks like it names, by its name: guild, place, member, actor, post,
    message, or None for anything else."""
    if name in GUILD_COLUMN_NAMES:
        return "guild"
    if name in PLACE_COLUMN_NAMES or name.endswith(PLACE_SUFFIX):
        return "place"
    if name in MEMBER_COLUMN_NAMES:
        return "member"
    if name.endswith(ACTOR_SUFFIX):
        return "actor"
    if name in POST_COLUMN_NAMES:
        return "post"
    if name in MESSAGE_COLUMN_NAMES or name.endswith(MESSAGE_SUFFIX):
        return "message"
    return None


def refusal_only(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The part of a member's consent row that outlives their delete: refusals, bare.

    Deleting must never make a member more visible than before: if they were *excluded*, or said
    they are not *searchable*, a bare row with just that refusal is written back (no history,
    no `updated_by`, `matchable` False). Agreements are removed with everything else. The kept
    row names the member because a refusal cannot be kept any other way.
    """
    excluded = bool(row.get("excluded"))
    refused = _said_no(row)
    if not (excluded or refused):
        return None
    return {
        "guild_id": row["guild_id"],
        "user_id": row["user_id"],
        "searchable": False if refused else None,
        "matchable": False,
        "excluded": excluded,
    }


def is_refusal_only(row: Mapping[str, Any]) -> bool:
    """True for a consent row that holds nothing but a refusal (what `refusal_only` writes)."""
    searchable = row.get("searchable")
    return (
        not row.get("matchable")
        and row.get("updated_by") is None
        and (searchable is None or not searchable)
        and (bool(row.get("excluded")) or _said_no(row))
    )


def _said_no(row: Mapping[str, Any]) -> bool:
    """`searchable` is a stored False (0 from a raw query), not "never chose" (None)."""
    searchable = row.get("searchable")
    return searchable is not None and not searchable


def redact_unless_accepted(row: Mapping[str, Any], member_id: int) -> dict[str, Any]:
    """An introduction as one of its members may see it: the other member's id only once
    both agreed (status `accepted`); before that the other side stays anonymous."""
    out = dict(row)
    if out.get("status") != "accepted":
        for column in ("requester_id", "target_id"):
            if out.get(column) != member_id:
                out[column] = None
    return out


def redact_other_member(row: Mapping[str, Any], member_id: int) -> dict[str, Any]:
    """A match card or a block as its owner may see it: the member on the card (or blocked
    from one) is never named, and a card is never shown to the member it was about."""
    out = dict(row)
    for column in ("target_id", "blocked_id", "user_id"):
        if column in out and out[column] != member_id:
            out[column] = None
    return out


@dataclass(frozen=True)
class Scrub:
    """When the `names` ("member" or "message") that `column` holds is erased, null `column` and
    `also` and set each `reset` column to its value in the matching rows; the rows stay."""

    column: str
    names: str
    also: tuple[str, ...] = ()
    reset: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class TableSpec:
    """One table and what its columns name (see the module docstring for each role)."""

    model: type[SQLModel]
    guild: str | None = None
    places: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()
    post: str | None = None
    messages: tuple[str, ...] = ()
    authored_messages: tuple[str, ...] = ()
    kept: tuple[tuple[str, str], ...] = ()
    content: bool = False
    survivor: Survivor | None = None
    scrub: tuple[Scrub, ...] = ()
    about: str = ""
    export_view: ExportView | None = None
    """What a member's export shows of one row (row, exporting member id): a row naming
    another member who must stay anonymous to them is exported with that id redacted."""

    @property
    def table(self) -> sa.Table:
        return self.model.__table__  # type: ignore[attr-defined,no-any-return]

    @property
    def name(self) -> str:
        return str(self.table.name)

    def declared(self) -> dict[str, str]:
        """column -> role, for every column this spec declares."""
        roles: dict[str, str] = {}
        if self.guild is not None:
            roles[self.guild] = "guild"
        if self.post is not None:
            roles[self.post] = "post"
        for scrub in self.scrub:
            roles[scrub.column] = scrub.names
        for role, names in (
            ("place", self.places),
            ("member", self.members),
            ("actor", self.actors),
            ("message", self.messages),
            ("authored_message", self.authored_messages),
            ("kept", tuple(name for name, _ in self.kept)),
        ):
            for name in names:
                roles[name] = role
        return roles


CREDIT_OFF: tuple[tuple[str, object], ...] = (("credit", False),)

REGISTRY: tuple[TableSpec, ...] = (
    TableSpec(Guild, guild="id", about="a server; the last row to go when the bot leaves it"),
    TableSpec(
        Channel,
        guild="guild_id",
        places=("id", "parent_id"),
        actors=("enabled_by",),
        about="channels and threads; a channel's row and its threads' go when it is disabled",
    ),
    TableSpec(
        Member,
        guild="guild_id",
        members=("user_id",),
        content=True,
        about="a member of a guild; files may carry a handle, so it goes on exclusion too",
    ),
    TableSpec(
        Post,
        guild="guild_id",
        places=("channel_id", "thread_id"),
        members=("author_id",),
        messages=("external_id",),
        content=True,
        about="what members wrote; `reply_to` names another message and goes with this one",
    ),
    TableSpec(PostVector, post="post_id", about="a post's embedding"),
    TableSpec(PostCondition, post="post_id", about="a post's condition entries"),
    TableSpec(StoreMeta, about="global facts (the condition vocabulary's fingerprint)"),
    TableSpec(VectorIndexState, guild="guild_id", about="bookkeeping of a guild's faiss files"),
    TableSpec(
        BackfillCheckpoint,
        guild="guild_id",
        places=("source_id", "channel_id"),
        about="how far a channel's or thread's history was read",
    ),
    TableSpec(
        MemberConsent,
        guild="guild_id",
        members=("user_id",),
        actors=("updated_by",),
        survivor=refusal_only,
        about="a member's choices; a refusal outlives their delete (see `refusal_only`)",
    ),
    TableSpec(
        ConsentEvent,
        guild="guild_id",
        members=("user_id",),
        actors=("changed_by",),
        about="the history of a member's choices",
    ),
    TableSpec(
        GuildPrivacy,
        guild="guild_id",
        actors=("mode_changed_by", "retention_changed_by"),
        about="a guild's search mode and retention",
    ),
    TableSpec(
        PostTombstone,
        guild="guild_id",
        kept=(
            (
                "external_id",
                "the tombstone itself: the id of a message erased at its author's request, kept "
                "(without author or text) so a backfill never stores that message again",
            ),
        ),
        about="message ids never to index again; they go only with the guild",
    ),
    TableSpec(
        GuildSafety,
        guild="guild_id",
        actors=("updated_by",),
        kept=(
            (
                "moderator_channel_id",
                "a setting (where crisis alerts go), not data from that channel: disabling "
                "indexing of a channel must not silently switch off alerts; it goes with the guild",
            ),
            (
                "escalation_channel_id",
                "a setting (where unclaimed alerts are raised again), not data from that "
                "channel; it goes with the guild",
            ),
        ),
        about="a guild's crisis-response settings",
    ),
    TableSpec(
        SafetyAlert,
        guild="guild_id",
        places=("channel_id", "thread_id"),
        members=("author_id",),
        actors=("reported_by", "claimed_by"),
        authored_messages=("external_id",),
        kept=(
            (
                "alert_message_id",
                "the bot's own alert message in the moderators' channel, not a member's message",
            ),
        ),
        content=True,
        about="crisis alerts; their reasons quote the author's words",
    ),
    TableSpec(
        MemberNotice,
        guild="guild_id",
        members=("user_id",),
        about="when a member was first told what Kindred does",
    ),
    # -- connecting people (migration 0010) --
    TableSpec(
        SuggestionChannel,
        guild="guild_id",
        places=("channel_id",),
        actors=("enabled_by",),
        about="channels where similar-thread suggestions are on",
    ),
    TableSpec(
        Question,
        guild="guild_id",
        places=("channel_id", "thread_id"),
        members=("author_id",),
        actors=("solved_by",),
        messages=("external_id",),
        kept=(
            (
                "solution_message_id",
                "a pointer to the reply that solved the question (no text); it is never shown "
                "once that message is gone, and goes with the question",
            ),
        ),
        content=True,
        about="questions asked where suggestions are on; their condition tags come from the text",
    ),
    TableSpec(
        Suggestion,
        guild="guild_id",
        places=("channel_id", "thread_id"),
        members=("author_id",),
        messages=("external_id",),
        kept=(("reply_message_id", "the bot's own reply message, not a member's message"),),
        about="the reply Kindred posted for a question (ids and counts only)",
    ),
    TableSpec(
        SuggestionFeedback,
        guild="guild_id",
        members=("user_id",),
        about='a member\'s "not helpful" on a suggestion',
    ),
    TableSpec(
        HelperRequest,
        guild="guild_id",
        members=("user_id",),
        about="a helper Kindred asked about an unanswered question",
    ),
    TableSpec(
        MemberProfile,
        guild="guild_id",
        members=("user_id",),
        kept=(
            (
                "sample_post_id",
                "the member's own chosen post; looked up (consent, crisis, hidden) each time a "
                "card is drawn, so a deleted post shows nothing; goes with the profile",
            ),
        ),
        content=True,
        about="a member's match card choices and helper settings",
    ),
    TableSpec(
        ProfileCondition,
        guild="guild_id",
        members=("user_id",),
        content=True,
        about="conditions a member declared, their role for each, whether they help",
    ),
    TableSpec(
        Introduction,
        guild="guild_id",
        members=("requester_id", "target_id"),
        kept=(
            ("prompt_message_id", "the bot's own prompt message, not a member's message"),
            (
                "thread_id",
                "the private thread Kindred opened for the two members (never indexed, not "
                "data from an enabled channel); goes with either member's delete",
            ),
        ),
        about="introduction requests; go with either member's delete",
        export_view=redact_unless_accepted,
    ),
    TableSpec(
        MemberBlock,
        guild="guild_id",
        members=("user_id",),
        kept=(
            (
                "blocked_id",
                "the blocker's protection must outlive the blocked member's delete; the row is "
                "about the blocker, is in only the blocker's export, and goes with the guild",
            ),
        ),
        about="a member's block list (never suggest or introduce me to them)",
        export_view=redact_other_member,
    ),
    TableSpec(
        GuildMatching,
        guild="guild_id",
        actors=("updated_by",),
        kept=(
            (
                "thread_channel_id",
                "a setting (where introduction threads are opened), not data from that "
                "channel; it goes with the guild",
            ),
        ),
        about="a guild's introduction settings (on or off, where threads are opened)",
    ),
    TableSpec(
        MatchCard,
        guild="guild_id",
        members=("user_id", "target_id"),
        about="match cards shown by /connect (an opaque token per member shown); short-lived",
        export_view=redact_other_member,
    ),
    # -- scale (migration 0013) --
    TableSpec(
        IndexChange,
        guild="guild_id",
        kept=(
            (
                "post_id",
                "an id only (no content, no author): tells other processes to refresh that "
                "post from SQL, which then finds it gone; trimmed after a day",
            ),
        ),
        about="the change log processes follow to keep their indexes in step",
    ),
    # -- curation (migration 0011) --
    TableSpec(
        KnowledgeEntry,
        guild="guild_id",
        places=("source_channel_id",),
        actors=("created_by", "updated_by"),
        scrub=(
            Scrub("source_author_id", "member", ("quote", "source_external_id"), CREDIT_OFF),
            Scrub("source_external_id", "message", ("quote", "source_author_id"), CREDIT_OFF),
        ),
        kept=(
            (
                "post_id",
                "the entry's own indexed post (`kb:<id>`, the moderator's words only, no member "
                "as author); it goes with the entry's channel, and retiring the entry removes it",
            ),
        ),
        about="curated entries; the member's quote, source and credit go with their data",
    ),
    TableSpec(
        HiddenMessage,
        guild="guild_id",
        messages=("external_id",),
        actors=("hidden_by",),
        about="messages a moderator hid from Kindred (ids only)",
    ),
    TableSpec(
        ModAction,
        guild="guild_id",
        actors=("done_by",),
        about="the moderators' audit: action, target id, when; never content",
    ),
    # -- reports queue, "this helped", insights (migration 0012) --
    TableSpec(
        AlertReport,
        guild="guild_id",
        members=("user_id",),
        about="who reported a message (one row per reporter; never shown to others); goes with "
        "the alert, and with the reporter's delete",
    ),
    TableSpec(
        AlertResolution,
        guild="guild_id",
        actors=("resolved_by",),
        about="a moderator's resolve or hide of a reported item; goes with the alert",
    ),
    TableSpec(
        HelpedMark,
        guild="guild_id",
        places=("channel_id", "thread_id"),
        members=("user_id",),
        messages=("external_id",),
        about='a member\'s "this helped" on a message; goes with the message or the member',
    ),
    TableSpec(
        SearchGap,
        guild="guild_id",
        about="counts of searches that found nothing, per day and condition (no text, no member)",
    ),
)

_BY_NAME: dict[str, TableSpec] = {spec.name: spec for spec in REGISTRY}


def spec_for(table_name: str) -> TableSpec | None:
    return _BY_NAME.get(table_name)


def erase_order() -> list[TableSpec]:
    """Every spec, dependent tables before the tables they reference (safe for deleting)."""
    order = {table.name: i for i, table in enumerate(SQLModel.metadata.sorted_tables)}
    return sorted(REGISTRY, key=lambda spec: -order.get(spec.name, -1))


def member_specs() -> Iterator[TableSpec]:
    """Tables with rows about a member or quoting them (what a member's export holds)."""
    return (spec for spec in REGISTRY if member_columns(spec))


def member_columns(spec: TableSpec) -> tuple[str, ...]:
    """Columns of `spec` naming a member a row is about or quotes (`members` and member scrubs)."""
    return spec.members + tuple(s.column for s in spec.scrub if s.names == "member")


def post_child_specs() -> Iterator[TableSpec]:
    """Tables whose rows belong to a post (removed with it, exported with it)."""
    return (spec for spec in REGISTRY if spec.post is not None)


def actor_columns() -> Iterator[tuple[TableSpec, str]]:
    """(table, column) pairs recording which member made a change."""
    return ((spec, column) for spec in REGISTRY for column in spec.actors)


def undeclared_columns(table_name: str, column_names: Iterable[str]) -> list[str]:
    """`table.column` names that look like ids (`column_kind`) but the registry does not declare."""
    spec = spec_for(table_name)
    declared = spec.declared() if spec is not None else {}
    return [
        f"{table_name}.{name}"
        for name in column_names
        if column_kind(name) is not None and name not in declared
    ]


def registry_problems(metadata: sa.MetaData) -> list[str]:
    """Everything that keeps the registry from describing `metadata` completely and truly."""
    problems: list[str] = []
    for table in metadata.sorted_tables:
        spec = spec_for(table.name)
        if spec is None:
            problems.append(f"{table.name}: not in the registry")
        problems.extend(
            f"{name}: looks like an id but is not declared"
            for name in undeclared_columns(table.name, table.columns.keys())
        )
    for spec in REGISTRY:
        if spec.name not in metadata.tables:
            continue
        columns = set(metadata.tables[spec.name].columns.keys())
        problems.extend(
            f"{spec.name}.{name}: declared but not a column"
            for name in spec.declared()
            if name not in columns
        )
        if (spec.places or spec.members or spec.actors) and spec.guild is None:
            problems.append(f"{spec.name}: places, members or actors need a guild column")
    return problems
