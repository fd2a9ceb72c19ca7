"""Crisis language gets a human: resources for the member, an alert for moderators, reports.

The live-index cog hands each new message's flags (from its ingest report) to `handle_flags`,
which this cog registers with the bot, in the same event handling; the knowledge layer's safety
desk decides who hears about it. "I'm on it" is a dynamic item, so alert buttons keep working
after a restart. A loop asks the desk every minute which alerts nobody claimed in time (raised
again once, to the escalation channel or role) and which guilds are due their daily digest; the
state is in SQL, so a restart loses neither. `/safety setup` chooses the moderator channel and
role and the escalation target; `/safety show` lists open alerts. Members' reports go through
the reports queue (`service.reports`: one item per message, a daily limit per member); `/safety
queue` lists open items with Resolve and Hide buttons (`bot/report_queue.py`).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.adapters import reported_place
from bot.client import KindredBot
from bot.formatting import edit_response, respond, send, truncate
from bot.permissions import require_manage_guild
from bot.report_queue import (
    LIMITED,
    MERGED,
    REPEAT,
    THANKS,
    ReportActionButton,
    queue_embed,
    queue_view,
)
from bot.safety_messages import (
    alert_embed,
    alert_mentions,
    digest_embed,
    escalation_embed,
    message_url,
    open_alert_lines,
    resources_message,
)
from knowledge.records import Flag
from knowledge.safety.desk import DIGEST_MAX, AlertDecision, Digest, GuildSafetyConfig
from knowledge.safety.reports import flag_for_report
from knowledge.store.models import SafetyAlert

log = logging.getLogger(__name__)
REPORTERS_FIELD = "Reported by"
REPLY_CHOICES = [
    app_commands.Choice(name="reply in the channel", value="channel"),
    app_commands.Choice(name="direct message", value="dm"),
]


class ClaimButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"kindred:alert:(?P<id>[0-9]+)"
):
    """ "I'm on it": records which moderator took an alert (works across restarts)."""

    def __init__(self, alert_id: int, claimed: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label="Taken" if claimed else "I'm on it",
                style=discord.ButtonStyle.secondary if claimed else discord.ButtonStyle.primary,
                custom_id=f"kindred:alert:{alert_id}",
                disabled=claimed,
            )
        )
        self.alert_id = alert_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ClaimButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot: KindredBot = interaction.client  # type: ignore[assignment]
        desk = bot.service.safety_desk
        alert, first = await bot.offload.run(desk.claim, self.alert_id, interaction.user.id)
        if not first:
            await respond(interaction, f"<@{alert.claimed_by}> already has this one.")
            return
        view = discord.ui.View(timeout=None)
        view.add_item(ClaimButton(self.alert_id, claimed=True))
        message = interaction.message
        embed = message.embeds[0] if message is not None and message.embeds else None
        if embed is not None:
            embed.add_field(name="Taken by", value=f"<@{interaction.user.id}>", inline=False)
        await edit_response(interaction, embed=embed, view=view)


def describe_config(config: GuildSafetyConfig) -> str:
    """The guild's crisis settings in words (with a warning when alerts go nowhere)."""
    if config.moderator_channel_id is None:
        where = "⚠️ No moderator channel is set: crisis alerts go nowhere (members still get "
        where += "resources). Set one with `/safety setup`."
    else:
        role = f"<@&{config.moderator_role_id}>" if config.moderator_role_id else "no role"
        where = f"Alerts go to <#{config.moderator_channel_id}>, pinging {role}."
    reply = "a direct message" if config.reply_mode == "dm" else "a reply in the channel"
    concern = "on (quiet, no ping)" if config.concern_alerts else "off"
    return "\n".join(
        [
            where,
            describe_escalation(config),
            f"Members get crisis resources by {reply}. Concern alerts: {concern}.",
            "Resources sent:",
            truncate(config.resources, 1200),
        ]
    )


def describe_escalation(config: GuildSafetyConfig) -> str:
    channel_id, role_id = config.escalation_target
    if channel_id is None:
        return "Unclaimed alerts cannot be raised again until a moderator channel is set."
    role = f"<@&{role_id}>" if role_id else "no role"
    return f"Unclaimed alerts are raised again once in <#{channel_id}>, pinging {role}."


class SafetyCog(commands.Cog):
    """Answers flagged posts, alerts moderators, and takes members' reports."""

    def __init__(self, bot: KindredBot) -> None:
        self.bot = bot
        super().__init__()
        self.report_menu = app_commands.ContextMenu(
            name="Report to moderators", callback=self.report
        )

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.report_menu)
        self.bot.add_dynamic_items(ClaimButton, ReportActionButton)
        self.bot.add_flag_handler(self.handle_flags)
        self.watch.start()

    async def cog_unload(self) -> None:
        self.watch.cancel()
        self.bot.remove_flag_handler(self.handle_flags)
        self.bot.remove_dynamic_items(ClaimButton, ReportActionButton)
        self.bot.tree.remove_command(self.report_menu.name, type=self.report_menu.type)

    # -- detected crisis language ------------------------------------------------------------------

    async def handle_flags(self, message: discord.Message, flags: list[Flag]) -> None:
        """Answer the member and alert moderators as the safety desk decides."""
        for flag in flags:
            decision = await self.bot.offload.run(
                lambda f=flag: self.bot.service.safety_desk.open_alert(
                    f, posted_at=message.created_at
                )
            )
            config = await self.bot.offload.run(self.bot.service.safety_desk.config, flag.guild_id)
            if decision.reply_to_member:
                await self._answer_member(message, config)
            if decision.notify_moderators:
                await self._alert(flag, decision, config, reported=False)

    async def _answer_member(self, message: discord.Message, config: GuildSafetyConfig) -> None:
        text = resources_message(config)
        if config.reply_mode == "dm":
            try:
                await send(message.author, text)
                return
            except discord.HTTPException:
                log.info("DM to member %s refused; answering in the channel", message.author.id)
        await send(message.channel, text, reply_to=message)

    async def _alert(
        self, flag: Flag, decision: AlertDecision, config: GuildSafetyConfig, *, reported: bool
    ) -> bool:
        channel = self.bot.get_channel(config.moderator_channel_id or 0)
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            log.warning("guild %s: moderator channel is unavailable", flag.guild_id)
            return False
        desk = self.bot.service.safety_desk
        alert = await self.bot.offload.run(desk.alert, decision.alert_id)
        embed = alert_embed(
            level=flag.level,
            reasons=desk.reasons(alert),
            jump_url=message_url(
                flag.guild_id, flag.thread_id or flag.channel_id, flag.external_id
            ),
            author_id=flag.author_id,
            channel_id=flag.thread_id or flag.channel_id,
            reported=reported,
        )
        view = discord.ui.View(timeout=None)
        view.add_item(ClaimButton(decision.alert_id))
        ping = f"<@&{decision.ping_role_id}>" if decision.ping_role_id else None
        mentions = alert_mentions(decision.ping_role_id)
        sent = await send(channel, ping, embed=embed, view=view, allowed_mentions=mentions)
        await self.bot.offload.run(desk.set_alert_message, decision.alert_id, sent.id)
        return True

    # -- alerts nobody answered -------------------------------------------------------------------

    @tasks.loop(minutes=1.0)
    async def watch(self) -> None:
        """Every minute: unclaimed alerts raised again, daily digests sent (state in SQL)."""
        try:
            await self.check_alerts(datetime.now(UTC))
        except Exception:  # one failure must not stop the loop for good
            log.exception("checking unclaimed crisis alerts failed")

    @watch.before_loop
    async def _before_watch(self) -> None:
        await self.bot.wait_until_ready()

    async def check_alerts(self, now: datetime) -> tuple[int, int]:
        """Raise again, once, each alert nobody claimed in time; send the digests that are due.
        Returns how many alerts were raised again and how many digests went out."""
        desk = self.bot.service.safety_desk
        raised = sent = 0
        for alert in await self.bot.offload.run(desk.due_for_escalation, now):
            assert alert.id is not None
            if await self.bot.offload.run(desk.mark_escalated, alert.id, now):
                raised += await self._escalate(alert)
        for digest in await self.bot.offload.run(desk.digests_due, now):
            if await self.bot.offload.run(desk.mark_digest_sent, digest.guild_id, now):
                sent += await self._send_digest(digest, now)
        return raised, sent

    async def _escalate(self, alert: SafetyAlert) -> int:
        assert alert.id is not None
        config = await self.bot.offload.run(self.bot.service.safety_desk.config, alert.guild_id)
        channel_id, role_id = config.escalation_target
        channel = self.bot.get_channel(channel_id or 0)
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            log.warning("guild %s: escalation channel is unavailable", alert.guild_id)
            return 0
        place = alert.thread_id or alert.channel_id
        first = (
            message_url(alert.guild_id, config.moderator_channel_id, alert.alert_message_id)
            if alert.alert_message_id and config.moderator_channel_id
            else None
        )
        embed = escalation_embed(
            level="report" if alert.source == "report" else alert.level,
            jump_url=message_url(alert.guild_id, place, alert.external_id),
            alert_url=first,
            channel_id=place,
            author_id=alert.author_id,
            minutes=self.bot.service.safety_desk.settings.escalate_after_minutes,
        )
        view = discord.ui.View(timeout=None)
        view.add_item(ClaimButton(alert.id))
        ping = f"<@&{role_id}>" if role_id else None
        await send(channel, ping, embed=embed, view=view, allowed_mentions=alert_mentions(role_id))
        return 1

    async def _send_digest(self, digest: Digest, now: datetime) -> int:
        channel = self.bot.get_channel(digest.channel_id)
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            log.warning("guild %s: moderator channel is unavailable", digest.guild_id)
            return 0
        await send(channel, embed=digest_embed(digest.alerts, digest.total, now))
        return 1

    # -- reports by members ------------------------------------------------------------------------

    async def report(self, interaction: discord.Interaction[Any], message: discord.Message) -> None:
        """Report to moderators: the alert names the message, never the reporter, to others."""
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage()
        await interaction.response.defer(ephemeral=True, thinking=True)
        desk = self.bot.service.safety_desk
        config = await self.bot.offload.run(desk.config, interaction.guild.id)
        if not config.alerts_configured:
            await respond(
                interaction,
                "This server has not set up a moderator channel for Kindred yet, so the report "
                "can't be delivered. Please contact a moderator directly.",
            )
            return
        assessment = await self.bot.offload.run(self.bot.service.assess, message.content or "")
        place = reported_place(message.channel, interaction.guild.id)
        flag = flag_for_report(
            assessment,
            guild_id=place.guild_id,
            external_id=str(message.id),
            channel_id=place.channel_id,
            thread_id=place.thread_id,
            author_id=message.author.id,
        )
        # one queue item per message; reports are rate-limited per member (knowledge.safety.queue)
        filed = await self.bot.offload.run(self.bot.service.reports.file, flag, interaction.user.id)
        if filed.decision is None:
            answer = {"merged": MERGED, "repeat": REPEAT}.get(filed.outcome, LIMITED)
            await respond(interaction, answer)
            if filed.outcome == "merged" and filed.alert_id is not None:
                await self._note_reporters(filed.alert_id, filed.reporters, config)
            return
        delivered = await self._alert(flag, filed.decision, config, reported=True)
        await respond(
            interaction,
            THANKS
            if delivered
            else "The moderator channel could not be reached. Please contact a moderator directly.",
        )

    async def _note_reporters(self, alert_id: int, count: int, config: GuildSafetyConfig) -> None:
        """Show on the one alert how many members reported its message (no new ping)."""
        alert = await self.bot.offload.run(self.bot.service.safety_desk.alert, alert_id)
        channel = self.bot.get_channel(config.moderator_channel_id or 0)
        if alert.alert_message_id is None or not isinstance(
            channel, discord.TextChannel | discord.Thread
        ):
            return
        try:
            sent = await channel.fetch_message(alert.alert_message_id)
            if not sent.embeds:
                return
            embed = sent.embeds[0]
            for index, field in enumerate(embed.fields):
                if field.name == REPORTERS_FIELD:
                    embed.remove_field(index)
                    break
            embed.add_field(name=REPORTERS_FIELD, value=f"{count} members", inline=False)
            await sent.edit(embed=embed, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as exc:
            log.info("could not update alert %s: HTTP %s", alert_id, exc.status)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class SafetyAdminCog(commands.GroupCog, group_name="safety", group_description="Crisis alerts"):
    """`/safety setup` and `/safety show` (Manage Server only)."""

    def __init__(self, bot: KindredBot) -> None:
        self.bot = bot
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """The runtime check behind default_permissions (which server admins can override)."""
        return require_manage_guild(interaction)

    @app_commands.command(name="setup")
    @app_commands.describe(
        moderator_channel="Where crisis alerts are posted.",
        moderator_role="The only role an alert may ping.",
        escalation_channel="Where an alert nobody claimed in time is raised again (default: "
        "the moderator channel).",
        escalation_role="The role pinged when an alert is raised again (default: the moderator "
        "role).",
        reply="Answer members in the channel or by direct message.",
        concern_alerts="Also alert quietly (no ping) for posts of concern.",
        resources="Your server's own crisis resources (default: an international list).",
    )
    @app_commands.choices(reply=REPLY_CHOICES)
    async def setup(
        self,
        interaction: discord.Interaction[Any],
        moderator_channel: discord.TextChannel | None = None,
        moderator_role: discord.Role | None = None,
        reply: app_commands.Choice[str] | None = None,
        concern_alerts: bool | None = None,
        resources: str | None = None,
        escalation_channel: discord.TextChannel | None = None,
        escalation_role: discord.Role | None = None,
    ) -> None:
        """Choose where crisis alerts go and how members are answered."""
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage()
        guild_id, admin = interaction.guild.id, interaction.user.id
        config = await self.bot.offload.run(
            lambda: self.bot.service.safety_desk.configure(
                guild_id,
                admin,
                moderator_channel_id=moderator_channel.id if moderator_channel else None,
                moderator_role_id=moderator_role.id if moderator_role else None,
                reply_mode=reply.value if reply else None,
                concern_alerts=concern_alerts,
                resources=resources,
                escalation_channel_id=escalation_channel.id if escalation_channel else None,
                escalation_role_id=escalation_role.id if escalation_role else None,
            )
        )
        await respond(interaction, describe_config(config))

    @app_commands.command(name="show")
    async def show(self, interaction: discord.Interaction[Any]) -> None:
        """Show this server's crisis alert settings and its open (unclaimed) alerts."""
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage()
        desk = self.bot.service.safety_desk
        config = await self.bot.offload.run(desk.config, interaction.guild.id)
        alerts = await self.bot.offload.run(desk.open_alerts, interaction.guild.id)
        listed = open_alert_lines(alerts[:DIGEST_MAX], len(alerts), datetime.now(UTC))
        embed = discord.Embed(
            title=f"Open alerts: {len(alerts)}", description=listed or "None: every alert is taken."
        )
        await respond(interaction, describe_config(config), embed=embed)

    @app_commands.command(name="queue")
    async def queue(self, interaction: discord.Interaction[Any]) -> None:
        """Members' reports waiting for a moderator: one item per message, Resolve or Hide."""
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage()
        items = await self.bot.offload.run(
            self.bot.service.reports.open_items, interaction.guild.id
        )
        embed = queue_embed(items, datetime.now(UTC))
        await respond(interaction, embed=embed, view=queue_view(items))


async def setup(bot: KindredBot) -> None:
    await bot.add_cog(SafetyCog(bot))
    await bot.add_cog(SafetyAdminCog(bot))
