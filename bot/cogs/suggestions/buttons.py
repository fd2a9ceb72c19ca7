"""The "Not helpful" button on a suggestion reply: persistent (a dynamic item), so it works
after a restart. It counts one click per member; the asker's or a moderator's click hides the
suggestions (the reply is edited to a short note)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import discord

from bot.client import KindredBot
from bot.cogs.suggestions.messages import FEEDBACK_NOTED, GONE, hidden_embed
from bot.formatting import edit_response, respond
from bot.helped import helped_button
from knowledge.records import SearchHit


def may_hide(interaction: discord.Interaction[Any]) -> bool:
    """Moderators (Manage Messages or Manage Server) may hide anyone's suggestions."""
    perms = interaction.permissions
    return perms.manage_messages or perms.manage_guild or perms.administrator


class NotHelpfulButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"kindred:suggestion:(?P<id>[0-9]+)",
):
    """ "Not helpful" on suggestion `suggestion_id`."""

    def __init__(self, suggestion_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Not helpful",
                style=discord.ButtonStyle.secondary,
                custom_id=f"kindred:suggestion:{suggestion_id}",
            )
        )
        self.suggestion_id = suggestion_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> NotHelpfulButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot: KindredBot = interaction.client  # type: ignore[assignment]
        suggestions = bot.service.suggestions
        feedback = await bot.offload.run(
            lambda: suggestions.not_helpful(
                self.suggestion_id, interaction.user.id, may_hide=may_hide(interaction)
            )
        )
        if feedback.author_id is None:
            await respond(interaction, GONE)
        elif feedback.hidden:
            await edit_response(interaction, "", embed=hidden_embed(), clear_view=True)
        else:
            await respond(interaction, FEEDBACK_NOTED)


def suggestion_view(suggestion_id: int, hits: Sequence[SearchHit] = ()) -> discord.ui.View:
    """ "Not helpful" for the reply, and a numbered "This helped" for each suggested thread."""
    view = discord.ui.View(timeout=None)
    view.add_item(NotHelpfulButton(suggestion_id))
    for number, hit in enumerate(hits, start=1):
        button = helped_button(hit.guild_id, hit.external_id, label=f"{number} helped", row=1)
        if button is not None:
            view.add_item(button)
    return view
