"""The reports queue through the real client: three reports of one message are one item and
one alert; a member over the daily limit is refused politely and moderators hear nothing more;
`/safety queue` lists open items (how many reported, never who) with Resolve and Hide buttons."""

from __future__ import annotations

from typing import Any

from knowledge.config import ReportSettings
from knowledge.service import KnowledgeService

from .conftest import QuickBot, Server, enable, eventually, make_bot
from .payloads import FakeMember
from .test_safety import ORDINARY, bot_messages, sends_to, set_up_alerts


async def report(server: Server, user: FakeMember, target: dict[str, Any]) -> str:
    """Run "Report to moderators" and return what the reporter was told."""
    ix = await server.fake.message_command("Report to moderators", user=user, target=target)
    first = await ix.wait_response()
    assert first["data"]["flags"] & 64

    def answers() -> list[str]:  # leaving out the first-contact notice ("About Kindred")
        texts = [str(m.get("content") or "") for m in ix.followups]
        return [t for t in texts if not t.startswith("**About Kindred.**")]

    await eventually(lambda: bool(answers()), what="the answer to the reporter")
    return answers()[-1]


async def open_queue(server: Server) -> dict[str, Any]:
    ix = await server.fake.slash_command("safety queue", user=server.admin, channel=server.general)
    body = await ix.wait_response()
    assert body["data"]["flags"] & 64
    return ix.original or body["data"]


async def test_three_reports_of_one_message_make_one_item(
    server: Server, bot: QuickBot, kservice: KnowledgeService, settings: Any
) -> None:
    carol = server.world.add_member(server.guild, "carol")
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        await set_up_alerts(server)
        target = await server.fake.send_message(server.general, server.bob, ORDINARY)
        told = [await report(server, who, target) for who in (server.alice, server.admin, carol)]
        assert "have been told" in told[0]
        assert all("already have it" in t for t in told[1:])
        assert "already reported" in await report(server, server.alice, target)
        queue = await open_queue(server)
        description = queue["embeds"][0]["description"]
        assert queue["embeds"][0]["title"] == "Reports queue: 1 open"
        assert "reported by 3 members" in description and target["id"] in description
        for member in (server.alice, server.admin, carol):
            assert str(member.id) not in description  # reporters are never named
        buttons = {
            b["label"]: b["custom_id"] for row in queue["components"] for b in row["components"]
        }
        assert set(buttons) == {"Resolve 1", "Hide 1"}
        refused = await server.fake.click(queue, buttons["Resolve 1"], user=server.bob)
        assert "Only moderators" in (await refused.wait_response())["data"]["content"]
    restarted = make_bot(kservice, settings)  # the queue's buttons survive a restart
    async with server.fake.running(restarted):
        done = await server.fake.click(queue, buttons["Resolve 1"], user=server.admin)
        assert "Resolved" in (await done.wait_response())["data"]["content"]
        after = await open_queue(server)
    assert len(sends_to(server, server.staff)) == 1  # one alert for three reports
    (alert,) = bot_messages(server.staff, bot)
    fields = {f["name"]: f["value"] for f in alert["embeds"][0]["fields"]}
    assert fields["Reported by"] == "3 members"  # the one alert shows the count, pings nobody
    edits = server.fake.calls("PATCH", rf"/channels/{server.staff.id}/messages/{alert['id']}")
    assert len(edits) == 2 and all(e.json["allowed_mentions"]["parse"] == [] for e in edits)
    assert "0 open" in after["embeds"][0]["title"] and not after.get("components")
    assert kservice.reports.open_items(server.guild.id) == []


async def test_a_member_over_the_report_limit_is_refused_and_nobody_is_pinged(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    kservice.reports.settings = ReportSettings(per_member_per_day=2)
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        await set_up_alerts(server)
        targets = [
            await server.fake.send_message(server.general, server.bob, f"{ORDINARY} {i}")
            for i in range(3)
        ]
        assert "have been told" in await report(server, server.alice, targets[0])
        assert "have been told" in await report(server, server.alice, targets[1])
        refused = await report(server, server.alice, targets[2])
        assert "most reports one member can send in a day" in refused
        assert "emergency" in refused
    assert len(sends_to(server, server.staff)) == 2  # nothing sent for the refused report
    assert len(kservice.reports.open_items(server.guild.id)) == 2


async def test_hide_takes_the_message_out_of_kindred_and_resolves_the_item(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        await set_up_alerts(server)
        target = await server.fake.send_message(server.general, server.bob, ORDINARY)
        await eventually(
            lambda: kservice.store.find_post(server.guild.id, target["id"]) is not None,
            what="indexed",
        )
        await report(server, server.alice, target)
        queue = await open_queue(server)
        hide = next(
            b["custom_id"]
            for row in queue["components"]
            for b in row["components"]
            if b["label"].startswith("Hide")
        )
        done = await server.fake.click(queue, hide, user=server.admin)
        assert "Hidden from Kindred" in (await done.wait_response())["data"]["content"]
    post = kservice.store.find_post(server.guild.id, target["id"])
    assert post is not None and post.hidden
    assert kservice.reports.open_items(server.guild.id) == []
