"""Moderators curate and see, through the real client against the fake Discord: "Add to knowledge
base" opens a pre-filled form whose entry then ranks first in /search with its label; only
moderators create, edit or retire entries; "Hide from Kindred" takes a message out of search at
once and `/kb unhide` brings it back; `/kindred audit` lists the actions without content."""

from __future__ import annotations

from typing import Any

import discord

from knowledge.scope import SearchScope
from knowledge.service import KnowledgeService

from .conftest import QuickBot, Server, enable, eventually, sent_bodies
from .fake_discord import FakeInteraction
from .payloads import FakeMember

MANAGE_MESSAGES = discord.Permissions(manage_messages=True).value
QUESTION = "How do people cope with night time panic attacks?"
REPLY = "For night time panic attacks slow breathing helped me cope, four in and six out."
QUERY = "night time panic attacks cope"
CURATED = "Curated by moderators"


def add_moderator(server: Server) -> FakeMember:
    """A member whose role has Manage Messages (added before the bot logs in)."""
    role = server.world.add_role(server.guild, "mods", MANAGE_MESSAGES)
    return server.world.add_member(server.guild, "mod", [role])


async def reply_in_general(server: Server) -> tuple[dict[str, Any], dict[str, Any]]:
    question = await server.fake.send_message(server.general, server.bob, QUESTION)
    reference = {
        "message_id": question["id"],
        "channel_id": question["channel_id"],
        "guild_id": str(server.guild.id),
    }
    reply = await server.fake.send_message(
        server.general,
        server.alice,
        REPLY,
        message_reference=reference,
        referenced_message=question,
        type=19,
    )
    return question, reply


async def answered(ix: FakeInteraction) -> str:
    """Everything the bot answered to an interaction, as text."""
    await ix.wait_response(timeout=10)
    return str(ix.response) + str(ix.original) + str(ix.followups)


async def search_text(server: Server, user: Any, query: str = QUERY) -> dict[str, Any]:
    ix = await server.fake.slash_command(
        "search", user=user, channel=server.general, options={"query": query}
    )
    await ix.wait_response()
    await eventually(lambda: bool(ix.followups), what="results")
    return ix.followups[0]


def modal_inputs(ix: FakeInteraction) -> dict[str, str]:
    assert ix.response is not None and ix.response["type"] == 9
    found: dict[str, str] = {}
    for row in ix.response["data"]["components"]:
        for item in row.get("components") or [row.get("component")]:
            found[item["label"]] = item.get("value") or ""
    return found


def ids_in(service: KnowledgeService, guild_id: int, query: str = QUERY) -> list[str]:
    return [h.external_id for h in service.search(query, SearchScope(guild_id=guild_id))]


async def test_a_moderator_adds_an_entry_that_ranks_first_with_its_label(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    mod = add_moderator(server)
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        _, reply = await reply_in_general(server)
        await eventually(lambda: kservice.store.find_post(server.guild.id, reply["id"]) is not None)
        opened = await server.fake.message_command("Add to knowledge base", user=mod, target=reply)
        await opened.wait_response()
        prefilled = modal_inputs(opened)
        assert prefilled["Question it answers"] == QUESTION
        assert prefilled["Answer (your words; peer experience)"] == REPLY
        assert "Panic" in prefilled["Conditions (comma-separated)"]
        submitted = await server.fake.modal_submit(opened)
        assert "Added to the knowledge base" in await answered(submitted)
        (entry,) = kservice.curation.entries.list_entries(server.guild.id)
        assert entry.source_external_id == reply["id"] and entry.quote == REPLY
        assert entry.created_by == mod.id and not entry.credit
        assert ids_in(kservice, server.guild.id)[0] == f"kb:{entry.id}"

        results = await search_text(server, server.bob)
        first = results["embeds"][0]["fields"][0]
        assert CURATED in first["name"] and "not medical advice" in first["name"]
        assert "kb:" not in first["value"]  # no broken jump link to a message that isn't one

        typed = await server.fake.autocomplete(
            "kb show",
            user=server.bob,
            channel=server.general,
            options={"entry": "panic"},
            focused="entry",
        )
        choices = (await typed.wait_response())["data"]["choices"]
        assert choices == [{"name": entry.title, "value": str(entry.id)}]
        shown = await server.fake.slash_command(
            "kb show", user=server.bob, channel=server.general, options={"entry": str(entry.id)}
        )
        body = await answered(shown)
        assert entry.title[:20] in body and CURATED in body
        assert str(server.alice.id) not in body  # no credit without the author's consent
    bodies = [body for _, body in sent_bodies(server.fake) if "content" in body]
    assert bodies and all(b.get("allowed_mentions") == {"parse": []} for b in bodies)


async def test_only_moderators_create_edit_or_retire_entries(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    mod = add_moderator(server)
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        _, reply = await reply_in_general(server)
        refused = await server.fake.message_command(
            "Add to knowledge base", user=server.bob, target=reply
        )
        reply_body = await refused.wait_response()
        assert reply_body["type"] == 4 and "Manage Messages" in str(reply_body)

        opened = await server.fake.message_command("Add to knowledge base", user=mod, target=reply)
        await opened.wait_response()
        await answered(await server.fake.modal_submit(opened))
        await eventually(lambda: bool(kservice.curation.entries.list_entries(server.guild.id)))
        (entry,) = kservice.curation.entries.list_entries(server.guild.id)

        for path, options in (
            ("kb edit", {"entry": str(entry.id), "title": "Hijacked"}),
            ("kb retire", {"entry": str(entry.id)}),
        ):
            ix = await server.fake.slash_command(
                path, user=server.bob, channel=server.general, options=options
            )
            assert "Manage Messages" in await answered(ix)
        still = kservice.curation.entries.get(server.guild.id, entry.id)
        assert still.title == entry.title and not still.retired

        edit = await server.fake.slash_command(
            "kb edit",
            user=mod,
            channel=server.general,
            options={"entry": str(entry.id), "title": "Night panic: breathing"},
        )
        assert "Entry updated" in await answered(edit)
        retire = await server.fake.slash_command(
            "kb retire", user=mod, channel=server.general, options={"entry": str(entry.id)}
        )
        assert "Retired" in await answered(retire)
        assert f"kb:{entry.id}" not in ids_in(kservice, server.guild.id)
        actions = [a.action for a in kservice.curation.audit_log(server.guild.id)]
        assert actions == ["kb.retire", "kb.edit", "kb.create"]


async def test_hide_and_unhide_and_the_audit(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    mod = add_moderator(server)
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        _, reply = await reply_in_general(server)
        await eventually(lambda: reply["id"] in ids_in(kservice, server.guild.id))
        refused = await server.fake.message_command(
            "Hide from Kindred", user=server.bob, target=reply
        )
        assert "Manage Messages" in await answered(refused)
        assert reply["id"] in ids_in(kservice, server.guild.id)

        hide = await server.fake.message_command("Hide from Kindred", user=mod, target=reply)
        assert "Hidden from Kindred" in await answered(hide)
        assert reply["id"] not in ids_in(kservice, server.guild.id)
        results = await search_text(server, server.bob)
        assert REPLY[:20] not in str(results)

        link = f"https://discord.com/channels/{server.guild.id}/{server.general.id}/{reply['id']}"
        unhide = await server.fake.slash_command(
            "kb unhide", user=mod, channel=server.general, options={"message": link}
        )
        assert "shows that message again" in await answered(unhide)
        assert reply["id"] in ids_in(kservice, server.guild.id)

        audit = await server.fake.slash_command(
            "kindred audit", user=server.admin, channel=server.general
        )
        text = await answered(audit)
        assert "hide" in text and "unhide" in text and reply["id"] in text
        assert "breathing" not in text and str(mod.id) in text


async def test_the_author_is_credited_only_after_saying_yes(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    mod = add_moderator(server)
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        _, reply = await reply_in_general(server)
        opened = await server.fake.message_command("Add to knowledge base", user=mod, target=reply)
        await opened.wait_response()
        label = "Ask the author if they want credit? (yes/no)"
        submitted = await server.fake.modal_submit(opened, {label: "yes"})
        assert "The author was asked" in await answered(submitted)
        (entry,) = kservice.curation.entries.list_entries(server.guild.id)
        assert not entry.credit
        dm_calls = [
            c
            for c in server.fake.calls("POST")
            if c.path.startswith("/channels/") and "kbcredit" in str(c.json)
        ]
        (dm_call,) = dm_calls
        dm = server.fake.world.dms[server.alice.id]
        (prompt,) = [m for m in dm.messages.values() if "kbcredit" in str(m)]
        yes = f"kindred:kbcredit:{server.guild.id}:{entry.id}:1"
        assert yes in str(dm_call.json) and "allowed_mentions" in dm_call.json

        other = await server.fake.click(prompt, yes, user=server.bob)
        assert "only the author" in await answered(other)
        assert not kservice.curation.entries.get(server.guild.id, entry.id).credit

        mine = await server.fake.click(prompt, yes, user=server.alice)
        assert "credits you" in await answered(mine)
        assert kservice.curation.entries.get(server.guild.id, entry.id).credit

        shown = await server.fake.slash_command(
            "kb show", user=server.bob, channel=server.general, options={"entry": str(entry.id)}
        )
        assert f"<@{server.alice.id}>" in await answered(shown)


async def test_kb_suggest_lists_helpful_replies_not_yet_curated(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    mod = add_moderator(server)
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        _, reply = await reply_in_general(server)
        await eventually(lambda: kservice.store.find_post(server.guild.id, reply["id"]) is not None)
        kservice.signals.mark_helped(server.guild.id, server.bob.id, reply["id"])
        refused = await server.fake.slash_command(
            "kb suggest", user=server.bob, channel=server.general
        )
        assert "Manage Messages" in await answered(refused)
        ix = await server.fake.slash_command("kb suggest", user=mod, channel=server.general)
        text = await answered(ix)
        assert reply["id"] in text and "1 × helped" in text

        opened = await server.fake.message_command("Add to knowledge base", user=mod, target=reply)
        await opened.wait_response()
        await answered(await server.fake.modal_submit(opened))
        again = await server.fake.slash_command("kb suggest", user=mod, channel=server.general)
        assert "No reply marked helpful" in await answered(again)


async def test_kb_suggest_leaves_out_replies_the_moderator_cannot_read(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    mod = add_moderator(server)  # Manage Messages, but not in the staff role
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        await enable(server, server.staff, bot)
        _, reply = await reply_in_general(server)
        hidden = await server.fake.send_message(server.staff, server.alice, "staff-only advice")
        for message in (reply, hidden):
            mid = message["id"]
            await eventually(
                lambda mid=mid: kservice.store.find_post(server.guild.id, mid) is not None
            )
            kservice.signals.mark_helped(server.guild.id, server.bob.id, mid)
        text = await answered(
            await server.fake.slash_command("kb suggest", user=mod, channel=server.general)
        )
    assert reply["id"] in text
    assert hidden["id"] not in text and f"/{server.staff.id}/" not in text
