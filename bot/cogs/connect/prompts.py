"""Getting a prompt to the member asked: by DM, or, when their DMs are closed, ephemeral on
their next command (the introduction stays unprompted until then)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord

from bot.cogs.connect.delivery import readable_for
from bot.cogs.connect.prompt_buttons import prompt_view
from bot.cogs.connect.render import prompt_embed
from bot.formatting import respond, send

if TYPE_CHECKING:
    from bot.client import KindredBot

log = logging.getLogger(__name__)


async def deliver_prompt(bot: KindredBot, intro_id: int, guild_id: int, target_id: int) -> bool:
    """DM the prompt to the member asked; False when their DMs are closed (shown later)."""
    intros = bot.service.introductions
    readable = readable_for(bot, guild_id, target_id)
    card = await bot.offload.run(intros.prompt_card, intro_id, readable)
    try:
        user = bot.get_user(target_id) or await bot.fetch_user(target_id)
        channel = await user.create_dm()
        message = await send(channel, embed=prompt_embed(card), view=prompt_view(intro_id))
    except discord.HTTPException as exc:
        log.info("introduction %s: prompt not delivered by DM (HTTP %s)", intro_id, exc.status)
        return False
    await bot.offload.run(intros.mark_prompted, intro_id, message.id)
    return True


async def show_waiting_prompts(bot: KindredBot, interaction: discord.Interaction[Any]) -> int:
    """Prompts the member could not get by DM, as ephemeral follow-ups of their command."""
    if interaction.guild is None:
        return 0
    guild_id, member_id = interaction.guild.id, interaction.user.id
    intros = bot.service.introductions
    waiting = await bot.offload.run(intros.unprompted, guild_id, member_id)
    for intro_id in waiting:
        card = await bot.offload.run(
            intros.prompt_card, intro_id, readable_for(bot, guild_id, member_id)
        )
        await respond(interaction, embed=prompt_embed(card), view=prompt_view(intro_id))
        await bot.offload.run(intros.mark_prompted, intro_id, None)
    return len(waiting)
