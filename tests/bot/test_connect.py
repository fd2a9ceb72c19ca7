"""Profiles and introductions through the real client: /profile, /connect cards, a request, the
prompt by DM (or on the next command when DMs are closed), accept -> a private thread with both,
decline, expiry, blocks, cooldown, the daily limit, crisis, the guild switch, a restart; and no
member's identity reaching the other before both agreed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import discord
from sqlmodel import select

from knowledge.config import IntroductionSettings
from knowledge.embeddings import HashingEmbedder
from knowledge.service import KnowledgeService
from knowledge.store.models import Introduction

from .conftest import QuickBot, Server, bot_settings, enable, eventually, make_bot, sent_bodies
from .fake_discord import FakeInteraction, RestCall
from .payloads import FakeMember

ALICE_POST = "my crohn's flare and the prednisone taper wrecked my sleep, anyone else?"
BOB_POST = "crohn's flare again here, the prednisone taper and no sleep for weeks"
CRISIS = "I have the pills ready and tonight I am going to end my life. Goodbye everyone."
Json = dict[str, Any]


def seed(server: Server, service: KnowledgeService, *members: FakeMember) -> None:
    """Posts to backfill, Crohn's declared by each member, and the others matchable; Kindred
    may open private threads (as Discord's default permissions allow)."""
    guild = server.world.guilds[server.guild.id]
    bot_role = guild.roles[guild.members[server.world.bot.id].roles[0]]
    bot_role.permissions |= discord.Permissions(create_private_threads=True).value
    server.world.add_message(server.general, server.alice, ALICE_POST)
    server.world.add_message(server.general, server.bob, BOB_POST)
    gid = server.guild.id
    for member in members or (server.alice, server.bob):
        service.profiles.declare(gid, member.id, "crohns", "patient")
    service.privacy.set_consent(gid, server.bob.id, matchable=True, by=server.bob.id)


async def connect(server: Server, member: FakeMember, **options: Any) -> Json:
    """Run /connect; the edited (deferred) reply."""
    ix = await server.fake.slash_command(
        "connect", user=member, channel=server.general, options=options
    )
    reply = await ix.wait_response()
    assert reply["type"] == 5 and reply["data"]["flags"] & 64  # deferred, ephemeral
    await server.fake.wait_for_call(lambda c: c.method == "PATCH" and ix.token in c.path)
    assert ix.original is not None
    return ix.original


def custom_ids(message: Json) -> list[str]:
    return [c["custom_id"] for row in message.get("components", []) for c in row["components"]]


def button_id(message: Json, suffix: str) -> str:
    return next(c for c in custom_ids(message) if c.endswith(suffix))


async def click(server: Server, message: Json, custom_id: str, user: Any) -> Json:
    ix: FakeInteraction = await server.fake.click(message, custom_id, user=user)
    return await ix.wait_response()


def dm_messages(server: Server, member: FakeMember) -> list[RestCall]:
    dm = server.world.dm_with(member.user)
    return server.fake.calls("POST", rf"/channels/{dm.id}/messages")


async def prompt_for(server: Server, member: FakeMember) -> Json:
    """The prompt Kindred DMed to `member` (as the fake stored it)."""
    await eventually(lambda: len(dm_messages(server, member)) > 0, what="DM prompt")
    dm = server.world.dm_with(member.user)
    return max(dm.messages.values(), key=lambda m: int(m["id"]))


def identity_leaks(bodies: list[tuple[RestCall, Json]], *members: FakeMember) -> list[str]:
    leaks = []
    for call, body in bodies:
        text = json.dumps(body).lower()
        for member in members:
            for needle in (str(member.id), member.user.username.lower()):
                if needle in text:
                    leaks.append(f"{needle} in {call.method} {call.path}")
    return leaks


def intro_rows(service: KnowledgeService) -> list[Introduction]:
    with service.store.session() as s:
        return list(s.exec(select(Introduction)).all())


async def test_introduction_flow_across_a_restart_with_identities_hidden(
    server: Server, bot: QuickBot, kservice: KnowledgeService, settings: Any
) -> None:
    seed(server, kservice)
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        card = await connect(server, server.alice)
        embed = card["embeds"][0]
        assert "Crohn" in json.dumps(embed["fields"]) and "living with it" in json.dumps(embed)
        request = button_id(card, ":req")
        assert request.startswith("kindred:card:") and str(server.bob.id) not in request
        sent = await click(server, card, request, server.alice)
        assert sent["data"]["flags"] & 64 and "Request sent" in sent["data"]["content"]
        prompt = await prompt_for(server, server.bob)
        assert "would like to be introduced" in prompt["embeds"][0]["title"]
    # nothing either member received so far names the other (or themselves)
    before = sent_bodies(server.fake)
    assert before and identity_leaks(before, server.alice, server.bob) == []
    (row,) = intro_rows(kservice)
    assert row.status == "pending" and row.prompt_message_id == int(prompt["id"])

    restarted = make_bot(kservice, settings)  # cards and prompts survive a restart
    async with server.fake.running(restarted):
        again = await click(server, card, request, server.alice)  # already pending
        assert "can't be introduced right now" in again["data"]["content"]
        answer = await click(server, prompt, button_id(prompt, ":yes"), server.bob.user)
        assert answer["type"] == 7
        created = await server.fake.wait_for_call(
            lambda c: c.method == "POST" and c.path == f"/channels/{server.general.id}/threads"
        )
        assert created.json["type"] == 12  # a private thread
        await eventually(lambda: intro_rows(kservice)[0].thread_id is not None, what="thread")
        thread_id = intro_rows(kservice)[0].thread_id
        assert thread_id is not None
        await eventually(
            lambda: {server.alice.id, server.bob.id} <= server.fake.thread_members[thread_id],
            what="both members added",
        )
        await eventually(lambda: len(dm_messages(server, server.alice)) == 1, what="courtesy DM")
    thread = server.world.channel(thread_id)
    assert thread is not None and thread.type == 12
    (welcome,) = server.fake.calls("POST", rf"/channels/{thread_id}/messages")
    assert f"<@{server.alice.id}>" in welcome.json["content"]
    assert welcome.json["allowed_mentions"]["parse"] == []
    assert intro_rows(kservice)[0].status == "accepted"


async def test_closed_dms_prompt_on_next_command_and_decline_is_silent(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    seed(server, kservice)
    server.fake.closed_dms.add(server.bob.id)
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        card = await connect(server, server.alice)
        await click(server, card, button_id(card, ":req"), server.alice)
        await eventually(lambda: len(intro_rows(kservice)) == 1, what="request")
        await eventually(
            lambda: any(c.status == 403 for c in dm_messages(server, server.bob)), what="403"
        )
        assert intro_rows(kservice)[0].prompted_at is None
        ix = await server.fake.slash_command(
            "profile view", user=server.bob, channel=server.general
        )
        await ix.wait_response()
        await eventually(
            lambda: any("kindred:intro:" in json.dumps(m) for m in ix.followups),
            what="prompt on next command",
        )
        prompt = next(m for m in ix.followups if "kindred:intro:" in json.dumps(m))
        assert prompt["flags"] & 64
        answer = await click(server, prompt, button_id(prompt, ":no"), server.bob)
        assert "won't be told" in answer["data"]["content"]
        assert intro_rows(kservice)[0].status == "declined"
        # the requester hears nothing, sees "no answer yet", and the pair cools down
        assert dm_messages(server, server.alice) == []
        again = await connect(server, server.alice)
        assert "No fellow member" in again["content"] and "no answer yet: 1" in again["content"]
        retry = await click(server, card, button_id(card, ":req"), server.alice)
        assert "can't be introduced right now" in retry["data"]["content"]
    assert identity_leaks(sent_bodies(server.fake), server.alice, server.bob) == []


async def test_blocks_daily_limit_crisis_and_the_guild_switch(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    carl = server.world.add_member(server.guild, "carl")
    server.world.add_message(server.general, carl, "my crohn's and the prednisone taper again")
    seed(server, kservice, server.alice, server.bob, carl)
    kservice.privacy.set_consent(server.guild.id, carl.id, matchable=True, by=carl.id)
    intros = kservice.introductions
    intros.settings = intros.settings.model_copy(update={"requests_per_day": 1})
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        first = await connect(server, server.alice)
        assert "(1/2)" in first["embeds"][0]["title"]
        turned = await click(server, first, button_id(first, ":n"), server.alice)
        assert turned["type"] == 7 and "(2/2)" in turned["data"]["embeds"][0]["title"]
        assert "Crohn" in json.dumps(turned["data"]["embeds"][0]["fields"])
        await click(server, first, button_id(first, ":req"), server.alice)
        await eventually(lambda: len(intro_rows(kservice)) == 1, what="request")
        second = await connect(server, server.alice)  # the pending one is not shown again
        assert "(1/1)" in second["embeds"][0]["title"]
        limited = await click(server, second, button_id(second, ":req"), server.alice)
        assert "tomorrow" in limited["data"]["content"]
        hidden = await click(server, second, button_id(second, ":hide"), server.alice)
        assert "won't be suggested to each other" in hidden["data"]["content"]
        after = await connect(server, server.alice)
        assert "No fellow member" in after["content"]
        # crisis: resources and moderators, not matches
        await server.fake.send_message(server.general, server.alice, CRISIS)
        await eventually(
            lambda: intros.in_recent_crisis(server.guild.id, server.alice.id), what="crisis"
        )
        offered = await connect(server, server.alice)
        assert "moderators" in offered["content"] and not offered.get("embeds")
        # moderators turn introductions off (Manage Server only)
        denied = await server.fake.slash_command(
            "kindred introductions",
            user=server.bob,
            channel=server.general,
            options={"state": "off"},
        )
        assert "Manage Server" in (await denied.wait_response())["data"]["content"]
        off = await server.fake.slash_command(
            "kindred introductions",
            user=server.admin,
            channel=server.general,
            options={"state": "off"},
        )
        assert "off" in (await off.wait_response())["data"]["content"]
        closed = await connect(server, server.bob)
        assert "turned off" in closed["content"]
    assert identity_leaks(sent_bodies(server.fake), server.bob, carl) == []


async def test_unanswered_requests_expire_silently(server: Server, data_dir: Path) -> None:
    quick = IntroductionSettings(expire_hours=0.0005, check_minutes=0.002)
    settings = bot_settings(data_dir).model_copy(update={"introductions": quick})
    service = KnowledgeService(settings, embedder=HashingEmbedder())
    try:
        seed(server, service)
        bot = make_bot(service, settings)
        async with server.fake.running(bot):
            await enable(server, server.general, bot)
            card = await connect(server, server.alice)
            await click(server, card, button_id(card, ":req"), server.alice)
            prompt = await prompt_for(server, server.bob)
            await eventually(lambda: intro_rows(service)[0].status == "expired", what="expiry")
            late = await click(server, prompt, button_id(prompt, ":yes"), server.bob.user)
            assert "already ended" in late["data"]["content"]
        assert dm_messages(server, server.alice) == []  # never told
        assert server.fake.calls("POST", rf"/channels/{server.general.id}/threads") == []
    finally:
        service.close()


async def test_profile_commands_and_autocomplete(
    server: Server, bot: QuickBot, kservice: KnowledgeService
) -> None:
    server.world.add_message(server.general, server.alice, ALICE_POST)
    async with server.fake.running(bot):
        await enable(server, server.general, bot)
        auto = await server.fake.autocomplete(
            "profile condition",
            user=server.alice,
            channel=server.general,
            options={"condition": "croh"},
            focused="condition",
        )
        choices = (await auto.wait_response())["data"]["choices"]
        assert choices[0]["value"] == "crohns"
        ix = await server.fake.slash_command(
            "profile view", user=server.alice, channel=server.general
        )
        shown = (await ix.wait_response())["data"]
        assert shown["flags"] & 64
        assert "From your own posts (only you see this" in shown["embeds"][0]["description"]
        ix = await server.fake.slash_command(
            "profile condition",
            user=server.alice,
            channel=server.general,
            options={"condition": "crohns", "role": "carer", "helps": True},
        )
        text = (await ix.wait_response())["data"]["embeds"][0]["description"]
        assert "caring for someone · you help with it" in text
        message_id = next(iter(server.general.messages))
        ix = await server.fake.slash_command(
            "profile sample",
            user=server.alice,
            channel=server.general,
            options={"message": f"https://discord.com/channels/1/2/{message_id}"},
        )
        assert "prednisone" in (await ix.wait_response())["data"]["embeds"][0]["description"]
        ix = await server.fake.slash_command(
            "profile helper", user=server.alice, channel=server.general, options={"on": True}
        )
        await ix.wait_response()
    gid = server.guild.id
    assert kservice.profiles.helpers_for(gid, ["crohns"]) == [server.alice.id]
