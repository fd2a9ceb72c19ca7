"""The moderators' reports queue in Discord: the `/safety queue` listing and its Resolve and Hide
buttons (dynamic items: they work after a restart), and what members hear when they report.

Hide takes the message out of everything Kindred shows (`service.curation.hide_message`) and
resolves the item; both actions are recorded in the moderators' audit (`record_action`) when
curation is there. Only members with Manage Messages (or Manage Server) may press them.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

import discord

from bot.formatting import clamp_embed, respond
from bot.safety_messages import format_age, message_url
from knowledge.errors import NotFound
from knowledge.safety.queue import ReportItem
from knowledge.service import KnowledgeService

log = logging.getLogger(__name__)

QUEUE_SHOWN = 10  # items (each with two buttons) on one `/safety queue` reply
THANKS = "Thank you. The moderators have been told about this message; your name is not shown."
MERGED = (
    "Thank you. Other members reported this message too; the moderators already have it in "
    "their queue, and your report was added to it. Your name is not shown."
)
REPEAT = "You've already reported this message; the moderators have it in their queue."
LIMITED = (
    "Thank you for looking out for others. You've sent the most reports one member can send in "
    "a day, so this one wasn't sent. If someone may be in danger, please contact a moderator "
    "directly or call your local emergency number."
)
NOT_A_MODERATOR = "Only moderators (Manage Messages) can act on reports."


def may_moderate(interaction: discord.Interaction[Any]) -> bool:
    perms = interaction.permissions
    return bool(perms.manage_messages or perms.manage_guild or perms.administrator)


def queue_embed(items: list[ReportItem], now: datetime) -> discord.Embed:
    """Open report items, oldest first: jump link, how many reported it, age; never who."""
    lines = []
    for number, item in enumerate(items[:QUEUE_SHOWN], 1):
        url = message_url(item.guild_id, item.place_id, item.external_id)
        who = "1 member" if item.reporters == 1 else f"{item.reporters} members"
        taken = f", taken by <@{item.claimed_by}>" if item.claimed_by else ""
        age = format_age(now - item.created_at)
        lines.append(f"**{number}.** {item.level}, reported by {who}, {age} old{taken}: {url}")
    if len(items) > QUEUE_SHOWN:
        lines.append(f"… and {len(items) - QUEUE_SHOWN} more (resolve these to see them).")
    embed = discord.Embed(
        title=f"Reports queue: {len(items)} open",
        colour=discord.Colour.orange(),
        description="\n".join(lines) or "Nothing to review: every report is resolved.",
    )
    embed.set_footer(text="Resolve: done, nothing more to do. Hide: also hide it from Kindred.")
    return clamp_embed(embed)


def queue_view(items: list[ReportItem]) -> discord.ui.View | None:
    if not items:
        return None
    view = discord.ui.View(timeout=None)
    for number, item in enumerate(items[:QUEUE_SHOWN], 1):
        view.add_item(ReportActionButton(item.alert_id, "resolve", number))
        view.add_item(ReportActionButton(item.alert_id, "hide", number))
    return view


class ReportActionButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"kindred:report:(?P<action>resolve|hide):(?P<id>[0-9]+)",
):
    """Resolve (or hide and resolve) one report item."""

    def __init__(self, alert_id: int, action: str, number: int | None = None) -> None:
        label = "Resolve" if action == "resolve" else "Hide"
        super().__init__(
            discord.ui.Button(
                label=f"{label} {number}" if number is not None else label,
                style=discord.ButtonStyle.success
                if action == "resolve"
                else discord.ButtonStyle.danger,
                custom_id=f"kindred:report:{action}:{alert_id}",
            )
        )
        self.alert_id = alert_id
        self.action = action

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ReportActionButton:
        return cls(int(match["id"]), match["action"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.guild_id is None or not may_moderate(interaction):
            await respond(interaction, NOT_A_MODERATOR)
            return
        bot: Any = interaction.client
        service = bot.service
        guild_id, moderator = interaction.guild_id, interaction.user.id
        try:
            item = await bot.offload.run(service.safety_desk.alert, self.alert_id)
            if item.guild_id != guild_id:
                raise NotFound("that report is no longer in the queue")
            if self.action == "hide":
                await bot.offload.run(_hide, service, guild_id, item.external_id, moderator)
            action = "hidden" if self.action == "hide" else "resolved"
            first = await bot.offload.run(
                service.reports.resolve, guild_id, self.alert_id, moderator, action
            )
        except NotFound as exc:
            await respond(interaction, exc.detail)
            return
        await bot.offload.run(
            _audit, service, guild_id, moderator, f"report.{self.action}", str(self.alert_id)
        )
        if not first:
            await respond(interaction, "That report was already resolved.")
        elif action == "hidden":
            await respond(interaction, "Hidden from Kindred and resolved: it left the queue.")
        else:
            await respond(interaction, "Resolved: it left the queue.")


def _hide(service: KnowledgeService, guild_id: int, external_id: str, moderator: int) -> None:
    service.curation.hide_message(guild_id, external_id, moderator)


def _audit(
    service: KnowledgeService, guild_id: int, moderator: int, action: str, target: str
) -> None:
    service.curation.record_action(guild_id, moderator, action, target)
