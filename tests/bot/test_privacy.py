"""/privacy against the fake Discord: view and consent buttons, export, delete, first contact."""

from __future__ import annotations

import json
from typing import Any

from knowledge.scope import SearchScope
from knowledge.service import KnowledgeService

from .conftest import QuickBot, Server, enable, eventually, post_count
from .fake_discord import FakeInteraction

BOB_TEXT = "prednisone taper wrecked my sleep for weeks"


def buttons(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["label"]: b for row in data["components"] for b in row["components"]}


def found_by(service: KnowledgeService, server: Server, asker: int) -> set[str]:
    scope = SearchScope(guild_id=server.guild.id, asker_id=asker)
    return {h.external_id for h in service.search("prednisone sleep", scope)}


async def opt_in_community(server: Server, bot: QuickBot) -> dict[str, Any]:
    message = await server.fake.send_message(server.general, server.bob, BOB_TEXT)
    index = bot.service.store.vector_index(server.guild.id)
    await eventually(lambda: len(index) == 1, what="ingest and embedding")
    bot.service.privacy.set_search_mode(server.guild.id, "opt_in", by=server.admin.id)
    return message


async def privacy(server: Server, sub: str, user: Any) -> FakeInteraction:
    ix = await server.fake.slash_command(f"privacy {sub}", user=user, channel=server.general)
    await ix.wait_response()
    return ix


async def test_view_shows_holdings_and_agreeing_makes_posts_findable_at_once(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        post = await opt_in_community(server, bot)
        assert post["id"] not in found_by(kservice, server, server.alice.id)
        ix = await privacy(server, "view", server.bob)
        assert ix.response is not None
        data = ix.response["data"]
        assert data["flags"] & 64
        assert "Posts stored:** 1" in data["embeds"][0]["description"]
        agree = buttons(data)["Let others find my posts"]
        assert ix.original is not None
        click = await server.fake.click(ix.original, agree["custom_id"], user=server.bob)
        answer = await click.wait_response()
        assert "Others can find your posts:** yes" in answer["data"]["embeds"][0]["description"]
        assert post["id"] in found_by(kservice, server, server.alice.id)  # right after agreeing
        assert kservice.privacy.consent(server.guild.id, server.bob.id).searchable


async def test_export_sends_my_rows_only_as_an_ephemeral_file(
    server: Server, bot: QuickBot
) -> None:
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        await server.fake.send_message(server.general, server.bob, BOB_TEXT)
        await server.fake.send_message(server.general, server.alice, "alice's own story")
        await eventually(lambda: post_count(bot.service, server.guild.id) == 2, what="ingest")
        ix = await privacy(server, "export", server.bob)
        await eventually(lambda: bool(ix.followups), what="export follow-up")
    upload = next(c for c in server.fake.rest_calls if c.files and "/webhooks/" in c.path)
    assert upload.json["flags"] & 64
    exported = json.loads(upload.files[0].data)
    text = json.dumps(exported)
    assert BOB_TEXT in text and "alice's own story" not in text


async def test_delete_asks_first_then_erases_everything(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        bob_post = await server.fake.send_message(server.general, server.bob, BOB_TEXT)
        await server.fake.send_message(server.general, server.alice, "alice's own story")
        await eventually(lambda: post_count(bot.service, server.guild.id) == 2, what="ingest")
        ix = await privacy(server, "delete", server.bob)
        assert ix.response is not None
        data = ix.response["data"]
        assert data["flags"] & 64 and post_count(kservice, server.guild.id) == 2
        confirm = buttons(data)["Delete my data"]
        assert ix.original is not None
        click = await server.fake.click(ix.original, confirm["custom_id"], user=server.bob)
        await click.wait_response()
        await eventually(lambda: post_count(kservice, server.guild.id) == 1, what="delete")
    assert kservice.privacy.export(server.guild.id, server.bob.id)["tables"].get("post") in (
        [],
        None,
    )
    assert bob_post["id"] not in found_by(kservice, server, server.alice.id)
    assert bob_post["id"] not in found_by(kservice, server, server.bob.id)


async def test_first_contact_notice_comes_once(server: Server, bot: QuickBot) -> None:
    async with server.fake.running(bot):
        first = await privacy(server, "view", server.bob)
        await eventually(lambda: bool(first.followups), what="notice")
        second = await privacy(server, "view", server.bob)
        await eventually(lambda: second.response is not None, what="second reply")
    notices = [f for f in first.followups if "About Kindred" in str(f)]
    assert len(notices) == 1 and notices[0]["flags"] & 64
    assert not any("About Kindred" in str(f) for f in second.followups)


async def test_opt_out_is_announced_and_only_admins_may_switch(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    async with server.fake.running(bot):
        refused = await server.fake.slash_command(
            "privacy mode",
            user=server.bob,
            channel=server.general,
            options={"mode": "opt_out", "announce_in": server.general},
        )
        answer = await refused.wait_response()
        assert answer["data"]["flags"] & 64 and "Manage Server" in answer["data"]["content"]
        assert kservice.privacy.search_mode(server.guild.id) == "opt_in"
        ix = await server.fake.slash_command(
            "privacy mode",
            user=server.admin,
            channel=server.general,
            options={"mode": "opt_out", "announce_in": server.general},
        )
        await ix.wait_response()
    assert kservice.privacy.search_mode(server.guild.id) == "opt_out"
    (announcement,) = server.fake.calls("POST", rf"/channels/{server.general.id}/messages")
    assert "opt-out" in announcement.json["content"]
    assert announcement.json["allowed_mentions"]["parse"] == []
