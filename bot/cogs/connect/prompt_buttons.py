"""The persistent Accept / Decline buttons of an introduction prompt (custom ids carry the
introduction id only), and what accepting does: a private thread with both members."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, ClassVar

import discord

from bot.cogs.connect.delivery import open_thread, resources_text
from bot.cogs.connect.render import button
from bot.errors import reply_for
from bot.formatting import edit_response, respond, send
from knowledge.errors import KindredError
from knowledge.matching.introductions import Accepted
from knowledge.matching.results import OfferResources

if TYPE_CHECKING:
    from bot.client import KindredBot

log = logging.getLogger(__name__)
Style = discord.ButtonStyle


def _bot(interaction: discord.Interaction[Any]) -> KindredBot:
    bot: KindredBot = interaction.client
    return bot


async def _failed(interaction: discord.Interaction[Any], error: KindredError) -> None:
    await respond(interaction, reply_for(error) or "That can't be done now.")


def prompt_view(intro_id: int, *, disabled: bool = False) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in ("yes", "no", "block"):
        view.add_item(PromptAnswer(intro_id, action, disabled=disabled))
    return view


class PromptAnswer(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"kindred:intro:(?P<id>[0-9]+):(?P<action>yes|no|block)",
):
    """Accept / Decline / Decline and never suggest me to this member."""

    LABELS: ClassVar[dict[str, tuple[str, discord.ButtonStyle]]] = {
        "yes": ("Accept", Style.success),
        "no": ("Decline", Style.secondary),
        "block": ("Decline and never suggest me to them", Style.danger),
    }

    def __init__(self, intro_id: int, action: str, *, disabled: bool = False) -> None:
        label, style = self.LABELS[action]
        custom_id = f"kindred:intro:{intro_id}:{action}"
        super().__init__(button(label, custom_id, style, disabled=disabled))
        self.intro_id, self.action = intro_id, action

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: Any, match: re.Match[str], /
    ) -> PromptAnswer:
        return cls(int(match["id"]), match["action"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot = _bot(interaction)
        intros = bot.service.introductions
        member_id = interaction.user.id
        try:
            if self.action != "yes":
                block = self.action == "block"
                await bot.offload.run(lambda: intros.decline(self.intro_id, member_id, block=block))
                text = "You declined. They won't be told; it stays unanswered for them."
                if block:
                    text += " You won't be suggested to each other again."
                await edit_response(
                    interaction, text, view=prompt_view(self.intro_id, disabled=True)
                )
                return
            outcome = await bot.offload.run(intros.accept, self.intro_id, member_id)
        except KindredError as error:
            await _failed(interaction, error)
            return
        if isinstance(outcome, OfferResources):
            intro = await bot.offload.run(intros.get, self.intro_id)
            await respond(interaction, resources_text(bot, intro.guild_id))
            return
        await edit_response(
            interaction,
            "You accepted. Kindred is opening a private thread for the two of you…",
            view=prompt_view(self.intro_id, disabled=True),
        )
        await _introduce(bot, interaction, outcome)


async def _introduce(
    bot: KindredBot, interaction: discord.Interaction[Any], accepted: Accepted
) -> None:
    intros = bot.service.introductions
    try:
        thread = await open_thread(bot, accepted)
    except discord.HTTPException as exc:
        log.warning("introduction %s: thread not opened (HTTP %s)", accepted.intro_id, exc.status)
        thread = None
    if thread is None:
        await bot.offload.run(intros.reopen, accepted.intro_id)
        await respond(
            interaction,
            "Kindred couldn't open a private thread on this server right now; the request is "
            "still open, so you can accept again later.",
        )
        return
    await bot.offload.run(intros.opened, accepted.intro_id, thread.id)
    await respond(interaction, f"Your private thread is ready: {thread.mention}")
    try:
        user = bot.get_user(accepted.requester_id) or await bot.fetch_user(accepted.requester_id)
        await send(
            await user.create_dm(),
            f"Your introduction request was accepted: {thread.mention} is your private thread.",
        )
    except discord.HTTPException:
        pass  # they are in the thread already; the DM is a courtesy
