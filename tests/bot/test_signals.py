""" "This helped" under search results (once per member, works as a dynamic item), `/solved` in a
forum thread (asker or moderator only, optional reply pointer), and searches that found nothing
counted by condition for insights (no text kept)."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from knowledge.service import KnowledgeService
from knowledge.store.models import SearchGap

from .conftest import QuickBot, Server, enable, make_bot
from .test_search import search


def helped_buttons(message: dict[str, Any]) -> dict[str, str]:
    return {
        b["label"]: b["custom_id"]
        for row in message["components"]
        for b in row["components"]
        if b["custom_id"].startswith("kindred:helped:")
    }


async def click_text(server: Server, message: dict[str, Any], custom_id: str, user: Any) -> str:
    ix = await server.fake.click(message, custom_id, user=user)
    body = await ix.wait_response()
    assert body["data"]["flags"] & 64
    return str(body["data"]["content"])


async def test_this_helped_under_results_counts_once_per_member(
    server: Server, bot: QuickBot, kservice: KnowledgeService, settings: Any
) -> None:
    for i in range(7):
        server.world.add_message(server.general, server.bob, f"fatigue after chemo, week {i}")
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        _ix, message = await search(server, server.alice, "fatigue after chemo")
        buttons = helped_buttons(message)
        assert list(buttons) == [f"{n} helped" for n in range(1, 6)]  # one per result shown
        first = buttons["1 helped"]
        assert "noted that this helped" in await click_text(server, message, first, server.alice)
        assert "already said" in await click_text(server, message, first, server.alice)
        assert "own post" in await click_text(server, message, first, server.bob)
        assert "noted" in await click_text(server, message, first, server.admin)
        # turning the page shows the next results' buttons
        nav = {b["label"]: b for b in message["components"][0]["components"]}
        turned = await server.fake.click(message, nav["Next"]["custom_id"], user=server.alice)
        page = (await turned.wait_response())["data"]
        assert list(helped_buttons(page)) == ["6 helped", "7 helped"]
    external_id = first.rsplit(":", 1)[1]
    assert kservice.signals.helped_count(server.guild.id, external_id) == 2
    restarted = make_bot(kservice, settings)  # the buttons still work after a restart
    async with server.fake.running(restarted):
        second = helped_buttons(page)["6 helped"]  # the page shown now
        assert "noted" in await click_text(server, message, second, server.alice)
    assert kservice.signals.helped_count(server.guild.id, second.rsplit(":", 1)[1]) == 1


async def test_solved_in_a_forum_thread_is_for_the_asker_or_a_moderator(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    async with server.fake.running(bot):
        await enable(server, server.forum, bot)
        thread, _starter = await server.fake.create_forum_post(
            server.forum, "Night sweats?", server.bob, "Does anyone else get night sweats?"
        )
        reply = await server.fake.send_message(thread, server.alice, "A fan by the bed helped me.")

        async def solved(user: Any, where: Any = thread, **options: Any) -> str:
            ix = await server.fake.slash_command(
                "solved", user=user, channel=where, options=options
            )
            body = await ix.wait_response()
            assert body["data"]["flags"] & 64
            return str(body["data"]["content"])

        assert "Only the member who asked" in await solved(server.alice)
        assert kservice.signals.question_for_thread(server.guild.id, thread.id) is None
        link = f"https://discord.com/channels/{server.guild.id}/{thread.id}/{reply['id']}"
        assert "Marked solved" in await solved(server.bob, reply=link)
        assert "Updated" in await solved(server.admin)  # a moderator may too
        assert "Use `/solved` inside the thread" in await solved(server.bob, server.general)
    row = kservice.signals.question_for_thread(server.guild.id, thread.id)
    assert row is not None and row.author_id == server.bob.id
    assert row.solved_at is not None and row.solution_message_id == int(reply["id"])
    assert row.solved_by == server.admin.id


async def test_a_search_that_finds_nothing_is_counted_by_condition_without_text(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    server.world.add_message(server.general, server.bob, "my cat sleeps all day")
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        await search(server, server.alice, "qzxv migraine aura remedies")
    with kservice.store.session() as session:
        rows = list(session.exec(select(SearchGap)).all())
    assert [(r.guild_id, r.condition_id, r.count) for r in rows] == [
        (server.guild.id, "migraine", 1)
    ]
