"""/search and "Find similar posts": permission scoping, ephemeral pages, asker-only buttons,
safe output (no pings, escaped, within limits) and clear errors."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from knowledge.embeddings import HashingEmbedder
from knowledge.service import KnowledgeService

from .conftest import (
    QuickBot,
    Server,
    bot_settings,
    enable,
    eventually,
    make_bot,
    sent_bodies,
)
from .fake_discord import FakeInteraction


async def search(
    server: Server, user: Any, query: str, **options: Any
) -> tuple[FakeInteraction, dict[str, Any]]:
    """Run /search and return the interaction and the ephemeral results message body."""
    ix = await server.fake.slash_command(
        "search", user=user, channel=server.general, options={"query": query, **options}
    )
    deferred = await ix.wait_response()
    assert deferred["type"] == 5 and deferred["data"]["flags"] & 64
    await eventually(lambda: bool(ix.followups), what="results")
    return ix, ix.followups[0]


def field_text(message: dict[str, Any]) -> str:
    embed = message["embeds"][0]
    return "\n".join(f["name"] + "\n" + f["value"] for f in embed.get("fields", []))


async def test_search_never_shows_channels_the_member_cannot_read(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    server.world.add_message(server.staff, server.alice, "insulin pump alarms at night")
    server.world.add_message(server.general, server.bob, "my cat sleeps at night")
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        await enable(server, server.staff, bot)
        _, as_bob = await search(server, server.bob, "insulin pump alarms at night")
        _, as_alice = await search(server, server.alice, "insulin pump alarms at night")
    assert as_bob["flags"] & 64 and as_alice["flags"] & 64
    assert "insulin" not in field_text(as_bob) and "cat" in field_text(as_bob)
    assert f"/{server.staff.id}/" not in field_text(as_bob)
    first = as_alice["embeds"][0]["fields"][0]
    assert "**insulin**" in first["value"] and "A member shared" in first["name"]
    assert f"https://discord.com/channels/{server.guild.id}/{server.staff.id}/" in first["value"]
    assert "not medical advice" in as_alice["content"]


async def test_pages_turn_only_for_the_asker(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    for i in range(12):
        server.world.add_message(server.general, server.bob, f"fatigue after chemo, week {i}")
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        _ix, message = await search(server, server.alice, "fatigue after chemo")
        assert (
            "1." in field_text(message)
            and "Results 1–5 of 12" in message["embeds"][0]["footer"]["text"]
        )
        buttons = {b["label"]: b for b in message["components"][0]["components"]}
        assert buttons["Previous"]["disabled"] and buttons["1/3"]
        refused = await server.fake.click(message, buttons["Next"]["custom_id"], user=server.bob)
        answer = await refused.wait_response()
        assert answer["type"] == 4 and answer["data"]["flags"] & 64
        assert "Only the member who asked" in answer["data"]["content"]
        stored = server.fake._lookup(int(message["id"]))
        assert stored is not None and "Results 1–5" in stored["embeds"][0]["footer"]["text"]
        turned = await server.fake.click(message, buttons["Next"]["custom_id"], user=server.alice)
        page = await turned.wait_response()
        assert page["type"] == 7
        footer = page["data"]["embeds"][0]["footer"]["text"]
        assert "Results 6–10 of 12" in footer
        assert page["data"]["embeds"][0]["fields"][0]["name"].startswith("6. ")


async def test_quoted_posts_are_escaped_unpinged_and_within_limits(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    role = server.staff_role.id
    hostile = (
        f"@everyone @here <@&{role}> <@{server.bob.id}> **loud** __under__ `code` ||spoiler|| "
        + "seizure diary " * 400
    )[:5000]
    for _ in range(6):
        server.world.add_message(server.general, server.alice, hostile + f" {_}")
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        _ix, message = await search(server, server.bob, "seizure diary")
        turned = await server.fake.click(
            message, message["components"][0]["components"][-1]["custom_id"], user=server.bob
        )
        await turned.wait_response()
    bodies = sent_bodies(server.fake)
    assert len(bodies) >= 4
    for call, body in bodies:
        assert body.get("allowed_mentions") == {"parse": []}, call.path
        assert len(body.get("content") or "") <= 2000
        for embed in body.get("embeds") or []:
            total = len(embed.get("title", "")) + len(embed.get("footer", {}).get("text", ""))
            total += len(embed.get("description", ""))
            assert len(embed.get("fields", [])) <= 25
            for field in embed.get("fields", []):
                assert len(field["name"]) <= 256 and len(field["value"]) <= 1024
                total += len(field["name"]) + len(field["value"])
            assert total <= 6000
    value = message["embeds"][0]["fields"][0]["value"]
    assert "@everyone" not in value and "@here" not in value
    assert f"<@&{role}>" not in value and f"<@{server.bob.id}>" not in value
    assert "\\*\\*loud\\*\\*" in value and "\\_\\_under\\_\\_" in value and "\\`code\\`" in value
    assert "…" in value


async def test_bad_dates_get_a_clear_ephemeral_error(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    async with server.fake.running(bot):
        ix = await server.fake.slash_command(
            "search",
            user=server.bob,
            channel=server.general,
            options={"query": "sleep", "after": "2024-13-45"},
        )
        reply = await ix.wait_response()
    assert reply["data"]["flags"] & 64
    assert "2024-05-31" in reply["data"]["content"] and "`after`" in reply["data"]["content"]
    assert reply["data"]["allowed_mentions"] == {"parse": []}


async def test_admin_commands_need_manage_server(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    async with server.fake.running(bot):
        ix = await server.fake.slash_command(
            "kindred enable",
            user=server.bob,
            channel=server.general,
            options={"channel": server.general},
        )
        reply = await ix.wait_response()
    assert reply["data"]["flags"] & 64 and "Manage Server" in reply["data"]["content"]
    assert not kservice.is_enabled(server.guild.id, server.general.id)
    (command,) = [c for c in server.fake.commands[None] if c["name"] == "kindred"]
    assert int(command["default_member_permissions"]) == 1 << 5  # Manage Server


async def test_find_similar_posts(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    target = server.world.add_message(server.general, server.bob, "tinnitus keeps me awake")
    server.world.add_message(server.general, server.alice, "tinnitus is worse at night")
    server.world.add_message(server.general, server.alice, "I knit scarves")
    elsewhere = server.world.add_message(server.offtopic, server.bob, "tinnitus again")
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        ix = await server.fake.message_command(
            "Find similar posts", user=server.alice, target=target
        )
        await ix.wait_response()
        await eventually(lambda: bool(ix.followups))
        other = await server.fake.message_command(
            "Find similar posts", user=server.alice, target=elsewhere
        )
        refused = await other.wait_response()
    results = field_text(ix.followups[0])
    assert "worse at night" in results and "keeps me awake" not in results
    assert ix.followups[0]["flags"] & 64
    assert refused["data"]["flags"] & 64 and "not enabled" in refused["data"]["content"]


async def test_result_buttons_are_disabled_on_timeout(server: Server, data_dir: Path) -> None:
    settings = bot_settings(data_dir, results_timeout_seconds=1)
    service = KnowledgeService(settings, embedder=HashingEmbedder())
    for i in range(7):
        server.world.add_message(server.general, server.bob, f"hair loss story {i}")
    bot = make_bot(service, settings)
    try:
        async with server.fake.running(bot):
            await enable(server, server.general, bot)
            ix, _message = await search(server, server.bob, "hair loss")
            await asyncio.sleep(1.3)
            await eventually(
                lambda: len(server.fake.calls("PATCH", rf"/webhooks/\d+/{ix.token}/.*")) > 0
            )
    finally:
        service.close()
    (edit,) = server.fake.calls("PATCH", rf"/webhooks/\d+/{ix.token}/.*")
    buttons = edit.json["components"][0]["components"]
    assert all(b["disabled"] for b in buttons)
    assert edit.json["allowed_mentions"] == {"parse": []}


UNRELATED = (
    "sourdough starter recipe with rye flour",
    "I knit scarves for my grandchildren every winter",
    "My knee brace squeaks when I climb stairs",
)


async def test_a_query_with_no_relevant_post_gets_nothing_close(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    for text in UNRELATED:
        server.world.add_message(server.general, server.bob, text)
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        _ix, message = await search(server, server.alice, "anyone here with lupus and joint pain?")
    assert message["flags"] & 64
    assert "Nothing close to that was found" in message["content"]
    assert "not medical advice" in message["content"]
    embed = message["embeds"][0]
    assert embed["title"] == "Not close, but the nearest:"  # never presented as answers
    assert 0 < len(embed["fields"]) <= 3
    assert "Results" not in embed["footer"]["text"] and not message.get("components")


async def test_a_query_with_a_relevant_post_gets_it_first(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    for text in UNRELATED:
        server.world.add_message(server.general, server.bob, text)
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        _ix, message = await search(server, server.alice, "sourdough starter recipe with rye flour")
    assert "Nothing close" not in message["content"]
    embed = message["embeds"][0]
    assert "Not close" not in embed["title"] and embed["title"].startswith("Shared experiences")
    first, *rest = embed["fields"]
    assert "sourdough" in first["value"] and "Not close" not in first["name"]
    assert rest and all(f["name"].split(". ", 1)[1].startswith("Not close:") for f in rest)


async def test_find_similar_with_nothing_close_says_so(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    target, *_ = [server.world.add_message(server.general, server.bob, t) for t in UNRELATED]
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        ix = await server.fake.message_command(
            "Find similar posts", user=server.alice, target=target
        )
        await ix.wait_response()
        await eventually(lambda: bool(ix.followups))
    message = ix.followups[0]
    assert message["flags"] & 64
    assert "Nothing close to this post was found" in message["content"]
    assert message["embeds"][0]["title"] == "Not close, but the nearest:"
    assert "sourdough" not in field_text(message)
