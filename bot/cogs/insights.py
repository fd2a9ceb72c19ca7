"""`/insights` for moderators: how questions fare, top conditions and their movement, the oldest
unanswered questions (jump links), searches that found nothing by condition, and a PNG chart of
weekly questions and answer rate (rendered in a worker thread, never on the event loop)."""

from __future__ import annotations

import io
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import KindredBot
from bot.formatting import clamp_embed, respond
from bot.safety_messages import message_url
from knowledge.insights import InsightsReport
from knowledge.insights.summary import condition_lines, figure_lines, gap_lines

CHART_NAME = "insights.png"
PERIOD_CHOICES = [
    app_commands.Choice(name="last 7 days", value=7),
    app_commands.Choice(name="last 30 days", value=30),
    app_commands.Choice(name="last 90 days", value=90),
]
NOT_A_MODERATOR = "Insights are for moderators (Manage Messages or Manage Server)."


def _lines(rows: list[tuple[str, str]], empty: str) -> str:
    return "\n".join(f"{name}: **{value}**" for name, value in rows) or empty


def insights_embed(report: InsightsReport) -> discord.Embed:
    """The figures as an embed; the chart is attached as its image."""
    embed = discord.Embed(
        title=f"Insights: last {report.days} days",
        description=_lines(figure_lines(report), "No questions in this period."),
        colour=discord.Colour.blurple(),
    )
    embed.add_field(
        name=f"Top conditions (against the previous {report.days} days)",
        value=_lines(condition_lines(report), "No condition named in this period's questions."),
        inline=False,
    )
    oldest = [
        f"• asked {discord.utils.format_dt(q.asked_at, 'R')}: "
        f"{message_url(q.guild_id, q.place_id, q.external_id)}"
        for q in report.oldest_unanswered
    ]
    embed.add_field(
        name="Oldest unanswered questions",
        value="\n".join(oldest) or "None: every question of the period has an answer.",
        inline=False,
    )
    embed.add_field(
        name="Searches that found nothing close, by condition named",
        value=_lines(gap_lines(report), "None: every search found something close."),
        inline=False,
    )
    embed.set_footer(text='Counts from 1 to 4 are shown as "fewer than 5". No text is stored.')
    embed.set_image(url=f"attachment://{CHART_NAME}")
    return clamp_embed(embed)


class InsightsCog(commands.Cog):
    """Moderators' view of how the community's questions are answered."""

    def __init__(self, bot: KindredBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="insights")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_messages=True)
    @app_commands.describe(period="How far back to look (default: 30 days).")
    @app_commands.choices(period=PERIOD_CHOICES)
    async def insights(
        self, interaction: discord.Interaction[Any], period: app_commands.Choice[int] | None = None
    ) -> None:
        """Questions, answers, top conditions and gaps for this server, with a chart."""
        perms = interaction.permissions
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage()
        if not (perms.manage_messages or perms.manage_guild or perms.administrator):
            await respond(interaction, NOT_A_MODERATOR)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        insights = self.bot.service.insights
        days = period.value if period else 30
        report = await self.bot.offload.run(insights.report, interaction.guild.id, days)
        chart = await self.bot.offload.run(insights.chart, report)
        file = discord.File(io.BytesIO(chart), filename=CHART_NAME)
        await respond(interaction, embed=insights_embed(report), file=file)


async def setup(bot: KindredBot) -> None:
    await bot.add_cog(InsightsCog(bot))
