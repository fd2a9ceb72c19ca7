"""`/kindred enable|disable|status`: which channels Kindred may index (Manage Server only);
`/kindred audit`: the moderators' recent actions (ids only); `/kindred introductions on|off`."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.adapters import IndexableChannel, channel_record
from bot.client import KindredBot
from bot.formatting import edit_original, notice_embed, respond, safe_name
from bot.job_status import checkpoint_text, follow, job_text
from bot.permissions import can_read, require_manage_guild
from bot.views import ConfirmView
from knowledge.scope import epoch_seconds

CONFIRM_SECONDS = 60.0


def _guild(interaction: discord.Interaction[Any]) -> discord.Guild:
    if interaction.guild is None:
        raise app_commands.NoPrivateMessage()
    return interaction.guild


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class AdminCog(commands.GroupCog, group_name="kindred", group_description="Kindred settings"):
    """Admin control: enable (with backfill), disable (with purge), status."""

    def __init__(self, bot: KindredBot) -> None:
        self.bot = bot
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """The runtime check behind default_permissions (which server admins can override)."""
        return require_manage_guild(interaction)

    @app_commands.command(name="enable")
    @app_commands.describe(channel="A text or forum channel; its threads are included.")
    async def enable(
        self,
        interaction: discord.Interaction[Any],
        channel: discord.TextChannel | discord.ForumChannel,
    ) -> None:
        """Let Kindred index a channel, and read its history."""
        guild = _guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        if guild.me is None or not can_read(channel, guild.me):
            await edit_original(
                interaction,
                f"Kindred can't read {channel.mention}: give it View Channel and Read Message "
                "History there, then try again.",
            )
            return
        bot, service = self.bot, self.bot.service
        await bot.offload.run(service.register_guild, guild.id, guild.name)
        await bot.offload.run(
            service.enable_channel, guild.id, channel_record(channel), interaction.user.id
        )
        bot.indexed.mark_enabled(guild.id, channel.id)
        job = bot.backfill.enqueue(channel)
        header = f"Kindred is enabled in {channel.mention}. Reading its history:"
        await follow(interaction, job, bot.settings.discord.progress_interval_seconds, header)

    @app_commands.command(name="disable")
    @app_commands.describe(channel="The channel to stop indexing; its stored posts are deleted.")
    async def disable(
        self,
        interaction: discord.Interaction[Any],
        channel: discord.TextChannel | discord.ForumChannel,
    ) -> None:
        """Stop indexing a channel and delete everything Kindred stored from it."""
        guild = _guild(interaction)
        if channel.id not in await self.bot.indexed.enabled_ids(guild.id):
            await respond(interaction, f"Kindred is not enabled in {channel.mention}.")
            return
        view = ConfirmView(interaction.user.id, timeout=CONFIRM_SECONDS)
        view.origin = interaction
        self.bot.track(view)
        await respond(
            interaction,
            f"Disable Kindred in {channel.mention} and delete every post it stored from there "
            "(threads included)? This cannot be undone.",
            view=view,
        )
        await view.wait()
        if not view.value:
            return
        removed = await self._purge(guild, channel)
        await edit_original(
            interaction,
            f"Kindred is disabled in {channel.mention}; {removed:,} stored posts were deleted.",
            clear_view=True,
        )

    async def _purge(self, guild: discord.Guild, channel: IndexableChannel) -> int:
        bot = self.bot
        await bot.indexed.forget_channel(guild.id, channel.id)
        return await bot.offload.run(bot.service.disable_channel, guild.id, channel.id)

    @app_commands.command(name="status")
    async def status(self, interaction: discord.Interaction[Any]) -> None:
        """Enabled channels, their post counts and backfill progress."""
        guild = _guild(interaction)
        bot = self.bot
        rows = await bot.offload.run(bot.service.channel_status, guild.id)
        lines: list[str] = []
        for row in (r for r in rows if r.enabled):
            job = bot.backfill.jobs.get(row.channel_id)
            if job is not None:
                progress = job_text(job)
            else:
                found = await bot.offload.run(
                    bot.backfill.checkpoints.for_channel, guild.id, row.channel_id
                )
                progress = checkpoint_text(found, row.channel_id)
            lines.append(f"<#{row.channel_id}> · {row.posts:,} posts\n  {progress}")
        if not lines:
            text = "No channel is enabled yet. Use `/kindred enable` on a channel."
        else:
            text = "\n".join(lines)
        safety = await bot.offload.run(bot.service.safety_desk.config, guild.id)
        if not safety.alerts_configured:
            text += (
                "\n\n⚠️ Crisis alerts go nowhere: no moderator channel is set. Members whose "
                "posts suggest they may be in danger still get resources. Set one with "
                "`/safety setup`."
            )
        title = f"Kindred in {safe_name(guild.name, 200)}"
        await respond(interaction, embed=notice_embed(title, text))

    @app_commands.command(name="audit")
    @app_commands.describe(limit="How many recent actions (at most 50).")
    async def audit(
        self, interaction: discord.Interaction[Any], limit: app_commands.Range[int, 1, 50] = 20
    ) -> None:
        """Moderators' recent actions in Kindred: who, what, which id, when (no content)."""
        guild = _guild(interaction)
        rows = await self.bot.offload.run(self.bot.service.curation.audit_log, guild.id, int(limit))
        lines = [
            f"<t:{epoch_seconds(r.created_at)}:f> · "
            f"{f'<@{r.done_by}>' if r.done_by else 'a deleted member'} · "
            f"{safe_name(r.action, 32)} · `{r.target.replace('`', '')[:128]}`"
            for r in rows
        ]
        text = "\n".join(lines) or "No moderator action has been recorded yet."
        await respond(interaction, embed=notice_embed("Kindred audit", text))

    @app_commands.command(name="introductions")
    @app_commands.describe(
        state="on: members may use /connect and be introduced; off: nobody is",
        channel="Where private introduction threads are opened (default: first usable channel)",
    )
    @app_commands.choices(
        state=[
            app_commands.Choice(name="on", value="on"),
            app_commands.Choice(name="off", value="off"),
        ]
    )
    async def introductions(
        self,
        interaction: discord.Interaction[Any],
        state: app_commands.Choice[str],
        channel: discord.TextChannel | None = None,
    ) -> None:
        """Turn member introductions on or off here (Manage Server)."""
        guild = _guild(interaction)
        require_manage_guild(interaction)
        intros = self.bot.service.introductions
        settings = await self.bot.offload.run(
            lambda: intros.configure(
                guild.id,
                interaction.user.id,
                enabled=state.value == "on",
                thread_channel_id=channel.id if channel else None,
            )
        )
        where = (
            f" Private threads open in <#{settings.thread_channel_id}>."
            if settings.thread_channel_id
            else ""
        )
        state_word = "on" if settings.enabled else "off"
        await respond(interaction, f"Introductions are now **{state_word}**.{where}")


async def setup(bot: KindredBot) -> None:
    await bot.add_cog(AdminCog(bot))
