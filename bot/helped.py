""" "This helped": a button under a result, suggestion or curated entry; once per member.

`HelpedButton` is a dynamic item (custom id `kindred:helped:<guild_id>:<external_id>`): the
signals cog registers it once, so a click works on any message, after a restart too. Cogs put
`helped_button(guild_id, external_id)` in their views: a *plain* button with that custom id.
(discord.py drops a dynamic item's registration when a view holding an instance of it stops, e.g.
on timeout; a plain button with the same custom id keeps the registration safe.)

`HelpedResultsView` is the search results view with one "Helped" button per result shown on the
current page, refreshed as the member turns pages.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from bot.formatting import respond
from bot.views import ResultsView
from knowledge.errors import KindredError

log = logging.getLogger(__name__)

PREFIX = "kindred:helped:"
HELPED_ROWS = 4  # rows of "Helped" buttons under the page buttons (5 a row)
CUSTOM_ID_LIMIT = 100  # Discord's limit on a component's custom id
COUNTED = "Thank you: noted that this helped. It helps moderators see which answers work."
ALREADY = "You've already said this helped (each member counts once)."
OWN_POST = "That's your own post, so it isn't counted."
WRONG_PLACE = "That button belongs to another server."


def helped_custom_id(guild_id: int, external_id: str) -> str | None:
    """The button's custom id, or None when the message id is too long for one."""
    custom_id = f"{PREFIX}{guild_id}:{external_id}"
    return custom_id if len(custom_id) <= CUSTOM_ID_LIMIT and ":" not in external_id else None


def helped_button(
    guild_id: int, external_id: str, *, label: str = "This helped", row: int | None = None
) -> discord.ui.Button[Any] | None:
    """A "This helped" button for a message, to add to any view (None if it can't have one)."""
    custom_id = helped_custom_id(guild_id, external_id)
    if custom_id is None:
        return None
    return discord.ui.Button(
        label=label, emoji="👍", style=discord.ButtonStyle.secondary, custom_id=custom_id, row=row
    )


class HelpedButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"kindred:helped:(?P<guild>[0-9]+):(?P<ext>[^:]{1,80})",
):
    """Handles every "This helped" click (registered with `bot.add_dynamic_items`)."""

    def __init__(self, guild_id: int, external_id: str, label: str = "This helped") -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=f"{PREFIX}{guild_id}:{external_id}",
            )
        )
        self.guild_id = guild_id
        self.external_id = external_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> HelpedButton:
        label = item.label if isinstance(item, discord.ui.Button) else None
        return cls(int(match["guild"]), match["ext"], label or "This helped")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.guild_id != self.guild_id:
            await respond(interaction, WRONG_PLACE)
            return
        bot: Any = interaction.client
        signals = bot.service.signals
        try:
            counted = await bot.offload.run(
                signals.mark_helped, self.guild_id, interaction.user.id, self.external_id
            )
        except KindredError as exc:
            await respond(interaction, exc.detail)
            return
        if counted:
            await respond(interaction, COUNTED)
            return
        post = await bot.offload.run(bot.service.find_post, self.guild_id, self.external_id)
        own = post is not None and post.author_id == interaction.user.id
        await respond(interaction, OWN_POST if own else ALREADY)


class HelpedResultsView(ResultsView):
    """Paged search results with a "Helped" button for each result on the page shown."""

    def __init__(self, guild_id: int, *args: Any, **kwargs: Any) -> None:
        self.guild_id = guild_id
        self._helped: list[discord.ui.Button[Any]] = []
        super().__init__(*args, **kwargs)

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """A "Helped" click is answered by `HelpedButton` alone (any member may press it)."""
        data: Any = interaction.data or {}
        if str(data.get("custom_id", "")).startswith(PREFIX):
            return False
        return await super().interaction_check(interaction)

    def embed(self) -> discord.Embed:
        """The page's embed; the page's "Helped" buttons are refreshed with it."""
        self._refresh_helped()
        return super().embed()

    def _refresh_helped(self) -> None:
        for old in self._helped:
            self.remove_item(old)
        self._helped = []
        start = self.page * self.page_size
        page = self.hits[start : start + self.page_size][: 5 * HELPED_ROWS]
        for i, hit in enumerate(page):
            label, row = f"{start + i + 1} helped", 1 + i // 5
            button = helped_button(self.guild_id, hit.external_id, label=label, row=row)
            if button is not None:
                self._helped.append(button)
                self.add_item(button)
