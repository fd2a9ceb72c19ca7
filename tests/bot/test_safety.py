"""Crisis language against the fake Discord: resources at once, a role-only alert, claims,
reports, throttling, and a guild with no moderator channel."""

from __future__ import annotations

from typing import Any

import pytest

from knowledge.scope import SearchScope
from knowledge.service import KnowledgeService

from .conftest import QuickBot, Server, enable, eventually
from .payloads import FakeChannel

CRISIS = "I have the pills ready and tonight I am going to end my life. Goodbye everyone."
ORDINARY = "Tonight I am trying the new sleep routine; my migraine pills are ready."


def bot_messages(channel: FakeChannel, bot: QuickBot) -> list[dict[str, Any]]:
    assert bot.user is not None
    return [m for m in channel.messages.values() if int(m["author"]["id"]) == bot.user.id]


def sends_to(server: Server, channel: FakeChannel) -> list[Any]:
    return server.fake.calls("POST", rf"/channels/{channel.id}/messages")


async def set_up_alerts(server: Server) -> None:
    ix = await server.fake.slash_command(
        "safety setup",
        user=server.admin,
        channel=server.general,
        options={"moderator_channel": server.staff, "moderator_role": server.staff_role},
    )
    reply = await ix.wait_response()
    assert reply["data"]["flags"] & 64
    assert f"<#{server.staff.id}>" in reply["data"]["content"]


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
    assert kservice.safety_desk.alert(alert_id).claimed_by == server.alice.id


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
