"""Buttons: a confirm dialog and paginated results, both answering only the member who asked."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import discord

from bot.formatting import edit_original, edit_response, respond
from knowledge.records import SearchHit

log = logging.getLogger(__name__)

NOT_YOURS = "Only the member who asked can use these buttons."


class AskerOnlyView(discord.ui.View):
    """A view bound to one asker and to the interaction whose reply carries it."""

    def __init__(self, asker_id: int, *, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.asker_id = asker_id
        self.origin: discord.Interaction[Any] | None = None

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        if interaction.user.id == self.asker_id:
            return True
        await respond(interaction, NOT_YOURS)
        return False

    def disable_all(self) -> None:
        for item in self.children:
            if isinstance(item, discord.ui.Button):
                item.disabled = True

    async def on_timeout(self) -> None:
        """Leave the message in place with its buttons greyed out."""
        self.disable_all()
        if self.origin is None:
            return
        try:
            await edit_original(self.origin, view=self)
        except discord.HTTPException as exc:  # the reply may be gone or the token expired
            log.info("could not disable buttons after timeout: HTTP %s", exc.status)


class ConfirmView(AskerOnlyView):
    """Confirm or cancel (discord.py examples/views/confirm.py); `value` holds the answer."""

    def __init__(self, asker_id: int, *, timeout: float = 60.0) -> None:
        super().__init__(asker_id, timeout=timeout)
        self.value: bool | None = None
        self.decided: discord.Interaction[Any] | None = None

    @discord.ui.button(label="Disable and delete", style=discord.ButtonStyle.danger)
    async def confirm(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]
    ) -> None:
        await self._decide(interaction, True)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]
    ) -> None:
        await self._decide(interaction, False)

    async def _decide(self, interaction: discord.Interaction[Any], value: bool) -> None:
        self.value, self.decided = value, interaction
        self.disable_all()
        await edit_response(interaction, "Working on it…" if value else "Cancelled.", view=self)
        self.stop()


PageRenderer = Callable[[list[SearchHit], int, int], discord.Embed]


class ResultsView(AskerOnlyView):
    """Pages of search results (discord.py examples/views/pagination.py)."""

    def __init__(
        self,
        asker_id: int,
        hits: list[SearchHit],
        render: PageRenderer,
        *,
        page_size: int,
        timeout: float,
    ) -> None:
        super().__init__(asker_id, timeout=timeout)
        self.hits = hits
        self.render = render
        self.page_size = page_size
        self.page = 0
        self._refresh_buttons()

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.hits) // self.page_size))

    def embed(self) -> discord.Embed:
        start = self.page * self.page_size
        return self.render(self.hits[start : start + self.page_size], start, len(self.hits))

    def _refresh_buttons(self) -> None:
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages - 1
        self.position.label = f"{self.page + 1}/{self.pages}"

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]
    ) -> None:
        await self._turn(interaction, -1)

    @discord.ui.button(label="1/1", style=discord.ButtonStyle.secondary, disabled=True)
    async def position(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]
    ) -> None:
        await interaction.response.defer()

    @discord.ui.button(label="Next", style=discord.ButtonStyle.primary)
    async def next(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]
    ) -> None:
        await self._turn(interaction, 1)

    async def _turn(self, interaction: discord.Interaction[Any], step: int) -> None:
        self.page = min(max(self.page + step, 0), self.pages - 1)
        self._refresh_buttons()
        await edit_response(interaction, embed=self.embed(), view=self)

    def disable_all(self) -> None:
        super().disable_all()
        self.position.disabled = True
