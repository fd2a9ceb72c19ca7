"""One erase path, driven by one registry: checked by walking the whole schema, not a list.

Every table is populated for two guilds; then a guild is removed, a channel disabled, a member
deleted, and every table of the schema (SQLModel's metadata and SQLite's own table list, so a
table the models do not know is caught too) is searched for rows that still name what went.
The files of the data folder are read byte by byte for the words of a crisis post.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlmodel import Session, SQLModel, select

from knowledge.config import KindredSettings
from knowledge.privacy.tables import (
    REGISTRY,
    column_kind,
    is_refusal_only,
    registry_problems,
    spec_for,
    undeclared_columns,
)
from knowledge.records import ChannelRecord, Flag
from knowledge.scope import SearchScope
from knowledge.service import KnowledgeService
from knowledge.store.db import alembic_config, make_engine, migrate, sqlite_url
from knowledge.store.models import (
    AlertReport,
    AlertResolution,
    ChannelKind,
    GuildMatching,
    HelpedMark,
    HelperRequest,
    HiddenMessage,
    Introduction,
    KnowledgeEntry,
    MatchCard,
    MemberBlock,
    MemberProfile,
    ModAction,
    ProfileCondition,
    Question,
    SafetyAlert,
    SearchGap,
    Suggestion,
    SuggestionChannel,
    SuggestionFeedback,
)
from tests.conftest import GUILD, OTHER_GUILD, enable, post

ADMIN, LEAVER, STAYER, REFUSER = 1, 10, 20, 30
CRISIS = "I am going to kill myself tonight, I have the pills ready"
OTHER_CRISIS = "I want to end my life tonight, I wrote the note already"
# The crisis post's words, whole and as the alert quotes them ("kill myself tonight").
NEEDLES = [CRISIS.encode(), b"kill myself tonight", b"pills ready"]
TOKEN = "qzxvgravelmark"  # one FTS token only guild GUILD's posts hold


@dataclass(frozen=True)
class Places:
    guild: int
    channel: int
    other_channel: int
    thread: int
    moderators: int


HERE = Places(GUILD, 1, 2, 31, 900)
THERE = Places(OTHER_GUILD, 5, 6, 51, 950)


def populate(service: KnowledgeService, at: Places, crisis: str, token: str = "") -> None:
    """Rows in every table for one guild, with LEAVER named as author and as actor."""
    g, p = at.guild, f"g{at.guild}-"
    enable(service, g, at.channel)
    service.enable_channel(
        g, ChannelRecord(at.other_channel, g, "b", ChannelKind.TEXT), enabled_by=LEAVER
    )
    thread = ChannelRecord(at.thread, g, "t", ChannelKind.THREAD, parent_id=at.channel)
    service.upsert_channels([thread])
    privacy, desk = service.privacy, service.safety_desk
    privacy.set_search_mode(g, "opt_out", by=ADMIN)
    privacy.set_retention(g, 36500, by=LEAVER)
    desk.configure(g, ADMIN, moderator_channel_id=at.moderators, moderator_role_id=901)
    desk.configure(g, LEAVER, concern_alerts=True)
    report = service.ingest(
        [
            post(f"{p}crisis", crisis, guild=g, channel=at.channel, author=LEAVER),
            post(
                f"{p}l-t",
                f"thread note on insomnia {token}",
                guild=g,
                channel=at.channel,
                thread=at.thread,
                author=LEAVER,
            ),
            post(f"{p}s-a", "pacing helps my fatigue", guild=g, channel=at.channel, author=STAYER),
            post(
                f"{p}s-t",
                "brain fog in the thread",
                guild=g,
                channel=at.channel,
                thread=at.thread,
                author=STAYER,
            ),
            post(
                f"{p}s-b", "my new inhaler works", guild=g, channel=at.other_channel, author=STAYER
            ),
            post(f"{p}s-old", "an old note", guild=g, channel=at.other_channel, author=STAYER),
            post(f"{p}r-b", "flare week again", guild=g, channel=at.other_channel, author=REFUSER),
        ]
    )
    assert report.inserted == 7 and len(report.flagged) == 1
    desk.open_alert(report.flagged[0])
    reported = desk.open_alert(
        Flag(g, f"{p}s-b", at.other_channel, None, STAYER, "concern", ("reported",)),
        reported_by=LEAVER,
    )
    desk.claim(reported.alert_id, LEAVER)
    desk.open_alert(
        Flag(g, f"{p}s-t", at.channel, at.thread, STAYER, "concern", ("reported",)),
        reported_by=REFUSER,
    )
    privacy.set_consent(g, LEAVER, searchable=True, matchable=True, by=LEAVER)
    privacy.set_consent(g, STAYER, searchable=True, by=STAYER)
    privacy.set_consent(g, STAYER, matchable=True, by=LEAVER)  # LEAVER as actor on another
    privacy.set_consent(g, REFUSER, searchable=False, by=REFUSER)
    for member in (LEAVER, STAYER, REFUSER):
        privacy.first_contact(g, member)
    privacy.delete_message(g, f"{p}s-old", by=STAYER)  # a tombstone
    checkpoints = service.checkpoints
    for channel, source in ((at.channel, at.channel), (at.channel, at.thread)):
        checkpoints.advance(g, channel, source, cursor=7, added=3, latest_id=9)
    checkpoints.advance(g, at.other_channel, at.other_channel, cursor=5, added=2, latest_id=5)
    populate_connecting(service, at)
    populate_curation(service, at)
    populate_signals(service, at)
    service.flush(force=True)  # vectorindexstate rows and index files


def populate_curation(service: KnowledgeService, at: Places) -> None:
    """Rows of the curation tables (migration 0011): an entry quoting LEAVER's reply and made by
    LEAVER, a message LEAVER hid, an audit row of LEAVER's (no curated post: counts stay)."""
    g, p = at.guild, f"g{at.guild}-"
    with service.store.session() as s:
        s.add(
            KnowledgeEntry(
                guild_id=g,
                title="Sleep",
                question="What helps insomnia?",
                answer="A wind-down routine, members say.",
                source_channel_id=at.channel,
                source_external_id=f"{p}l-t",
                source_author_id=LEAVER,
                quote=f"thread note on insomnia (quoted) {p}",
                credit=True,
                created_by=LEAVER,
                updated_by=LEAVER,
            )
        )
        s.add(HiddenMessage(guild_id=g, external_id=f"{p}s-a", hidden_by=LEAVER))
        s.add(ModAction(guild_id=g, action="hide", target=f"{p}s-a", done_by=LEAVER))
        s.commit()


def populate_connecting(service: KnowledgeService, at: Places) -> None:
    """Rows of the connecting-people tables (migration 0010), LEAVER in every member role."""
    g, p = at.guild, f"g{at.guild}-"
    with service.store.session() as s:
        s.add(SuggestionChannel(channel_id=at.channel, guild_id=g, enabled_by=LEAVER))
        asked = Question(
            guild_id=g,
            channel_id=at.channel,
            thread_id=at.thread,
            external_id=f"{p}l-t",
            author_id=LEAVER,
            conditions='["insomnia"]',
            solved_by=LEAVER,
        )
        offered = Suggestion(
            guild_id=g,
            channel_id=at.channel,
            thread_id=at.thread,
            external_id=f"{p}l-t",
            author_id=LEAVER,
            reply_message_id=77,
            items=2,
        )
        s.add_all([asked, offered])
        s.flush()
        assert asked.id is not None and offered.id is not None
        s.add(SuggestionFeedback(suggestion_id=offered.id, user_id=LEAVER, guild_id=g))
        s.add(HelperRequest(question_id=asked.id, user_id=STAYER, guild_id=g))
        s.add(MemberProfile(guild_id=g, user_id=LEAVER, helper=True))
        s.add(ProfileCondition(guild_id=g, user_id=LEAVER, condition_id="insomnia", helps=True))
        s.add(
            Introduction(
                guild_id=g, requester_id=LEAVER, target_id=STAYER, thread_id=at.thread + 1000
            )
        )
        s.add(MemberBlock(guild_id=g, user_id=LEAVER, blocked_id=REFUSER))
        populate_introductions(s, g)
        s.commit()


def populate_signals(service: KnowledgeService, at: Places) -> None:
    """Rows of the reports-queue and signals tables (migration 0012), LEAVER as reporter, as
    resolving moderator and as the member who said a reply helped."""
    g, p = at.guild, f"g{at.guild}-"
    with service.store.session() as s:
        query = select(SafetyAlert).where(SafetyAlert.guild_id == g, SafetyAlert.source == "report")
        reported = [a.id for a in s.exec(query).all() if a.id is not None]
        assert reported
        s.add(AlertReport(alert_id=reported[0], user_id=LEAVER, guild_id=g))
        s.add(AlertResolution(alert_id=reported[0], guild_id=g, resolved_by=LEAVER))
        s.add(
            HelpedMark(
                guild_id=g,
                user_id=LEAVER,
                external_id=f"{p}s-t",
                channel_id=at.channel,
                thread_id=at.thread,
            )
        )
        s.add(
            SearchGap(guild_id=g, day=datetime(2026, 11, 1, tzinfo=UTC), condition_id="", count=2)
        )
        s.commit()


def populate_introductions(s: Session, g: int) -> None:
    """Introduction settings and a match card (helper B's additions to migration 0010)."""
    s.add(GuildMatching(guild_id=g, thread_channel_id=HERE.channel, updated_by=LEAVER))
    s.add(
        MatchCard(
            token=f"t{g}",
            batch=f"b{g}",
            guild_id=g,
            user_id=LEAVER,
            target_id=STAYER,
            conditions='["insomnia"]',
        )
    )
    s.add(MatchCard(token=f"u{g}", batch=f"c{g}", guild_id=g, user_id=STAYER, target_id=LEAVER))


@pytest.fixture
def world(service: KnowledgeService) -> Iterator[KnowledgeService]:
    populate(service, HERE, CRISIS, TOKEN)
    populate(service, THERE, OTHER_CRISIS)
    yield service


# -- walking the schema --------------------------------------------------------------------------


def raw_tables(service: KnowledgeService) -> dict[str, list[str]]:
    """Every table SQLite has (virtual and FTS shadow tables included) -> its column names."""
    with service.store.engine.connect() as c:
        names = c.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'").all()
        return {
            str(name): [str(col[1]) for col in c.exec_driver_sql(f'PRAGMA table_info("{name}")')]
            for (name,) in names
        }


def every_table(service: KnowledgeService) -> dict[str, list[str]]:
    """SQLModel's tables and SQLite's, by name, with their columns."""
    tables = {t.name: list(t.columns.keys()) for t in SQLModel.metadata.sorted_tables}
    for name, columns in raw_tables(service).items():
        tables.setdefault(name, columns)
    return tables


def columns_of(table: str, columns: list[str], *kinds: str) -> list[str]:
    """Columns of one of `kinds`: as the registry declares them, or, for a column it does not
    declare, as their names say (so an undeclared column is checked too)."""
    spec = spec_for(table)
    declared = spec.declared() if spec else {}
    return [
        name
        for name in columns
        if (declared[name] if name in declared else column_kind(name)) in kinds
    ]


def guild_column(table: str, columns: list[str]) -> str | None:
    spec = spec_for(table)
    if spec is not None and spec.guild is not None:
        return spec.guild
    return next((c for c in columns if column_kind(c) == "guild"), None)


def count(service: KnowledgeService, sql: str, **params: object) -> int:
    with service.store.engine.connect() as c:
        return int(c.execute(sa.text(sql), params).scalar_one())


def rows(service: KnowledgeService, sql: str, **params: object) -> list[dict[str, object]]:
    with service.store.engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(sa.text(sql), params).all()]


def rows_of_guild(service: KnowledgeService, guild: int) -> dict[str, int]:
    """table -> rows whose guild column holds `guild`, over every table that has one."""
    out: dict[str, int] = {}
    for table, columns in every_table(service).items():
        column = guild_column(table, columns)
        if column is not None:
            out[table] = count(
                service, f'SELECT count(*) FROM "{table}" WHERE {column} = :g', g=guild
            )
    return out


def post_ids(service: KnowledgeService, guild: int) -> list[int]:
    return [int(r["id"]) for r in rows(service, "SELECT id FROM post WHERE guild_id = :g", g=guild)]


def rows_with_post(service: KnowledgeService, ids: list[int]) -> dict[str, int]:
    """table -> rows whose post column names one of `ids` (post children)."""
    marks = ",".join(str(i) for i in ids) or "NULL"
    return {
        table: count(service, f'SELECT count(*) FROM "{table}" WHERE {column} IN ({marks})')
        for table, columns in every_table(service).items()
        for column in columns_of(table, columns, "post")
    }


def files(data_dir: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file()}


def leftovers(data_dir: Path, needles: list[bytes]) -> list[str]:
    return [
        f"{name}: {needle!r}"
        for name, data in files(data_dir).items()
        for needle in needles
        if needle in data
    ]


def vectors_of(service: KnowledgeService, external_id: str) -> list[bytes]:
    found = rows(
        service,
        "SELECT v.vector FROM postvector v JOIN post p ON p.id = v.post_id "
        "WHERE p.external_id = :e",
        e=external_id,
    )
    return [bytes(r["vector"]) for r in found]  # type: ignore[arg-type]


# -- the registry covers the schema ----------------------------------------------------------------


def test_the_registry_describes_every_table_and_every_id_column(
    service: KnowledgeService,
) -> None:
    """A table or column that names a guild, place, member, actor, post or message and is not
    declared fails here, whether the models know it or only SQLite does."""
    assert registry_problems(SQLModel.metadata) == []
    assert {spec.name for spec in REGISTRY} == set(SQLModel.metadata.tables)
    for table, columns in raw_tables(service).items():
        assert undeclared_columns(table, columns) == [], table


def test_the_registry_check_catches_a_new_table_and_a_new_column() -> None:
    probe = sa.MetaData()
    sa.Table(
        "future_match", probe, sa.Column("guild_id", sa.BigInteger), sa.Column("note", sa.Text)
    )
    sa.Table(
        "safetyalert",
        probe,
        *(sa.Column(c.name, c.type) for c in SQLModel.metadata.tables["safetyalert"].columns),
        sa.Column("escalated_by", sa.BigInteger),
        sa.Column("origin_channel_id", sa.BigInteger),
    )
    assert registry_problems(probe) == [
        "future_match: not in the registry",
        "future_match.guild_id: looks like an id but is not declared",
        "safetyalert.escalated_by: looks like an id but is not declared",
        "safetyalert.origin_channel_id: looks like an id but is not declared",
    ]


def test_every_table_is_populated_for_both_guilds(world: KnowledgeService) -> None:
    """The erase checks below mean something only if every table holds rows to erase."""
    for guild in (GUILD, OTHER_GUILD):
        empty = [table for table, n in rows_of_guild(world, guild).items() if n == 0]
        assert empty == [], f"populate() leaves these tables without rows for guild {guild}"
        children = rows_with_post(world, post_ids(world, guild))
        assert children and all(children.values()), children
    for table in SQLModel.metadata.tables:
        assert count(world, f'SELECT count(*) FROM "{table}"') > 0, table


# -- (a) the bot is removed from a server ----------------------------------------------------------


def test_removing_the_guild_leaves_no_row_naming_it_in_any_table(
    world: KnowledgeService, settings: KindredSettings
) -> None:
    other_before = rows_of_guild(world, OTHER_GUILD)
    removed_posts = post_ids(world, GUILD)
    assert count(world, "SELECT count(*) FROM post_fts_vocab WHERE term = :t", t=TOKEN) == 1

    assert world.purge_guild(GUILD) == 6
    world.flush(force=True)  # a later save must not bring the index bookkeeping back

    left = {table: n for table, n in rows_of_guild(world, GUILD).items() if n}
    assert left == {}
    assert not any(rows_with_post(world, removed_posts).values())
    assert count(world, "SELECT count(*) FROM post_fts_vocab WHERE term = :t", t=TOKEN) == 0
    assert rows_of_guild(world, OTHER_GUILD) == other_before  # the other guild is untouched
    assert GUILD not in world.store.guild_ids()
    assert not list((settings.storage.data_dir / "indexes").glob(f"guild-{GUILD}.*"))
    assert world.privacy.search_mode(GUILD) == "opt_in"  # no cached consent either
    scope = SearchScope(guild_id=OTHER_GUILD, moderator_view=True)
    assert {h.external_id for h in world.search("inhaler works", scope)} >= {"g200-s-b"}


# -- (b) a channel is disabled ---------------------------------------------------------------------


def rows_naming_place(service: KnowledgeService, place_ids: set[int]) -> dict[str, int]:
    """table.column -> rows naming one of `place_ids`, over every place column of the schema
    (declared, or named like one and undeclared); settings the registry keeps are not places."""
    marks = ",".join(str(i) for i in sorted(place_ids))
    found: dict[str, int] = {}
    for table, columns in every_table(service).items():
        for column in columns_of(table, columns, "place"):
            n = count(service, f'SELECT count(*) FROM "{table}" WHERE {column} IN ({marks})')
            found[f"{table}.{column}"] = n
    return found


def test_disabling_a_channel_leaves_no_row_for_it_or_its_threads(
    world: KnowledgeService,
) -> None:
    here = {HERE.channel, HERE.thread}
    before = rows_naming_place(world, here)
    assert before["safetyalert.channel_id"] == 2 and before["backfillcheckpoint.source_id"] == 2
    assert before["channel.parent_id"] == 1 and before["post.thread_id"] == 2
    kept_elsewhere = rows_naming_place(world, {HERE.other_channel, THERE.channel, THERE.thread})

    assert world.disable_channel(GUILD, HERE.channel) == 4

    assert {k: n for k, n in rows_naming_place(world, here).items() if n} == {}
    assert rows_naming_place(world, {HERE.other_channel, THERE.channel, THERE.thread}) == (
        kept_elsewhere
    )
    assert not world.is_enabled(GUILD, HERE.channel)
    assert [s.channel_id for s in world.channel_status(GUILD)] == [HERE.other_channel]
    assert world.ingest([post("again", "new text", channel=HERE.channel)]).skip_counts() == {
        "channel_not_enabled": 1
    }
    enable(world, GUILD, HERE.channel)  # enabling records the channel again
    assert world.ingest([post("again", "new text", channel=HERE.channel)]).inserted == 1


def test_a_setting_that_names_a_disabled_channel_is_kept(world: KnowledgeService) -> None:
    """guildsafety.moderator_channel_id is a setting, not data from that channel (registry)."""
    spec = spec_for("guildsafety")
    assert spec is not None and "moderator_channel_id" in dict(spec.kept)
    world.safety_desk.configure(GUILD, ADMIN, moderator_channel_id=HERE.other_channel)
    world.disable_channel(GUILD, HERE.other_channel)
    assert world.safety_desk.config(GUILD).moderator_channel_id == HERE.other_channel


def test_deleting_a_thread_removes_its_rows_only(world: KnowledgeService) -> None:
    assert world.delete_thread(GUILD, HERE.thread) == 2
    assert {k: n for k, n in rows_naming_place(world, {HERE.thread}).items() if n} == {}
    left = rows_naming_place(world, {HERE.channel})
    assert left["post.channel_id"] == 2 and left["channel.id"] == 1
    assert left["backfillcheckpoint.source_id"] == 1 and left["safetyalert.channel_id"] == 1


# -- (c) a member's delete -------------------------------------------------------------------------


def rows_naming_member(
    service: KnowledgeService, guild: int, member: int
) -> dict[str, list[dict[str, object]]]:
    """table.column -> rows of `guild` naming `member` in a member or actor column."""
    found: dict[str, list[dict[str, object]]] = {}
    for table, columns in every_table(service).items():
        in_guild = guild_column(table, columns)
        where = f" AND {in_guild} = :g" if in_guild else ""
        for column in columns_of(table, columns, "member", "actor"):
            sql = f'SELECT * FROM "{table}" WHERE {column} = :m{where}'
            if hits := rows(service, sql, m=member, g=guild):
                found[f"{table}.{column}"] = hits
    return found


def test_after_a_members_delete_no_row_names_them(world: KnowledgeService) -> None:
    before = rows_naming_member(world, GUILD, LEAVER)
    assert set(before) >= {
        "member.user_id",
        "post.author_id",
        "memberconsent.user_id",
        "memberconsent.updated_by",  # on another member's row
        "consentevent.changed_by",
        "membernotice.user_id",
        "safetyalert.author_id",
        "safetyalert.reported_by",
        "safetyalert.claimed_by",
        "channel.enabled_by",
        "guildsafety.updated_by",
        "guildprivacy.retention_changed_by",
    }
    elsewhere = rows_naming_member(world, OTHER_GUILD, LEAVER)

    report = world.privacy.delete_member(GUILD, LEAVER)

    assert report.posts == 2 and report.tombstones == 2 and report.wal_truncated
    assert rows_naming_member(world, GUILD, LEAVER) == {}
    assert rows_naming_member(world, OTHER_GUILD, LEAVER) == elsewhere
    tombstones = rows(world, "SELECT * FROM posttombstone WHERE guild_id = :g", g=GUILD)
    assert {str(t["external_id"]) for t in tombstones} >= {"g100-crisis", "g100-l-t"}
    assert all(undeclared_columns("posttombstone", list(t)) == [] for t in tombstones)
    again = world.ingest([post("g100-crisis", CRISIS, channel=HERE.channel, author=LEAVER)])
    assert again.skip_counts() == {"deleted_by_member": 1}  # ids alone keep it out


def test_a_refusal_is_the_only_row_that_outlives_a_delete(world: KnowledgeService) -> None:
    """The registry lets memberconsent keep a bare refusal, so deleting never makes a member
    more visible than before; nothing else may name them."""
    world.privacy.delete_member(GUILD, REFUSER)
    left = rows_naming_member(world, GUILD, REFUSER)
    assert set(left) == {"memberconsent.user_id"}
    (row,) = left["memberconsent.user_id"]
    spec = spec_for("memberconsent")
    assert spec is not None and spec.survivor is not None
    assert is_refusal_only(row) and row["searchable"] in (False, 0)
    assert world.privacy.consent(GUILD, REFUSER).searchable_choice is False


def test_an_exclusion_removes_what_they_wrote_and_keeps_their_choices(
    world: KnowledgeService,
) -> None:
    world.privacy.set_consent(GUILD, LEAVER, excluded=True, by=LEAVER)
    left = rows_naming_member(world, GUILD, LEAVER)
    for table in ("post", "member", "safetyalert"):
        assert f"{table}.author_id" not in left and f"{table}.user_id" not in left, table
    assert {"memberconsent.user_id", "consentevent.user_id"} <= set(left)


# -- (d) the words of a crisis post leave every file -----------------------------------------------


def test_a_crisis_posts_words_leave_every_file_after_its_authors_delete(
    world: KnowledgeService, settings: KindredSettings
) -> None:
    data_dir = settings.storage.data_dir
    needles = [*NEEDLES, *vectors_of(world, "g100-crisis")]
    assert leftovers(data_dir, needles)  # the bytes really were on disk
    world.privacy.delete_member(GUILD, LEAVER)
    assert leftovers(data_dir, needles) == []
    world.close()  # an orderly close writes nothing back
    assert leftovers(data_dir, needles) == []


def test_a_crisis_posts_words_leave_every_file_when_the_guild_is_removed(
    world: KnowledgeService, settings: KindredSettings
) -> None:
    data_dir = settings.storage.data_dir
    needles = [*NEEDLES, *vectors_of(world, "g100-crisis")]
    assert leftovers(data_dir, needles)
    world.purge_guild(GUILD)
    assert leftovers(data_dir, needles) == []
    assert leftovers(data_dir, [OTHER_CRISIS.encode()])  # the other guild's post is still held


# -- the migration that took the author out of tombstones ------------------------------------------


def test_migration_0007_drops_the_author_and_keeps_the_tombstones(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path / "old.db"))
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0006")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO posttombstone (guild_id, external_id, author_id, reason, created_at) "
            "VALUES (1, 'm1', 4242, 'deleted_by_member', '2026-01-01 00:00:00')"
        )
    migrate(engine)
    with engine.connect() as connection:
        columns = [r[1] for r in connection.exec_driver_sql("PRAGMA table_info(posttombstone)")]
        kept = connection.exec_driver_sql("SELECT guild_id, external_id FROM posttombstone").all()
    engine.dispose()
    assert "author_id" not in columns and kept == [(1, "m1")]


# -- a single message --------------------------------------------------------------------------


def alerts_about(service: KnowledgeService, external_id: str) -> int:
    return count(service, "SELECT count(*) FROM safetyalert WHERE external_id = :e", e=external_id)


def test_an_alert_outlives_a_discord_delete_but_not_its_authors(world: KnowledgeService) -> None:
    """A moderator may delete a crisis message on Discord and still take the alert; the author's
    own delete of that message in Kindred removes the alert quoting it."""
    assert world.delete_messages(GUILD, ["g100-s-b"]) == 1
    assert alerts_about(world, "g100-s-b") == 1
    assert world.privacy.delete_message(GUILD, "g100-crisis", by=LEAVER).tombstones == 1
    assert alerts_about(world, "g100-crisis") == 0
    assert alerts_about(world, "g200-crisis") == 1  # the same message id pattern elsewhere stays
