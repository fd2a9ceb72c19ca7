"""Similar threads when someone asks, `/similar`, "Not helpful", and unanswered questions sent to
helpers, through the real client against the fake Discord."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import select

from bot.config import BotSettings
from bot.permissions import public_reply_sources
from knowledge.service import KnowledgeService
from knowledge.store.models import (
    MemberProfile,
    ProfileCondition,
    Question,
    Suggestion,
    SuggestionFeedback,
)

from .conftest import VIEW, QuickBot, Server, enable, eventually, make_bot, sent_bodies
from .payloads import FakeChannel, FakeMember, Overwrite

SIMILAR = "prednisone taper wrecked my sleep during my crohn's flare"
QUESTION = "prednisone taper wrecked my sleep during a crohn's flare, how do you cope?"
CRISIS = "I have the pills ready and tonight I am going to end my life. Goodbye everyone."
UNRELATED = "what is the best sourdough starter for rye bread?"
PANIC = "I get panic attacks every morning before work, how do you all cope with them?"


def bot_messages(channel: FakeChannel, bot: QuickBot) -> list[dict[str, Any]]:
    assert bot.user is not None
    return [m for m in channel.messages.values() if int(m["author"]["id"]) == bot.user.id]


def cog(bot: QuickBot) -> Any:
    found = bot.get_cog("SuggestionsCog")
    assert found is not None
    return found


async def turn_on(server: Server, channel: FakeChannel) -> None:
    ix = await server.fake.slash_command(
        "suggestions on", user=server.admin, channel=server.general, options={"channel": channel}
    )
    reply = await ix.wait_response()
    assert reply["data"]["flags"] & 64 and "Suggestions are on" in reply["data"]["content"]


def questions(service: KnowledgeService) -> list[Question]:
    with service.store.session() as session:
        return list(session.exec(select(Question)).all())


async def settled(bot: QuickBot) -> None:
    """Let every offloaded call and the sends after it finish."""
    for _ in range(3):
        await bot.offload.wait_idle(5)
        await asyncio.sleep(0.1)


def links(message: dict[str, Any]) -> str:
    return "\n".join(f["value"] for e in message.get("embeds", []) for f in e.get("fields", []))


async def test_a_forum_post_gets_one_reply_with_safe_prior_threads(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    world = server.world
    carol = world.add_member(server.guild, "carol")
    dave = world.add_member(server.guild, "dave")  # says no to being found
    t1, _ = world.add_forum_post(server.forum, "taper", server.bob, SIMILAR + " too")
    t2, _ = world.add_forum_post(server.forum, "sleep", carol, SIMILAR + " last spring")
    t3, _ = world.add_forum_post(server.forum, "flare", server.bob, SIMILAR + " this winter")
    t4, _ = world.add_forum_post(server.forum, "again", carol, SIMILAR + " again")
    shy, _ = world.add_forum_post(server.forum, "shy", dave, SIMILAR + " ugh")
    dark, _ = world.add_forum_post(server.forum, "dark", server.bob, SIMILAR + " and")
    world.add_message(dark, carol, CRISIS)  # a crisis-level post inside that thread
    staff_post = world.add_message(server.staff, server.admin, QUESTION)
    async with server.fake.running(bot):
        await enable(server, server.forum, bot)
        await enable(server, server.staff, bot)
        kservice.privacy.set_consent(server.guild.id, dave.id, searchable=False, by=dave.id)
        await turn_on(server, server.forum)
        thread, starter = await server.fake.create_forum_post(
            server.forum, "crohn's and prednisone", server.alice, QUESTION
        )
        await eventually(lambda: bool(bot_messages(thread, bot)), what="suggestion reply")
        await server.fake.dispatch("MESSAGE_CREATE", starter)  # the same event again
        await settled(bot)
    (reply,) = bot_messages(thread, bot)
    assert str(reply["message_reference"]["message_id"]) == starter["id"]
    fields = reply["embeds"][0]["fields"]
    assert 1 <= len(fields) <= 3
    shown = links(reply)
    assert any(f"/{t.id}/" in shown for t in (t1, t2, t3, t4))
    for forbidden in (shy.id, dark.id, server.staff.id, thread.id):
        assert f"/{forbidden}/" not in shown  # no refusal, no crisis thread, no staff channel
    assert staff_post["id"] not in shown
    assert "not medical advice" in reply["embeds"][0]["footer"]["text"]
    (button,) = reply["components"][0]["components"]
    assert (
        button["custom_id"].startswith("kindred:suggestion:") and button["label"] == "Not helpful"
    )
    helped = reply["components"][1]["components"]  # one "This helped" per suggested thread
    assert [b["label"] for b in helped] == [f"{n} helped" for n in range(1, len(fields) + 1)]
    assert all(b["custom_id"].startswith("kindred:helped:") for b in helped)
    for call, body in sent_bodies(server.fake):
        mentions = body.get("allowed_mentions") or {}
        assert mentions.get("parse") == [] and not mentions.get("users"), call.path
        assert not mentions.get("roles") and not mentions.get("replied_user"), call.path


async def test_nothing_posted_when_nothing_is_close(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    server.world.add_forum_post(server.forum, "taper", server.bob, SIMILAR)
    async with server.fake.running(bot):
        await enable(server, server.forum, bot)
        await turn_on(server, server.forum)
        thread, _ = await server.fake.create_forum_post(
            server.forum, "bread", server.alice, UNRELATED
        )
        await eventually(lambda: len(questions(kservice)) == 1, what="question recorded")
        await settled(bot)
    assert bot_messages(thread, bot) == []


async def test_questions_in_a_text_channel_and_not_helpful(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    server.world.add_message(server.offtopic, server.bob, SIMILAR + " too")
    server.world.add_message(server.offtopic, server.admin, SIMILAR + " last year")
    async with server.fake.running(bot):
        await enable(server, server.offtopic, bot)
        await turn_on(server, server.general)
        statement = await server.fake.send_message(server.general, server.alice, SIMILAR)
        asked = await server.fake.send_message(server.general, server.alice, QUESTION)
        await eventually(lambda: bool(bot_messages(server.general, bot)), what="reply")
        await settled(bot)
        (reply,) = bot_messages(server.general, bot)
        assert str(reply["message_reference"]["message_id"]) == asked["id"]
        assert statement["id"] not in {q.external_id for q in questions(kservice)}
        custom_id = reply["components"][0]["components"][0]["custom_id"]
        other = await server.fake.click(reply, custom_id, user=server.bob)
        noted = await other.wait_response()
        assert noted["type"] == 4 and noted["data"]["flags"] & 64
        assert "counted" in noted["data"]["content"]
        own = await server.fake.click(reply, custom_id, user=server.alice)
        hidden = await own.wait_response()
    assert hidden["type"] == 7
    assert hidden["data"]["components"] == [] and hidden["data"]["content"] == ""
    assert "hidden" in hidden["data"]["embeds"][0]["description"]
    assert "prednisone" not in str(hidden["data"])
    with kservice.store.session() as session:
        feedback = session.exec(select(SuggestionFeedback)).all()
        (suggestion,) = session.exec(select(Suggestion)).all()
    assert sorted(f.user_id for f in feedback) == sorted([server.bob.id, server.alice.id])
    assert suggestion.hidden_at is not None and suggestion.reply_message_id == int(reply["id"])


async def test_similar_is_private_and_scoped_to_the_asker(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    staff_post = server.world.add_message(server.staff, server.admin, SIMILAR + " (staff)")
    server.world.add_message(server.general, server.admin, SIMILAR + " (everyone)")
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        await enable(server, server.staff, bot)

        async def similar(user: FakeMember) -> dict[str, Any]:
            ix = await server.fake.slash_command(
                "similar", user=user, channel=server.general, options={"text": QUESTION}
            )
            await ix.wait_response()
            await eventually(lambda: bool(ix.followups), what="similar")
            return ix.followups[0]

        as_alice = await similar(server.alice)
        as_bob = await similar(server.bob)
        bare = await server.fake.slash_command("similar", user=server.bob, channel=server.general)
        refused = await bare.wait_response()
    assert as_alice["flags"] & 64 and as_bob["flags"] & 64
    assert staff_post["id"] in links(as_alice) and staff_post["id"] not in links(as_bob)
    assert f"/{server.general.id}/" in links(as_bob)
    assert refused["data"]["flags"] & 64 and "`text`" in refused["data"]["content"]


def make_helper(
    service: KnowledgeService, guild_id: int, user: int, conditions: Iterable[str]
) -> None:
    with service.store.write() as session:
        session.add(MemberProfile(guild_id=guild_id, user_id=user, helper=True))
        for cid in conditions:
            session.add(
                ProfileCondition(guild_id=guild_id, user_id=user, condition_id=cid, helps=True)
            )


def dms_to(server: Server, member: FakeMember) -> list[dict[str, Any]]:
    dm = server.world.dms.get(member.id)
    if dm is None:
        return []
    return [c.json for c in server.fake.calls("POST", rf"/channels/{dm.id}/messages")]


async def test_unanswered_questions_reach_at_most_three_helpers_who_can_read(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    world, gid = server.world, server.guild.id
    helpers = [world.add_member(server.guild, f"helper{i}") for i in range(4)]
    locked_out = world.add_member(server.guild, "locked")  # helps, but cannot read the forum
    other = world.add_member(server.guild, "other")  # helps with another condition
    server.forum.overwrites.append(Overwrite(locked_out.id, 1, deny=VIEW))
    async with server.fake.running(bot):
        for member in (*helpers, locked_out, server.alice):
            make_helper(kservice, gid, member.id, ["panic_disorder"])
        make_helper(kservice, gid, other.id, ["crohns"])
        await turn_on(server, server.forum)
        unanswered, starter = await server.fake.create_forum_post(
            server.forum, "mornings", server.alice, PANIC
        )
        answered, _ = await server.fake.create_forum_post(
            server.forum, "panic", server.bob, PANIC.replace("every morning", "at night")
        )
        await eventually(lambda: len(questions(kservice)) == 2, what="questions")
        await server.fake.send_message(answered, server.alice, "same here, breathing helps me")
        await eventually(
            lambda: any(q.first_reply_at for q in questions(kservice)), what="first reply"
        )
        await settled(bot)
        now = datetime.now(UTC)
        assert await cog(bot).check_unanswered(now + timedelta(minutes=30)) == 0
        assert await cog(bot).check_unanswered(now + timedelta(minutes=61)) == 3
        assert await cog(bot).check_unanswered(now + timedelta(minutes=62)) == 0  # once
    reached = [m for m in helpers if dms_to(server, m)]
    assert len(reached) == 3
    for member in (locked_out, other, server.alice, server.bob):
        assert dms_to(server, member) == []
    body = dms_to(server, reached[0])[0]
    url = f"https://discord.com/channels/{gid}/{unanswered.id}/{starter['id']}"
    assert url in body["content"] and "panic disorder" in body["content"]
    assert "every morning" not in body["content"]  # never the question's text
    assert body["allowed_mentions"] == {"parse": []}
    (routed,) = [q for q in questions(kservice) if q.routed_at is not None]
    assert routed.external_id == starter["id"] and routed.helpers_asked == 3


async def test_public_replies_link_only_channels_every_reader_can_read(
    server: Server, bot: QuickBot
) -> None:
    world, guild = server.world, server.guild
    staff_twin = world.add_channel(guild, "staff-2", overwrites=list(server.staff.overwrites))
    one_denied = world.add_channel(
        guild, "almost-open", overwrites=[Overwrite(server.bob.id, 1, deny=VIEW)]
    )
    async with server.fake.running(bot):
        g = bot.get_guild(guild.id)
        assert g is not None
        ids = [server.general.id, server.staff.id, staff_twin.id, one_denied.id, server.forum.id]

        def allowed(current: FakeChannel) -> frozenset[int]:
            channel = g.get_channel(current.id)
            assert channel is not None
            return public_reply_sources(g, channel, ids)

        from_forum = allowed(server.forum)
        from_staff = allowed(server.staff)
        from_denied = allowed(one_denied)
    assert from_forum == {server.general.id, server.forum.id}
    assert from_staff == {server.general.id, server.forum.id, server.staff.id, staff_twin.id}
    assert from_denied == {server.general.id, server.forum.id, one_denied.id}


async def test_deleting_a_suggestion_channel_removes_its_questions(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    async with server.fake.running(bot):
        await turn_on(server, server.offtopic)
        await server.fake.send_message(server.offtopic, server.bob, PANIC)
        await eventually(lambda: len(questions(kservice)) == 1, what="question")
        await server.fake.delete_channel(server.offtopic)
        await eventually(lambda: not questions(kservice), what="purge")
        await settled(bot)
    assert not kservice.suggestions.enabled_channel_ids(server.guild.id)


async def test_a_crisis_question_gets_the_crisis_path_not_suggestions(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    async with server.fake.running(bot):
        ix = await server.fake.slash_command(
            "safety setup",
            user=server.admin,
            channel=server.general,
            options={"moderator_channel": server.staff, "moderator_role": server.staff_role},
        )
        await ix.wait_response()
        await turn_on(server, server.forum)  # suggestions on; the forum itself is not indexed
        thread, _ = await server.fake.create_forum_post(server.forum, "tonight", server.bob, CRISIS)
        await eventually(lambda: bool(bot_messages(thread, bot)), what="resources")
        await eventually(lambda: bool(bot_messages(server.staff, bot)), what="alert")
        await settled(bot)
    (reply,) = bot_messages(thread, bot)
    assert "findahelpline.com" in reply["content"] and not reply.get("components")
    (question,) = questions(kservice)
    assert question.crisis
    now = datetime.now(UTC)
    assert question.id not in {
        q.id for q in kservice.suggestions.routing.due(now + timedelta(hours=2))
    }


async def test_a_new_thread_in_a_text_channel_is_a_question(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    server.world.add_message(server.offtopic, server.bob, SIMILAR + " too")
    async with server.fake.running(bot):
        await enable(server, server.offtopic, bot)
        await turn_on(server, server.general)
        thread = await server.fake.create_thread(server.general, "taper", owner=server.alice)
        first = await server.fake.send_message(thread, server.alice, SIMILAR)  # no "?" needed
        await eventually(lambda: bool(bot_messages(thread, bot)), what="reply in the thread")
        await server.fake.send_message(thread, server.bob, "same, it got better after a week")
        await eventually(
            lambda: any(q.first_reply_at for q in questions(kservice)), what="first reply"
        )
        await settled(bot)
    (reply,) = bot_messages(thread, bot)
    assert str(reply["message_reference"]["message_id"]) == first["id"]
    (question,) = questions(kservice)
    assert question.thread_id == thread.id and question.external_id == first["id"]


async def test_not_helpful_works_after_a_restart(
    server: Server, bot: QuickBot, kservice: KnowledgeService, settings: BotSettings
) -> None:
    server.world.add_forum_post(server.forum, "taper", server.bob, SIMILAR)
    async with server.fake.running(bot):
        await enable(server, server.forum, bot)
        await turn_on(server, server.forum)
        asked, _ = await server.fake.create_forum_post(server.forum, "q", server.alice, QUESTION)
        await eventually(lambda: bool(bot_messages(asked, bot)), what="reply")
        await settled(bot)
    (reply,) = bot_messages(asked, bot)
    restarted = make_bot(kservice, settings)
    async with server.fake.running(restarted):
        click = await server.fake.click(
            reply, reply["components"][0]["components"][0]["custom_id"], user=server.alice
        )
        hidden = await click.wait_response()
    assert hidden["type"] == 7 and hidden["data"]["components"] == []
