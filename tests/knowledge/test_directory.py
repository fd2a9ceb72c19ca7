"""The directory: guilds, members and channels with post counts; ids and names resolved."""

from __future__ import annotations

from datetime import timedelta

import pytest

from knowledge.directory import Directory
from knowledge.errors import InvalidInput, NotFound
from knowledge.records import ChannelRecord, PostRecord
from knowledge.service import KnowledgeService
from knowledge.store.checkpoints import BackfillCheckpoints
from knowledge.store.models import ChannelKind
from tests.conftest import GUILD, OTHER_GUILD, T0, enable, post

pytestmark = pytest.mark.both_backends  # SQLite and a real PostgreSQL

MAYA, SAM, QUIET = 777, 778, 779


def named(record: PostRecord, handle: str | None) -> PostRecord:
    return PostRecord(**{**record.__dict__, "author_handle": handle})


@pytest.fixture
def directory(service: KnowledgeService) -> Directory:
    enable(service, GUILD, 1, "general")
    enable(service, GUILD, 2, "sleep")
    service.upsert_channels([ChannelRecord(50, GUILD, "night lows", ChannelKind.THREAD, 1)])
    enable(service, OTHER_GUILD, 3, "general")
    service.ingest(
        [
            named(post("a", "night lows again", author=MAYA), "maya_lc"),
            named(post("b", "juice by the bed", author=MAYA, thread=50, minutes=1), "maya_lc"),
            named(post("c", "sleep restriction helped", author=SAM, channel=2, minutes=2), "Sam"),
            post("d", "a quiet member's post", author=QUIET, minutes=3),
            named(post("e", "elsewhere", guild=OTHER_GUILD, channel=3, author=SAM), "sam"),
        ]
    )
    return Directory(service.store)


def test_guilds_members_and_channels_with_counts(directory: Directory) -> None:
    assert [(g.id, g.posts, g.members, g.channels_enabled) for g in directory.guilds()] == [
        (GUILD, 4, 3, 2),
        (OTHER_GUILD, 1, 1, 1),
    ]
    assert directory.has_guild(GUILD) and not directory.has_guild(999)
    members = [(m.user_id, m.handle, m.posts) for m in directory.members(GUILD)]
    assert members == [(MAYA, "maya_lc", 2), (SAM, "Sam", 1), (QUIET, None, 1)]
    channels = [(c.id, c.label, c.kind, c.enabled, c.posts) for c in directory.channels(GUILD)]
    assert channels == [
        (1, "#general", "text", True, 3),
        (50, "#night lows", "thread", False, 1),
        (2, "#sleep", "text", True, 1),
    ]


def test_members_resolve_by_id_or_name(directory: Directory) -> None:
    assert directory.resolve_member(GUILD, str(MAYA)).handle == "maya_lc"
    assert directory.resolve_member(GUILD, "maya_lc").user_id == MAYA
    assert directory.resolve_member(GUILD, "@MAYA_LC").user_id == MAYA  # case and @ ignored
    assert directory.resolve_member(GUILD, str(QUIET)).posts == 1  # no name: the id
    assert directory.resolve_member(OTHER_GUILD, "sam").user_id == SAM
    for missing in ("nobody", "12345", str(MAYA + 100)):
        with pytest.raises(NotFound):
            directory.resolve_member(GUILD, missing)
    with pytest.raises(NotFound):  # a member of another guild is not this guild's
        directory.resolve_member(OTHER_GUILD, "maya_lc")


def test_a_name_shared_by_two_members_is_refused_with_their_ids(
    service: KnowledgeService, directory: Directory
) -> None:
    service.ingest([named(post("f", "hello there", author=900, minutes=9), "Sam")])
    with pytest.raises(InvalidInput, match=f"{SAM}, 900"):
        directory.resolve_member(GUILD, "Sam")
    assert directory.resolve_member(GUILD, "900").user_id == 900


def test_channels_resolve_by_id_or_name(directory: Directory) -> None:
    assert directory.resolve_channel(GUILD, "#sleep").id == 2
    assert directory.resolve_channel(GUILD, "1").label == "#general"
    thread = directory.resolve_channel(GUILD, "Night Lows")
    assert thread.is_thread and thread.parent_id == 1
    with pytest.raises(NotFound):
        directory.resolve_channel(GUILD, "3")  # another guild's channel
    assert directory.channel_owner(3) == OTHER_GUILD and directory.channel_owner(4) is None
    general, lows = directory.channel(1), directory.channel(50)
    assert general is not None and (general.name, general.posts) == ("general", 3)
    assert lows is not None and (lows.is_thread, lows.posts) == (True, 1)
    assert directory.channel(4) is None


def test_knows_member_through_any_row(service: KnowledgeService, directory: Directory) -> None:
    assert not directory.knows_member(GUILD, 4242)
    service.privacy.set_consent(GUILD, 4242, searchable=True, by=4242)
    assert directory.knows_member(GUILD, 4242)
    assert directory.resolve_member(GUILD, "4242").posts == 0


def test_posts_before_and_history_checkpoint(directory: Directory) -> None:
    assert directory.posts_before(GUILD, T0 + timedelta(minutes=2)) == 2
    directory.continue_history_after(GUILD, 1, 50, newest_id=1234, added=1)
    directory.continue_history_after(GUILD, 1, 50, newest_id=1000, added=0)  # never moves back
    found = BackfillCheckpoints(directory.store).get(50)
    assert found is not None and found.cursor == 1234 and not found.complete
    assert found.channel_id == 1
