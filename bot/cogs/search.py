"""`/search` and the "Find similar posts" message command: ephemeral, paginated, scoped to
what the asker can read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.adapters import place_of
from bot.client import KindredBot
from bot.formatting import (
    DISCLAIMER,
    NOTHING_CLOSE,
    close_first,
    nearest_embed,
    quote_member_text,
    respond,
    results_embed,
    truncate,
)
from bot.helped import HelpedResultsView
from bot.permissions import member_scope
from knowledge.errors import InvalidInput
from knowledge.records import SearchHit

RESULT_LIMIT = 50
SIMILAR_LIMIT = 15
NOT_ENABLED = "Kindred is not enabled in that channel, so it can't look for similar posts."
NOTHING_SIMILAR = "Nothing close to this post was found in the channels you can read."


def parse_day(value: str | None, option: str) -> datetime | None:
    """A YYYY-MM-DD option as a UTC midnight; a clear error otherwise."""
    if value is None or not value.strip():
        return None
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput(
            "bad_date", f"`{option}` must be a date like 2024-05-31 (year-month-day)."
        ) from None


def _member(interaction: discord.Interaction[Any]) -> tuple[discord.Guild, discord.Member]:
    if interaction.guild is None or not isinstance(interaction.user, discord.Member):
        raise app_commands.NoPrivateMessage()
    return interaction.guild, interaction.user


class SearchCog(commands.Cog):
    """Search shared experiences."""

    def __init__(self, bot: KindredBot) -> None:
        self.bot = bot
        self.similar_menu = app_commands.ContextMenu(
            name="Find similar posts", callback=self.find_similar
        )
        self.similar_menu.guild_only = True
        bot.tree.add_command(self.similar_menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.similar_menu.name, type=self.similar_menu.type)

    @app_commands.command(name="search")
    @app_commands.guild_only()
    @app_commands.describe(
        query="What you want to find, in your own words.",
        channel="Only this channel.",
        author="Only posts by this member.",
        after="Posted on or after this day (YYYY-MM-DD).",
        before="Posted before this day (YYYY-MM-DD).",
    )
    async def search(
        self,
        interaction: discord.Interaction[Any],
        query: app_commands.Range[str, 1, 500],
        channel: discord.TextChannel | discord.ForumChannel | None = None,
        author: discord.User | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> None:
        """Search experiences members shared in channels you can read."""
        guild, member = _member(interaction)
        start, end = parse_day(after, "after"), parse_day(before, "before")
        if start and end and start >= end:
            raise InvalidInput("bad_date", "`after` must be earlier than `before`.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        scope = member_scope(
            guild,
            member,
            await self.bot.indexed.enabled_ids(guild.id),
            channel_ids=frozenset({channel.id}) if channel else None,
            author_ids=frozenset({author.id}) if author else None,
            after=start,
            before=end,
        )
        hits = await self._run(self.bot.service.search, query, scope, RESULT_LIMIT)
        if not close_first(hits)[0]:  # counted for insights by condition named; text not kept
            await self.bot.offload.run(self.bot.service.insights.record_search_gap, guild.id, query)
        title = f"Shared experiences: {quote_member_text(query, 150)}"
        await self._show(interaction, title, hits, NOTHING_CLOSE)

    async def find_similar(
        self, interaction: discord.Interaction[Any], message: discord.Message
    ) -> None:
        """Posts like this message, among channels the asker can read."""
        guild, member = _member(interaction)
        place = place_of(message.channel, guild.id)
        enabled = await self.bot.indexed.enabled_ids(guild.id)
        if place is None or place.channel_id not in enabled:
            await respond(interaction, NOT_ENABLED)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        scope = member_scope(guild, member, enabled)
        hits = await self._run(
            self.bot.service.similar_to_message,
            guild.id,
            str(message.id),
            message.content,
            scope,
            SIMILAR_LIMIT,
        )
        await self._show(interaction, "Posts like this one", hits, NOTHING_SIMILAR)

    async def _run(self, fn: Any, *args: Any) -> list[SearchHit]:
        hits: list[SearchHit] = await self.bot.offload.run(fn, *args)
        return hits

    async def _show(
        self,
        interaction: discord.Interaction[Any],
        title: str,
        found: list[SearchHit],
        nothing_close: str,
    ) -> None:
        """Hits that clear the relevance floor as paged answers, then the nearest few below it
        labelled "Not close"; when none clears it, say so and show those under "Not close, but
        the nearest:"."""
        answers, nearest = close_first(found)
        hits = answers + nearest
        guild = interaction.guild
        names = {
            h.channel_id: c.name
            for h in hits
            if guild and (c := guild.get_channel(h.channel_id)) is not None
        }
        if not answers:
            text = f"{nothing_close} {DISCLAIMER}"
            if nearest:
                embed = nearest_embed(truncate(title, 200), nearest, names)
                await respond(interaction, text, embed=embed)
            else:
                await respond(interaction, text)
            return

        def render(page: list[SearchHit], start: int, total: int) -> discord.Embed:
            return results_embed(truncate(title, 200), page, start, total, names)

        view = HelpedResultsView(
            guild.id if guild else 0,
            interaction.user.id,
            hits,
            render,
            page_size=self.bot.settings.search.page_size,
            timeout=self.bot.settings.discord.results_timeout_seconds,
        )
        view.origin = interaction
        self.bot.track(view)
        await respond(interaction, DISCLAIMER, embed=view.embed(), view=view)


async def setup(bot: KindredBot) -> None:
    await bot.add_cog(SearchCog(bot))
