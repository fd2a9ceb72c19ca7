"""`/profile ...`, `/connect` and `/kindred introductions`: the Discord glue (all ephemeral)."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.adapters import message_id_from
from bot.client import KindredBot
from bot.cogs.connect.card_buttons import CARD_ITEMS, cards_view
from bot.cogs.connect.delivery import readable_for, resources_text
from bot.cogs.connect.prompt_buttons import PromptAnswer
from bot.cogs.connect.prompts import show_waiting_prompts
from bot.cogs.connect.render import card_embed, profile_embed
from bot.errors import reply_for
from bot.formatting import edit_original, respond
from knowledge.errors import KindredError
from knowledge.matching.introductions import CardsFound, NeedsConditions
from knowledge.matching.results import OfferResources

log = logging.getLogger(__name__)
ITEMS = (*CARD_ITEMS, PromptAnswer)
ROLE_CHOICES = [
    app_commands.Choice(name="living with it", value="patient"),
    app_commands.Choice(name="caring for someone with it", value="carer"),
]
NEEDS_CONDITIONS = (
    "First tell Kindred which conditions you'd like to connect over: `/profile condition` "
    "(only the conditions you share with someone are ever shown to them)."
)
NOBODY = (
    "No fellow member who shares your conditions and role, and agreed to introductions, is "
    "available right now. Try again later."
)


def _ids(interaction: discord.Interaction[Any]) -> tuple[int, int]:
    if interaction.guild is None:
        raise app_commands.NoPrivateMessage()
    return interaction.guild.id, interaction.user.id


async def condition_choices(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    """Autocomplete from Kindred's condition vocabulary."""
    bot: KindredBot = interaction.client  # type: ignore[assignment]
    found = await bot.offload.run(bot.service.profiles.suggest_conditions, current, 25)
    return [app_commands.Choice(name=c.name[:100], value=c.id) for c in found]


@app_commands.guild_only()
class ProfileCog(commands.GroupCog, group_name="profile", group_description="Your Kindred profile"):
    """What match cards show about you, and whether you help newcomers (only you see this)."""

    def __init__(self, bot: KindredBot) -> None:
        self.bot = bot
        super().__init__()

    async def _show(self, interaction: discord.Interaction[Any], note: str | None = None) -> None:
        guild_id, member_id = _ids(interaction)
        profiles = self.bot.service.profiles
        view = await self.bot.offload.run(profiles.view, guild_id, member_id)
        labels = {k: profiles.label(k) for k in view.inferred}
        await respond(interaction, note, embed=profile_embed(view, labels))

    @app_commands.command(name="view")
    async def view(self, interaction: discord.Interaction[Any]) -> None:
        """Your profile: declared conditions, what Kindred inferred (only you see it), sample."""
        await self._show(interaction)

    @app_commands.command(name="condition")
    @app_commands.describe(
        condition="A condition from Kindred's list",
        role="Living with it yourself, or caring for someone who is",
        helps="Whether you are willing to help newcomers with it",
    )
    @app_commands.choices(role=ROLE_CHOICES)
    @app_commands.autocomplete(condition=condition_choices)
    async def condition(
        self,
        interaction: discord.Interaction[Any],
        condition: str,
        role: app_commands.Choice[str],
        helps: bool = False,
    ) -> None:
        """Declare a condition you'd like to connect over (or change its role)."""
        guild_id, member_id = _ids(interaction)
        profiles = self.bot.service.profiles
        await self.bot.offload.run(
            lambda: profiles.declare(guild_id, member_id, condition, role.value, helps=helps)
        )
        await self._show(interaction)

    @app_commands.command(name="remove")
    @app_commands.describe(condition="A condition you declared")
    @app_commands.autocomplete(condition=condition_choices)
    async def remove(self, interaction: discord.Interaction[Any], condition: str) -> None:
        """Remove a declared condition."""
        guild_id, member_id = _ids(interaction)
        profiles = self.bot.service.profiles
        await self.bot.offload.run(profiles.remove, guild_id, member_id, condition)
        await self._show(interaction)

    @app_commands.command(name="sample")
    @app_commands.describe(message="A link to (or the id of) one of your posts; empty = none")
    async def sample(self, interaction: discord.Interaction[Any], message: str = "") -> None:
        """Choose the post shown on your match card (default: none)."""
        guild_id, member_id = _ids(interaction)
        external_id = message_id_from(message) if message.strip() else None
        if message.strip() and external_id is None:
            await respond(interaction, "Give a message link or id, or leave it empty for none.")
            return
        profiles = self.bot.service.profiles
        await self.bot.offload.run(profiles.set_sample, guild_id, member_id, external_id)
        await self._show(interaction)

    @app_commands.command(name="helper")
    @app_commands.describe(on="Whether Kindred may ask you about newcomers' unanswered questions")
    async def helper(self, interaction: discord.Interaction[Any], on: bool) -> None:
        """Help newcomers with the conditions you marked as ones you help with."""
        guild_id, member_id = _ids(interaction)
        profiles = self.bot.service.profiles
        await self.bot.offload.run(profiles.set_helper, guild_id, member_id, on)
        await self._show(interaction)

    @app_commands.command(name="quiet")
    @app_commands.describe(
        start="First quiet hour (0-23, UTC); leave both empty for none", end="Quiet until (UTC)"
    )
    async def quiet(
        self,
        interaction: discord.Interaction[Any],
        start: app_commands.Range[int, 0, 23] | None = None,
        end: app_commands.Range[int, 0, 23] | None = None,
    ) -> None:
        """Hours when Kindred does not ask you to help."""
        guild_id, member_id = _ids(interaction)
        profiles = self.bot.service.profiles
        await self.bot.offload.run(profiles.set_quiet_hours, guild_id, member_id, start, end)
        await self._show(interaction)

    @app_commands.command(name="inferred")
    @app_commands.describe(use="Use the conditions your own posts name for matching")
    async def inferred(self, interaction: discord.Interaction[Any], use: bool) -> None:
        """Let matching use the conditions Kindred read in your own posts (off by default)."""
        guild_id, member_id = _ids(interaction)
        profiles = self.bot.service.profiles
        await self.bot.offload.run(profiles.set_use_inferred, guild_id, member_id, use)
        await self._show(interaction)

    @app_commands.command(name="blocks")
    @app_commands.describe(clear="Clear your list (you may be suggested to them again)")
    async def blocks(self, interaction: discord.Interaction[Any], clear: bool = False) -> None:
        """Members you asked never to be suggested to (they are never named)."""
        guild_id, member_id = _ids(interaction)
        intros = self.bot.service.introductions
        if clear:
            removed = await self.bot.offload.run(intros.clear_blocks, guild_id, member_id)
            await respond(interaction, f"Cleared {removed} from your list.")
            return
        count = await self.bot.offload.run(intros.blocks, guild_id, member_id)
        await respond(
            interaction,
            f"You asked never to be suggested to {count} member(s) here. They are not named, "
            "even to you; `/profile blocks clear:True` clears the list.",
        )


class ConnectCog(commands.Cog):
    """`/connect`, the prompts' fallback on a member's next command, expiry, the guild switch."""

    def __init__(self, bot: KindredBot) -> None:
        self.bot = bot
        super().__init__()

    async def cog_load(self) -> None:
        for item in ITEMS:
            self.bot.add_dynamic_items(item)
        minutes = self.bot.service.settings.introductions.check_minutes
        self.expire.change_interval(minutes=minutes)
        self.expire.start()

    async def cog_unload(self) -> None:
        self.expire.cancel()
        self.bot.remove_dynamic_items(*ITEMS)

    @app_commands.command(name="connect")
    @app_commands.guild_only()
    @app_commands.describe(about="Optional: a few words about what you'd like to talk about")
    async def connect(self, interaction: discord.Interaction[Any], about: str = "") -> None:
        """Fellow members who share your conditions: request an introduction (names hidden)."""
        guild_id, member_id = _ids(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        bot, intros = self.bot, self.bot.service.introductions
        readable = readable_for(bot, guild_id, member_id)
        try:
            outcome = await bot.offload.run(
                lambda: intros.find(
                    guild_id, member_id, text=about or None, readable_channel_ids=readable
                )
            )
        except KindredError as error:  # e.g. introductions are off here
            await edit_original(interaction, reply_for(error) or "That can't be done now.")
            return
        if isinstance(outcome, NeedsConditions):
            await edit_original(interaction, NEEDS_CONDITIONS)
            return
        if isinstance(outcome, OfferResources):
            await edit_original(interaction, resources_text(bot, guild_id))
            return
        assert isinstance(outcome, CardsFound)
        waiting = (
            f"\nYour requests with no answer yet: {outcome.waiting}." if outcome.waiting else ""
        )
        if outcome.total == 0:
            await edit_original(interaction, NOBODY + waiting)
            return
        card = await bot.offload.run(intros.card, outcome.batch, 0, member_id, readable)
        await edit_original(
            interaction,
            "Fellow members who share your conditions." + waiting,
            embed=card_embed(card),
            view=cards_view(card, outcome.batch),
        )

    @tasks.loop(minutes=10.0)
    async def expire(self) -> None:
        """Requests nobody answered expire (silently); old match cards go."""
        expired = await self.bot.offload.run(self.bot.service.introductions.expire)
        if expired:
            log.info("introductions: %d requests expired", expired)

    @commands.Cog.listener()
    async def on_app_command_completion(
        self, interaction: discord.Interaction[Any], command: Any
    ) -> None:
        """Prompts that could not go by DM are shown on the member's next command."""
        try:
            await show_waiting_prompts(self.bot, interaction)
        except discord.HTTPException as exc:
            log.info("could not show waiting introduction prompts: HTTP %s", exc.status)
