"""Crisis language against the fake Discord: resources at once, a role-only alert, claims,
reports, throttling, a guild with no moderator channel, alerts raised again once when nobody
claims them, the daily digest, `/safety show`, quiet concern alerts and DM replies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from knowledge.embeddings import HashingEmbedder
from knowledge.safety.model import model_for
from knowledge.scope import SearchScope
from knowledge.service import KnowledgeService

from .conftest import QuickBot, Server, enable, eventually
from .payloads import FakeChannel, FakeRole

CRISIS = "I have the pills ready and tonight I am going to end my life. Goodbye everyone."
ORDINARY = "Tonight I am trying the new sleep routine; my migraine pills are ready."
CONCERN = "I keep thinking about suicide."


@pytest.fixture(scope="module", autouse=True)
def trained_classifier() -> None:
    """Train the fake embedder's classifier (seconds on a busy machine) before any test waits
    for an alert: the first crisis post would otherwise pay for it inside `eventually`."""
    model_for(HashingEmbedder())


def bot_messages(channel: FakeChannel, bot: QuickBot) -> list[dict[str, Any]]:
    assert bot.user is not None
    return [m for m in channel.messages.values() if int(m["author"]["id"]) == bot.user.id]


def sends_to(server: Server, channel: FakeChannel) -> list[Any]:
    return server.fake.calls("POST", rf"/channels/{channel.id}/messages")


async def set_up_alerts(server: Server, **more: Any) -> dict[str, Any]:
    ix = await server.fake.slash_command(
        "safety setup",
        user=server.admin,
        channel=server.general,
        options={"moderator_channel": server.staff, "moderator_role": server.staff_role, **more},
    )
    reply = await ix.wait_response()
    assert reply["data"]["flags"] & 64
    assert f"<#{server.staff.id}>" in reply["data"]["content"]
    return reply


def safety_cog(bot: QuickBot) -> Any:
    cog = bot.get_cog("SafetyCog")
    assert cog is not None
    return cog


def in_a_while(minutes: float) -> datetime:
    """The loop's clock, moved on: the cog's check is driven directly instead of waiting."""
    return datetime.now(UTC) + timedelta(minutes=minutes)


def assert_pings_only(body: dict[str, Any], role: FakeRole) -> None:
    assert body["content"] == f"<@&{role.id}>"
    assert body["allowed_mentions"]["parse"] == []
    assert [int(r) for r in body["allowed_mentions"]["roles"]] == [role.id]
    assert not body["allowed_mentions"].get("users")


async def test_crisis_post_gets_resources_and_a_role_only_alert(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        await set_up_alerts(server)
        crisis = await server.fake.send_message(server.general, server.bob, CRISIS)
        await server.fake.send_message(server.general, server.alice, ORDINARY)
        await eventually(lambda: len(bot_messages(server.staff, bot)) == 1, what="alert")
        await eventually(lambda: len(bot_messages(server.general, bot)) == 1, what="resources")
    (reply_call,) = sends_to(server, server.general)
    body = reply_call.json
    assert str(body["message_reference"]["message_id"]) == crisis["id"]
    assert "findahelpline.com" in body["content"] and "moderator" in body["content"]
    assert body["allowed_mentions"]["parse"] == []
    (alert_call,) = sends_to(server, server.staff)
    alert = alert_call.json
    assert alert["content"] == f"<@&{server.staff_role.id}>"
    assert alert["allowed_mentions"]["parse"] == []
    assert [int(r) for r in alert["allowed_mentions"]["roles"]] == [server.staff_role.id]
    assert not alert["allowed_mentions"].get("users")
    assert crisis["id"] in alert["embeds"][0]["description"]
    assert alert["components"][0]["components"][0]["custom_id"].startswith("kindred:alert:")
    # excluded from other members' search and suggestions; the author still finds it
    other = SearchScope(guild_id=server.guild.id, asker_id=server.alice.id)
    assert crisis["id"] not in {h.external_id for h in kservice.search("pills tonight", other)}
    similar = kservice.similar_to_text(CRISIS, other)
    assert crisis["id"] not in {h.external_id for h in similar}
    own = SearchScope(guild_id=server.guild.id, asker_id=server.bob.id)
    assert crisis["id"] in {h.external_id for h in kservice.search("pills tonight", own)}


async def test_claim_button_records_the_first_moderator(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        await set_up_alerts(server)
        await server.fake.send_message(server.general, server.bob, CRISIS)
        await eventually(lambda: len(bot_messages(server.staff, bot)) == 1, what="alert")
        (alert,) = bot_messages(server.staff, bot)
        custom_id = alert["components"][0]["components"][0]["custom_id"]
        first = await server.fake.click(alert, custom_id, user=server.alice)
        answer = await first.wait_response()
        assert answer["type"] == 7  # the alert itself is edited: "Taken by"
        fields = answer["data"]["embeds"][0]["fields"]
        assert {"name": "Taken by", "value": f"<@{server.alice.id}>", "inline": False} in fields
        assert answer["data"]["components"][0]["components"][0]["disabled"] is True
        second = await server.fake.click(alert, custom_id, user=server.admin)
        late = await second.wait_response()
        assert late["data"]["flags"] & 64 and str(server.alice.id) in late["data"]["content"]
    alert_id = int(custom_id.rsplit(":", 1)[1])
    claimed = kservice.safety_desk.alert(alert_id)
    assert claimed.claimed_by == server.alice.id  # who
    assert claimed.claimed_at is not None and claimed.claimed_at >= claimed.created_at  # when


async def test_repeated_posts_answer_the_member_but_alert_once(
    server: Server, bot: QuickBot
) -> None:
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        await set_up_alerts(server)
        await server.fake.send_message(server.general, server.bob, CRISIS)
        await server.fake.send_message(server.general, server.bob, CRISIS + " I mean it.")
        await eventually(lambda: len(bot_messages(server.general, bot)) == 2, what="replies")
        await eventually(lambda: len(bot_messages(server.staff, bot)) >= 1, what="alert")
    assert len(bot_messages(server.staff, bot)) == 1


async def test_without_a_moderator_channel_the_member_still_gets_resources(
    server: Server, bot: QuickBot
) -> None:
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        await server.fake.send_message(server.general, server.bob, CRISIS)
        await eventually(lambda: len(bot_messages(server.general, bot)) == 1, what="resources")
        ix = await server.fake.slash_command(
            "kindred status", user=server.admin, channel=server.general
        )
        await ix.wait_response()
        await eventually(lambda: ix.original is not None or bool(ix.followups), what="status")
    assert bot_messages(server.staff, bot) == []
    (reply,) = bot_messages(server.general, bot)
    assert "findahelpline.com" in reply["content"]
    status = str(ix.response) + str(ix.original) + str(ix.followups)
    assert "alerts go nowhere" in status


async def test_report_reaches_moderators_without_naming_the_reporter(
    server: Server, bot: QuickBot
) -> None:
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        await set_up_alerts(server)
        target = await server.fake.send_message(server.general, server.bob, ORDINARY)
        ix = await server.fake.message_command(
            "Report to moderators", user=server.alice, target=target
        )
        await ix.wait_response()
        await eventually(lambda: len(bot_messages(server.staff, bot)) == 1, what="alert")
        await eventually(lambda: bool(ix.original or ix.followups), what="confirmation")
    assert ix.response is not None and ix.response["data"]["flags"] & 64
    (alert_call,) = sends_to(server, server.staff)
    text = str(alert_call.json)
    assert target["id"] in text and "reported" in text
    assert str(server.alice.id) not in text


async def test_flags_are_answered_by_the_loaded_safety_extension(
    server: Server, bot: QuickBot, caplog: pytest.LogCaptureFixture
) -> None:
    """The client imports no cog: the safety extension registers its answer when loaded."""

    def unanswered() -> bool:
        return any("no safety handler" in r.getMessage() for r in caplog.records)

    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        await bot.unload_extension("bot.cogs.safety")
        unheard = await server.fake.send_message(server.general, server.bob, CRISIS)
        await eventually(unanswered, what="the flag handled without the safety cog")
        assert unheard["id"] in caplog.text and "I have the pills" not in caplog.text
        assert bot_messages(server.general, bot) == []
        await bot.load_extension("bot.cogs.safety")
        await server.fake.send_message(server.general, server.alice, CRISIS)
        await eventually(lambda: len(bot_messages(server.general, bot)) == 1, what="resources")
    (reply,) = bot_messages(server.general, bot)
    assert "findahelpline.com" in reply["content"]
    assert str(reply["message_reference"]["message_id"]) != unheard["id"]


# -- alerts that are answered (issue 14, item 2) ---------------------------------------------------


async def test_an_unclaimed_alert_is_raised_again_once_and_appears_in_the_digest(
    server: Server, bot: QuickBot
) -> None:
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        await set_up_alerts(server)
        crisis = await server.fake.send_message(server.general, server.bob, CRISIS)
        await eventually(lambda: len(bot_messages(server.staff, bot)) == 1, what="alert")
        cog = safety_cog(bot)
        assert cog.watch.is_running()  # the loop that calls check_alerts every minute
        assert await cog.check_alerts(in_a_while(14)) == (0, 0)  # not yet
        assert await cog.check_alerts(in_a_while(16)) == (1, 1)  # raised again; digest due
        assert await cog.check_alerts(in_a_while(30)) == (0, 0)  # once only
        assert await cog.check_alerts(in_a_while(60 * 12)) == (0, 0)  # one digest a day
        assert await cog.check_alerts(in_a_while(60 * 24 + 20)) == (0, 1)  # the next day's
    first, again, digest, next_day = (c.json for c in sends_to(server, server.staff))
    # no escalation target set: the same channel, pinging the moderator role and nothing else
    assert_pings_only(again, server.staff_role)
    (embed,) = again["embeds"]
    assert "unclaimed after 15 minutes" in embed["title"] and crisis["id"] in embed["description"]
    assert (
        again["components"][0]["components"][0]["custom_id"]
        == (first["components"][0]["components"][0]["custom_id"])
    )
    assert "pills" not in str(again)
    # the digest: jump link and age, no ping, never the member's words
    assert digest["allowed_mentions"]["parse"] == [] and not digest.get("content")
    (listed,) = digest["embeds"]
    assert listed["title"] == "Unclaimed alerts: 1"
    url = f"https://discord.com/channels/{server.guild.id}/{server.general.id}/{crisis['id']}"
    assert url in listed["description"] and "min old, raised again" in listed["description"]
    assert "pills" not in str(digest) and "end my life" not in str(digest)
    assert url in next_day["embeds"][0]["description"]


async def test_raised_again_in_the_escalation_channel_pinging_the_escalation_role(
    server: Server, bot: QuickBot
) -> None:
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        reply = await set_up_alerts(
            server, escalation_channel=server.offtopic, escalation_role=server.admins
        )
        assert f"raised again once in <#{server.offtopic.id}>" in reply["data"]["content"]
        await server.fake.send_message(server.general, server.bob, CRISIS)
        await eventually(lambda: len(bot_messages(server.staff, bot)) == 1, what="alert")
        assert await safety_cog(bot).check_alerts(in_a_while(16)) == (1, 1)
    (again,) = sends_to(server, server.offtopic)
    assert_pings_only(again.json, server.admins)
    _alert, digest = sends_to(server, server.staff)  # the digest stays with the moderators
    assert "Unclaimed alerts" in digest.json["embeds"][0]["title"]


async def test_a_claimed_alert_is_not_raised_again_nor_in_the_digest(
    server: Server, bot: QuickBot
) -> None:
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        await set_up_alerts(server)
        await server.fake.send_message(server.general, server.bob, CRISIS)
        await eventually(lambda: len(bot_messages(server.staff, bot)) == 1, what="alert")
        (alert,) = bot_messages(server.staff, bot)
        custom_id = alert["components"][0]["components"][0]["custom_id"]
        await (await server.fake.click(alert, custom_id, user=server.alice)).wait_response()
        assert await safety_cog(bot).check_alerts(in_a_while(16)) == (0, 0)
        assert await safety_cog(bot).check_alerts(in_a_while(60 * 30)) == (0, 0)
    assert len(sends_to(server, server.staff)) == 1


async def test_safety_show_lists_open_alerts(server: Server, bot: QuickBot) -> None:
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        await set_up_alerts(server)
        crisis = await server.fake.send_message(server.general, server.bob, CRISIS)
        await eventually(lambda: len(bot_messages(server.staff, bot)) == 1, what="alert")
        ix = await server.fake.slash_command("safety show", user=server.admin, channel=server.staff)
        shown = await ix.wait_response()
    assert shown["data"]["flags"] & 64
    (embed,) = shown["data"]["embeds"]
    assert embed["title"] == "Open alerts: 1"
    assert crisis["id"] in embed["description"] and "crisis, 0 min old" in embed["description"]
    assert "pills" not in str(shown)


# -- as configured: concern alerts and DM replies (issue 14, item 3) -------------------------------


async def test_concern_alerts_are_quiet_and_can_be_turned_off(
    server: Server, bot: QuickBot
) -> None:
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        await set_up_alerts(server)
        worry = await server.fake.send_message(server.general, server.bob, CONCERN)
        await eventually(lambda: len(bot_messages(server.staff, bot)) == 1, what="concern alert")
        await set_up_alerts(server, concern_alerts=False)
        await server.fake.send_message(server.general, server.alice, CONCERN)
        crisis = await server.fake.send_message(server.general, server.admin, CRISIS)
        await eventually(lambda: len(bot_messages(server.staff, bot)) == 2, what="crisis alert")
        await eventually(lambda: len(bot_messages(server.general, bot)) == 1, what="resources")
    quiet, loud = (c.json for c in sends_to(server, server.staff))
    assert not quiet.get("content") and quiet["allowed_mentions"]["parse"] == []
    assert not quiet["allowed_mentions"].get("roles")
    assert worry["id"] in quiet["embeds"][0]["description"]
    assert "concern" in quiet["embeds"][0]["title"]
    assert crisis["id"] in loud["embeds"][0]["description"]  # alice's concern: no alert
    (reply,) = bot_messages(server.general, bot)  # only the crisis post is answered
    assert str(reply["message_reference"]["message_id"]) == crisis["id"]


async def test_dm_mode_answers_the_member_privately(server: Server, bot: QuickBot) -> None:
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        await set_up_alerts(server, reply="dm")
        await server.fake.send_message(server.general, server.bob, CRISIS)
        await eventually(lambda: len(bot_messages(server.staff, bot)) == 1, what="alert")
        dm = server.world.dm_with(server.bob)
        await eventually(lambda: len(bot_messages(dm, bot)) == 1, what="the DM")
    (sent,) = bot_messages(dm, bot)
    assert "findahelpline.com" in sent["content"] and "moderator" in sent["content"]
    assert bot_messages(server.general, bot) == []
