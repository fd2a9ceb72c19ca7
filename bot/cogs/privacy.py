"""`/privacy view|export|delete`: every member sees, takes away and erases what Kindred holds.

All replies are ephemeral. The consent buttons change a member's choices at once (the knowledge
layer checks consent on every read). The first time a member uses any Kindred command, a short
ephemeral notice says what Kindred does and points here.
"""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.client import KindredBot
from bot.formatting import (
    edit_original,
    edit_response,
    notice_embed,
    quote_member_text,
    respond,
    send,
)
from bot.permissions import require_manage_guild
from bot.views import AskerOnlyView, ConfirmView
from knowledge.privacy.export import PrivacySummary

log = logging.getLogger(__name__)
VIEW_SECONDS = 300.0
FIRST_CONTACT = (
    "**About Kindred.** Kindred indexes posts in the channels this server's admins enabled, so "
    "members can find each other's experiences. It shows only members' own experiences, never "
    "medical advice. You decide whether others may find your posts and whether you may be "
    "suggested for introductions: see and change this with `/privacy view`, download your data "
    "with `/privacy export`, erase it with `/privacy delete`."
)


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


def summary_embed(summary: PrivacySummary) -> discord.Embed:
    consent = summary.consent
    lines = [
        f"**Posts stored:** {summary.posts:,}",
        *(f"• <#{cid}>: {n:,}" for cid, n in sorted(summary.posts_by_channel.items())[:15]),
        "",
        f"**Others can find your posts:** {yes_no(consent.searchable)}"
        + (
            ""
            if consent.searchable_choice is not None
            else f" (server default, {consent.search_mode})"
        ),
        f"**You may be suggested for introductions:** {yes_no(consent.matchable)}",
        f"**Your posts are indexed:** {yes_no(not consent.excluded)}",
        f"**Profile data:** {'none' if not summary.profile else 'yes'}",
        f"**Pending introductions:** {summary.pending_introductions}",
    ]
    if summary.condition_tags:  # strong tags only; weak ranking evidence is never listed
        tags = list(summary.condition_tags.items())[:15]
        lines.append("**Condition tags from your posts:**")
        lines.extend(f"• {quote_member_text(name, 80)}: {n:,}" for name, n in tags)
    if summary.retention_days:
        lines.append(f"Posts are kept at most {summary.retention_days} days on this server.")
    return notice_embed("What Kindred holds about you here", "\n".join(lines))


class ConsentView(AskerOnlyView):
    """Buttons that flip one consent each, then redraw the summary."""

    def __init__(self, bot: KindredBot, guild_id: int, member_id: int) -> None:
        super().__init__(member_id, timeout=VIEW_SECONDS)
        self.bot, self.guild_id = bot, guild_id

    async def _redraw(self, interaction: discord.Interaction[Any]) -> None:
        summary = await self.bot.offload.run(
            self.bot.service.privacy.summary, self.guild_id, self.asker_id
        )
        await edit_response(interaction, embed=summary_embed(summary), view=self)

    async def _set(self, interaction: discord.Interaction[Any], **change: bool) -> None:
        privacy = self.bot.service.privacy
        await self.bot.offload.run(
            lambda: privacy.set_consent(self.guild_id, self.asker_id, by=self.asker_id, **change)
        )
        await self._redraw(interaction)

    @discord.ui.button(label="Let others find my posts", style=discord.ButtonStyle.success)
    async def searchable_on(self, interaction: discord.Interaction[Any], _: Any) -> None:
        await self._set(interaction, searchable=True)

    @discord.ui.button(label="Hide my posts from others", style=discord.ButtonStyle.secondary)
    async def searchable_off(self, interaction: discord.Interaction[Any], _: Any) -> None:
        await self._set(interaction, searchable=False)

    @discord.ui.button(label="Allow introductions", style=discord.ButtonStyle.success, row=1)
    async def matchable_on(self, interaction: discord.Interaction[Any], _: Any) -> None:
        await self._set(interaction, matchable=True)

    @discord.ui.button(label="No introductions", style=discord.ButtonStyle.secondary, row=1)
    async def matchable_off(self, interaction: discord.Interaction[Any], _: Any) -> None:
        await self._set(interaction, matchable=False)

    @discord.ui.button(label="Stop indexing my posts", style=discord.ButtonStyle.danger, row=2)
    async def exclude(self, interaction: discord.Interaction[Any], _: Any) -> None:
        """Excluding deletes what is stored and keeps new posts out (the knowledge layer's rule)."""
        await self._set(interaction, excluded=True)

    @discord.ui.button(label="Index my posts again", style=discord.ButtonStyle.secondary, row=2)
    async def include(self, interaction: discord.Interaction[Any], _: Any) -> None:
        await self._set(interaction, excluded=False)


@app_commands.guild_only()
class PrivacyCog(commands.GroupCog, group_name="privacy", group_description="Your data in Kindred"):
    """See, export and delete what Kindred holds about you in this server."""

    def __init__(self, bot: KindredBot) -> None:
        self.bot = bot
        super().__init__()

    @staticmethod
    def _ids(interaction: discord.Interaction[Any]) -> tuple[int, int]:
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage()
        return interaction.guild.id, interaction.user.id

    @app_commands.command(name="view")
    async def view(self, interaction: discord.Interaction[Any]) -> None:
        """What Kindred holds about you here, and your consent choices."""
        guild_id, member_id = self._ids(interaction)
        summary = await self.bot.offload.run(self.bot.service.privacy.summary, guild_id, member_id)
        view = ConsentView(self.bot, guild_id, member_id)
        view.origin = interaction
        self.bot.track(view)
        await respond(interaction, embed=summary_embed(summary), view=view)

    @app_commands.command(name="export")
    async def export(self, interaction: discord.Interaction[Any]) -> None:
        """Download every row Kindred holds about you in this server (JSON)."""
        guild_id, member_id = self._ids(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await self.bot.offload.run(self.bot.service.privacy.export, guild_id, member_id)
        blob = json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")
        file = discord.File(io.BytesIO(blob), filename=f"kindred-{guild_id}-{member_id}.json")
        await respond(interaction, "Everything Kindred holds about you in this server.", file=file)

    @app_commands.command(name="delete")
    async def delete(self, interaction: discord.Interaction[Any]) -> None:
        """Erase everything Kindred holds about you here (asks first)."""
        guild_id, member_id = self._ids(interaction)
        confirm = ConfirmView(member_id, timeout=60.0)
        confirm.confirm.label = "Delete my data"
        confirm.origin = interaction
        self.bot.track(confirm)
        await respond(
            interaction,
            "Delete every post, consent choice and alert Kindred holds about you in this server, "
            "from the database and both search indexes? Your messages on Discord stay; Kindred "
            "only forgets them (and will not index them again). This cannot be undone.",
            view=confirm,
        )
        await confirm.wait()
        if not confirm.value:
            return
        report = await self.bot.offload.run(
            self.bot.service.privacy.delete_member, guild_id, member_id
        )
        log.info("member %s deleted their data in guild %s", member_id, guild_id)
        await edit_original(
            interaction,
            f"Done: {report.posts:,} posts and everything else Kindred held about you here are "
            "deleted.",
            clear_view=True,
        )

    @app_commands.command(name="mode")
    @app_commands.describe(
        mode="opt_in: nobody's posts are shown to others until they agree; opt_out: shown "
        "unless they say no.",
        announce_in="Where to post the opt-out announcement (required for opt_out).",
    )
    @app_commands.choices(
        mode=[
            app_commands.Choice(name="opt-in (members agree first)", value="opt_in"),
            app_commands.Choice(name="opt-out (announced; members can say no)", value="opt_out"),
        ]
    )
    async def mode(
        self,
        interaction: discord.Interaction[Any],
        mode: app_commands.Choice[str],
        announce_in: discord.TextChannel | None = None,
    ) -> None:
        """Admins: choose whether members are searchable by default (Manage Server)."""
        guild_id, admin = self._ids(interaction)
        require_manage_guild(interaction)
        if mode.value == "opt_out" and announce_in is None:
            await respond(interaction, "Opt-out must be announced: choose `announce_in`.")
            return
        privacy = self.bot.service.privacy
        await self.bot.offload.run(privacy.set_search_mode, guild_id, mode.value, admin)
        if announce_in is not None and mode.value == "opt_out":
            text = self.bot.settings.discord.opt_out_announcement
            await send(announce_in, text)
        await respond(interaction, f"Search mode is now **{mode.name}**.")

    @tasks.loop(hours=1.0)
    async def maintenance(self) -> None:
        """Retention limits and scrubbing of deleted bytes, on a schedule."""
        removed = await self.bot.offload.run(self.bot.service.maintain)
        if removed:
            log.info("maintenance: %d posts past retention removed", removed)

    async def cog_load(self) -> None:
        self.maintenance.change_interval(hours=self.bot.settings.discord.maintenance_hours)
        self.maintenance.start()

    async def cog_unload(self) -> None:
        self.maintenance.cancel()

    @commands.Cog.listener()
    async def on_app_command_completion(
        self, interaction: discord.Interaction[Any], command: Any
    ) -> None:
        """First contact: a short notice the first time a member uses any Kindred command."""
        if interaction.guild is None:
            return
        first = await self.bot.offload.run(
            self.bot.service.privacy.first_contact, interaction.guild.id, interaction.user.id
        )
        if first:
            await respond(interaction, FIRST_CONTACT)


async def setup(bot: KindredBot) -> None:
    await bot.add_cog(PrivacyCog(bot))
