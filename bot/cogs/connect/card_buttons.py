"""Persistent buttons of match cards (dynamic items: they keep working after a restart, all
state is in SQL). Custom ids carry a random batch id or an opaque card token, never a member's
id."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.cogs.connect.delivery import readable_for, resources_text
from bot.cogs.connect.prompts import deliver_prompt
from bot.cogs.connect.render import button, card_embed
from bot.errors import reply_for
from bot.formatting import edit_response, respond
from knowledge.errors import KindredError
from knowledge.matching.cards import Card
from knowledge.matching.introductions import Requested
from knowledge.matching.results import OfferResources

if TYPE_CHECKING:
    from bot.client import KindredBot

log = logging.getLogger(__name__)
Style = discord.ButtonStyle
REQUEST_SENT = (
    "Request sent. If they accept, Kindred opens a private thread with the two of you. If "
    "they don't, it simply stays unanswered: you can see how many requests have no answer yet "
    "in `/connect`."
)


def _bot(interaction: discord.Interaction[Any]) -> KindredBot:
    bot: KindredBot = interaction.client
    return bot


async def _failed(interaction: discord.Interaction[Any], error: KindredError) -> None:
    await respond(interaction, reply_for(error) or "That can't be done now.")


def cards_view(card: Card, batch: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CardPage(batch, card.position - 1, "p", disabled=card.position <= 0))
    view.add_item(CardPage(batch, card.position + 1, "n", disabled=card.position >= card.total - 1))
    view.add_item(CardAction(card.token, "req"))
    view.add_item(CardAction(card.token, "hide"))
    return view


class CardPage(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"kindred:cards:(?P<batch>[0-9a-f]{32}):(?P<pos>-?[0-9]+):(?P<dir>[pn])",
):
    """Previous / next match card of one /connect answer."""

    def __init__(self, batch: str, position: int, direction: str, *, disabled: bool = False):
        label = "Previous" if direction == "p" else "Next"
        super().__init__(
            button(
                label,
                f"kindred:cards:{batch}:{position}:{direction}",
                Style.secondary,
                disabled=disabled,
            )
        )
        self.batch, self.position = batch, position

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: Any, match: re.Match[str], /
    ) -> CardPage:
        return cls(match["batch"], int(match["pos"]), match["dir"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot = _bot(interaction)
        guild_id = interaction.guild.id if interaction.guild else 0
        readable = readable_for(bot, guild_id, interaction.user.id)
        intros = bot.service.introductions
        try:
            card = await bot.offload.run(
                intros.card, self.batch, self.position, interaction.user.id, readable
            )
        except KindredError as error:
            await _failed(interaction, error)
            return
        await edit_response(interaction, embed=card_embed(card), view=cards_view(card, self.batch))


class CardAction(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"kindred:card:(?P<token>[0-9a-f]{32}):(?P<action>req|hide)",
):
    """ "Request introduction" / "Don't suggest us to each other" on one match card."""

    def __init__(self, token: str, action: str) -> None:
        label, style = (
            ("Request introduction", Style.primary)
            if action == "req"
            else ("Don't suggest us to each other", Style.danger)
        )
        super().__init__(button(label, f"kindred:card:{token}:{action}", style))
        self.token, self.action = token, action

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: Any, match: re.Match[str], /
    ) -> CardAction:
        return cls(match["token"], match["action"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot = _bot(interaction)
        intros = bot.service.introductions
        member_id = interaction.user.id
        try:
            if self.action == "hide":
                await bot.offload.run(intros.hide_member, self.token, member_id)
                await respond(
                    interaction,
                    "Done: you and this member won't be suggested to each other again "
                    "(`/profile blocks` clears your list).",
                )
                return
            outcome = await bot.offload.run(intros.request, self.token, member_id)
        except KindredError as error:
            await _failed(interaction, error)
            return
        if isinstance(outcome, OfferResources):
            guild_id = interaction.guild.id if interaction.guild else 0
            await respond(interaction, resources_text(bot, guild_id))
            return
        await respond(interaction, REQUEST_SENT)
        await _prompt(bot, outcome)


async def _prompt(bot: KindredBot, requested: Requested) -> None:
    delivered = await deliver_prompt(
        bot, requested.intro_id, requested.guild_id, requested.target_id
    )
    if not delivered:
        log.info("introduction %s: prompt waits for the member's next command", requested.intro_id)


CARD_ITEMS = (CardPage, CardAction)
