"""The listener that answers new questions, `/similar`, and the loop that asks helpers.

A *question*, in a channel where suggestions are on, is:

- a new forum post (its starter message; the post's title is read with it);
- the first message of a new thread in a text channel, by the thread's owner;
- a message in a text channel (not a reply) that reads as a question: at least
  `suggestions.min_question_chars` characters and a `?` ending a sentence, or a first word that
  asks (how, what, does, anyone...): `knowledge.matching.suggestions.is_question`.

It gets one reply, in place, with up to three earlier threads from the indexed channels that
every reader of its channel can read (`bot.permissions.public_reply_sources`), or nothing. Any
other member's message in the question's thread, or a Discord reply to it, is its first reply.
Every minute the loop sends each unanswered question that is due to helpers who can read the
channel, by direct message with a jump link (never the question's text).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.adapters import Place, is_indexable_author, place_of
from bot.client import KindredBot
from bot.cogs.suggestions.buttons import NotHelpfulButton, suggestion_view
from bot.cogs.suggestions.messages import (
    NO_TEXT,
    NOTHING_SIMILAR,
    REPLY_FOOTER,
    REPLY_INTRO,
    REPLY_TITLE,
    SIMILAR_TITLE,
    helper_request,
    threads_embed,
)
from bot.formatting import DISCLAIMER, respond, send
from bot.permissions import can_read, public_reply_sources, readable_channel_ids
from bot.safety_messages import message_url, resources_message
from knowledge.matching.routing import AskedQuestion
from knowledge.matching.suggestions import QuestionOutcome, is_question
from knowledge.records import Flag, SearchHit
from knowledge.store.condition_vectors import CARER_PREFIX
from knowledge.store.models import Question

log = logging.getLogger(__name__)
FRESH_THREADS_KEPT = 1000


class SuggestionsCog(commands.Cog):
    """Similar threads for new questions, `/similar`, and helpers for unanswered questions."""

    def __init__(self, bot: KindredBot) -> None:
        self.bot = bot
        self._fresh_threads: dict[int, None] = {}  # ordered: the oldest are dropped first
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(NotHelpfulButton)
        self.route_loop.start()

    async def cog_unload(self) -> None:
        self.route_loop.cancel()
        self.bot.remove_dynamic_items(NotHelpfulButton)

    # -- new questions and replies ---------------------------------------------------------------

    async def _suggestion_place(self, channel: object, guild_id: int | None) -> Place | None:
        place = place_of(channel, guild_id)
        if place is None:
            return None
        suggestions = self.bot.service.suggestions
        enabled = await self.bot.offload.run(suggestions.enabled_channel_ids, place.guild_id)
        return place if place.channel_id in enabled else None

    @commands.Cog.listener()
    async def on_thread_create(self, thread: discord.Thread) -> None:
        """A new thread in a text channel: its owner's first message is a question where
        suggestions are on (checked then; forum posts are recognised by their starter). Noted
        at once, before anything is awaited, so that first message cannot arrive first."""
        if isinstance(thread.parent, discord.TextChannel):
            self._fresh_threads[thread.id] = None
            while len(self._fresh_threads) > FRESH_THREADS_KEPT:
                del self._fresh_threads[next(iter(self._fresh_threads))]

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.guild is None or not is_indexable_author(message):
            return
        place = await self._suggestion_place(message.channel, message.guild.id)
        if place is None:
            return
        text = self._question_text(message, place)
        if text is None:
            await self._record_reply(message, place)
            return
        await self._answer(message, place, text)

    def _question_text(self, message: discord.Message, place: Place) -> str | None:
        """The text to match when `message` is a new question (see the module doc), else None."""
        channel = message.channel
        if isinstance(channel, discord.Thread):
            if isinstance(channel.parent, discord.ForumChannel) and message.id == channel.id:
                return f"{channel.name}\n{message.content}"
            if channel.id in self._fresh_threads and message.author.id == channel.owner_id:
                self._fresh_threads.pop(channel.id, None)
                return f"{channel.name}\n{message.content}"
            return None
        if message.reference is not None:
            return None
        minimum = self.bot.service.settings.suggestions.min_question_chars
        return message.content if is_question(message.content, minimum) else None

    async def _record_reply(self, message: discord.Message, place: Place) -> None:
        reference = message.reference
        reply_to = str(reference.message_id) if reference and reference.message_id else None
        routing = self.bot.service.suggestions.routing
        await self.bot.offload.run(
            lambda: routing.record_reply(
                place.guild_id,
                author_id=message.author.id,
                at=message.created_at,
                thread_id=place.thread_id,
                reply_to=reply_to,
            )
        )

    async def _answer(self, message: discord.Message, place: Place, text: str) -> None:
        """Record the question and post its one reply (nothing when nothing is close, and
        nothing for a crisis: the safety cog answers that)."""
        guild = message.guild
        current = guild.get_channel(place.channel_id) if guild else None
        if guild is None or current is None:
            return
        indexed = await self.bot.indexed.enabled_ids(guild.id)
        question = AskedQuestion(
            place.guild_id,
            place.channel_id,
            place.thread_id,
            str(message.id),
            message.author.id,
            text,
            message.created_at,
        )
        suggestions = self.bot.service.suggestions
        sources = public_reply_sources(guild, current, indexed)
        outcome: QuestionOutcome = await self.bot.offload.run(suggestions.ask, question, sources)
        if outcome.crisis and outcome.question_id is not None and place.channel_id not in indexed:
            # an indexed channel's ingest already raised it; elsewhere the crisis path runs here
            await self.bot.respond_to_flags(message, [_crisis_flag(question)])
        if outcome.question_id is None and not outcome.crisis:
            # not a new question: the thread belongs to one (a thread started from it)
            await self._record_reply(message, place)
        if outcome.crisis or not outcome.threads:
            return
        suggestion_id = await self.bot.offload.run(
            suggestions.record_reply, question, len(outcome.threads)
        )
        if suggestion_id is None:
            return
        embed = threads_embed(
            REPLY_TITLE, outcome.threads, _names(guild, outcome.threads), REPLY_FOOTER
        )
        try:
            sent = await send(
                message.channel,
                REPLY_INTRO,
                embed=embed,
                view=suggestion_view(suggestion_id, outcome.threads),
                reply_to=message,
            )
        except discord.HTTPException as exc:
            log.info("suggestion reply in %s failed: HTTP %s", place.channel_id, exc.status)
            await self.bot.offload.run(suggestions.set_reply_message, suggestion_id, None)
            return
        await self.bot.offload.run(suggestions.set_reply_message, suggestion_id, sent.id)

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        """A suggestion channel deleted on Discord: its questions and replies go too (an indexed
        channel is purged by the live-index cog, through the same erase path)."""
        bot, guild_id = self.bot, channel.guild.id
        enabled = await bot.offload.run(bot.service.suggestions.enabled_channel_ids, guild_id)
        if channel.id in enabled and channel.id not in await bot.indexed.enabled_ids(guild_id):
            await bot.offload.run(bot.service.purge_channel, guild_id, channel.id)

    # -- /similar --------------------------------------------------------------------------------

    @app_commands.command(name="similar")
    @app_commands.guild_only()
    @app_commands.describe(
        text="Your question in your own words (inside a thread or forum post: optional)."
    )
    async def similar(
        self,
        interaction: discord.Interaction[Any],
        text: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
        """Privately: earlier threads like your question, from channels you can read."""
        guild, member = interaction.guild, interaction.user
        if guild is None or not isinstance(member, discord.Member):
            raise app_commands.NoPrivateMessage()
        channel = interaction.channel
        exclude: tuple[str, ...] = ()
        if text is None:
            if not isinstance(channel, discord.Thread):
                await respond(interaction, NO_TEXT)
                return
            text, exclude = await _thread_text(channel), (str(channel.id),)
        await interaction.response.defer(ephemeral=True, thinking=True)
        readable = readable_channel_ids(guild, member, await self.bot.indexed.enabled_ids(guild.id))
        suggestions = self.bot.service.suggestions
        asked = text
        outcome: QuestionOutcome = await self.bot.offload.run(
            lambda: suggestions.on_demand(
                guild.id,
                asked,
                asker_id=member.id,
                allowed_channel_ids=readable,
                exclude_keys=exclude,
            )
        )
        if outcome.crisis:
            desk = self.bot.service.safety_desk
            config = await self.bot.offload.run(desk.config, guild.id)
            await respond(interaction, resources_message(config))
        elif not outcome.threads:
            await respond(interaction, f"{NOTHING_SIMILAR} {DISCLAIMER}")
        else:
            names = _names(guild, outcome.threads)
            embed = threads_embed(SIMILAR_TITLE, outcome.threads, names, DISCLAIMER)
            await respond(interaction, embed=embed)

    # -- unanswered questions --------------------------------------------------------------------

    @tasks.loop(minutes=1.0)
    async def route_loop(self) -> None:
        """Every minute: unanswered questions that are due go to helpers (state in SQL)."""
        try:
            await self.check_unanswered(datetime.now(UTC))
        except Exception:  # one failure must not stop the loop for good
            log.exception("routing unanswered questions failed")

    @route_loop.before_loop
    async def _before_route_loop(self) -> None:
        await self.bot.wait_until_ready()

    async def check_unanswered(self, now: datetime) -> int:
        """Send every due question to up to `max_helpers` helpers; how many messages went."""
        routing = self.bot.service.suggestions.routing
        sent = 0
        for question in await self.bot.offload.run(routing.due, now):
            sent += await self._route(question, now)
        return sent

    async def _route(self, question: Question, now: datetime) -> int:
        assert question.id is not None
        guild = self.bot.get_guild(question.guild_id)
        channel = guild.get_channel(question.channel_id) if guild else None
        if guild is None or channel is None:
            return 0
        routing = self.bot.service.suggestions.routing
        candidates = await self.bot.offload.run(routing.candidates, question.id, now)
        readers: set[int] = set()
        for user_id in candidates:
            member = await _member(guild, user_id)
            if member is not None and not member.bot and can_read(channel, member):
                readers.add(user_id)
        chosen = await self.bot.offload.run(routing.route, question.id, now, readers.__contains__)
        text = self._request_text(question)
        sent = 0
        for user_id in chosen:
            member = guild.get_member(user_id) or await _member(guild, user_id)
            if member is None:
                continue
            try:
                await send(member, text)
                sent += 1
            except discord.HTTPException as exc:
                log.info("helper %s could not be messaged: HTTP %s", user_id, exc.status)
        return sent

    def _request_text(self, question: Question) -> str:
        tagger = self.bot.service.conditions
        names: list[str] = []
        for tag in _tags(question.conditions):
            try:
                name = tagger.name(tag.removeprefix(CARER_PREFIX))
            except KeyError:
                continue
            if name not in names:
                names.append(name)
        place = question.thread_id or question.channel_id
        settings = self.bot.service.settings.suggestions
        return helper_request(
            question.channel_id,
            message_url(question.guild_id, place, question.external_id),
            names,
            settings.route_after_minutes,
            settings.helper_daily_limit,
        )


def _tags(raw: str) -> list[str]:
    """The condition tags stored with a question (a JSON list)."""
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return []
    return [t for t in value if isinstance(t, str)] if isinstance(value, list) else []


def _crisis_flag(question: AskedQuestion) -> Flag:
    """A question that reads as a crisis, for the safety cog (no reasons: never the text)."""
    return Flag(
        guild_id=question.guild_id,
        external_id=question.external_id,
        channel_id=question.channel_id,
        thread_id=question.thread_id,
        author_id=question.author_id,
        level="crisis",
        reasons=(),
    )


def _names(guild: discord.Guild, hits: tuple[SearchHit, ...]) -> dict[int, str]:
    return {
        h.channel_id: c.name for h in hits if (c := guild.get_channel(h.channel_id)) is not None
    }


async def _member(guild: discord.Guild, user_id: int) -> discord.Member | None:
    member = guild.get_member(user_id)
    if member is not None:
        return member
    try:
        return await guild.fetch_member(user_id)
    except discord.HTTPException:
        return None


async def _thread_text(thread: discord.Thread) -> str:
    """A thread's title and its starter message (a forum post's first message)."""
    starter = thread.starter_message
    if starter is None:
        try:
            starter = await thread.fetch_message(thread.id)
        except discord.HTTPException:
            starter = None
    return f"{thread.name}\n{starter.content if starter else ''}"
