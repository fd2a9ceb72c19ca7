"""Moderators curate and see: the knowledge base, hiding messages from Kindred, the audit.

Message context menus (Manage Messages): "Add to knowledge base" opens a form pre-filled from the
reply and the question it answers (the message it replies to, or the thread's starter); "Hide
from Kindred" takes a message out of every Kindred result without deleting it on Discord.
`/kb list|show` are for every member (entries from channels they can read); `/kb
edit|retire|suggest|unhide` need Manage Messages; `/kb credit` is the quoted author's own choice
to be named. The author is asked (a direct message with two buttons) only when the moderator
says so, and is never named without saying yes. Every change is audited (`/kindred audit`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.adapters import is_indexable_author, message_id_from, reported_place
from bot.client import KindredBot
from bot.formatting import clamp_embed, edit_response, quote_member_text, respond, truncate
from bot.permissions import can_read, readable_channel_ids
from bot.safety_messages import message_url
from knowledge.curation import CURATED_LABEL, Entry, EntryDraft, EntrySource
from knowledge.errors import KindredError

log = logging.getLogger(__name__)
SUGGEST_SHOWN = 10  # replies /kb suggest lists
SUGGEST_POOL = 50  # fetched before those in channels the moderator cannot read are left out

NEEDS_MANAGE_MESSAGES = "You need the **Manage Messages** permission to do that."
NOT_INDEXED = (
    "Kindred does not index that channel, so an entry from it could not be found. An admin can "
    "enable the channel with `/kindred enable` first."
)
NOT_A_MEMBER = "Only members' messages can be curated or hidden."
CRISIS_SOURCE = (
    "Kindred reads that message as crisis language, so it is never used as an answer. Please "
    "make sure the member is being supported."
)
WITHHELD = {
    "crisis": "Saved, but Kindred reads the entry's words as crisis language, so it is not shown "
    "in results. Please reword it with `/kb edit`.",
    "not_indexed": "Saved, but it could not be indexed yet, so it is not shown in results.",
}
CREDIT_PREFIX = "kindred:kbcredit:"
TITLE_PREFILL = 80
FIELD_LIMIT = 1024
LIST_LIMIT = 25


def is_moderator(interaction: discord.Interaction[Any]) -> bool:
    """Manage Messages (or Manage Server, or Administrator) where the command was used."""
    perms = interaction.permissions
    return bool(perms.manage_messages or perms.manage_guild or perms.administrator)


async def refuse_unless_moderator(interaction: discord.Interaction[Any]) -> bool:
    """True when the asker may moderate; otherwise a polite ephemeral refusal."""
    if is_moderator(interaction):
        return False
    await respond(interaction, NEEDS_MANAGE_MESSAGES)
    return True


def _guild(interaction: discord.Interaction[Any]) -> discord.Guild:
    if interaction.guild is None:
        raise app_commands.NoPrivateMessage()
    return interaction.guild


def parse_entry_id(text: str) -> int | None:
    """The entry id an autocomplete choice carries (or a number typed by hand)."""
    digits = text.strip().removeprefix("kb:")
    return int(digits) if digits.isdigit() else None


def entry_embed(
    entry: Entry, *, moderator: bool = False, conditions: str | None = None
) -> discord.Embed:
    """An entry as members see it; the member's quote and name only with their credit."""
    embed = discord.Embed(
        title=truncate(entry.title, 256),
        description=truncate(entry.answer, 4000),
        colour=discord.Colour.gold(),
    )
    if entry.question:
        embed.add_field(name="Question", value=truncate(entry.question, FIELD_LIMIT), inline=False)
    if entry.conditions:
        names = conditions or ", ".join(entry.conditions)
        embed.add_field(name="Conditions", value=truncate(names, FIELD_LIMIT), inline=False)
    if entry.credited_author_id is not None:
        quote = quote_member_text(entry.quote or "", 900)
        shared = f"<@{entry.credited_author_id}>" + (f":\n> {quote}" if quote else "")
        embed.add_field(name="Shared by", value=truncate(shared, FIELD_LIMIT), inline=False)
    if moderator:
        state = "retired" if entry.retired else "live"
        source = entry.source_external_id or "removed"
        embed.add_field(
            name="For moderators",
            value=f"`kb:{entry.id}` · {state} · source message {source}",
            inline=False,
        )
    embed.set_footer(text=CURATED_LABEL)
    return clamp_embed(embed)


def conditions_from(text: str, bot: KindredBot) -> tuple[str, ...]:
    """Condition ids from comma-separated names or ids (unknown words are left out)."""
    tagger = bot.service.conditions
    found: list[str] = []
    for word in (w.strip() for w in text.split(",")):
        if not word:
            continue
        if word in tagger.ids:
            found.append(word)
            continue
        matches = tagger.search_names(word, 1)
        if matches:
            found.append(matches[0].id)
    return tuple(dict.fromkeys(found))


def condition_names(ids: tuple[str, ...], bot: KindredBot) -> str:
    tagger = bot.service.conditions
    return ", ".join(tagger.name(c) for c in ids)


# -- the form -----------------------------------------------------------------------------------


class EntryModal(discord.ui.Modal, title="Add to knowledge base"):
    """The moderator's entry, pre-filled from the reply and its question."""

    entry_title: discord.ui.TextInput[EntryModal] = discord.ui.TextInput(
        label="Title", max_length=200
    )
    question: discord.ui.TextInput[EntryModal] = discord.ui.TextInput(
        label="Question it answers",
        style=discord.TextStyle.paragraph,
        max_length=4000,
        required=False,
    )
    answer: discord.ui.TextInput[EntryModal] = discord.ui.TextInput(
        label="Answer (your words; peer experience)",
        style=discord.TextStyle.paragraph,
        max_length=4000,
    )
    conditions: discord.ui.TextInput[EntryModal] = discord.ui.TextInput(
        label="Conditions (comma-separated)", max_length=300, required=False
    )
    ask_credit: discord.ui.TextInput[EntryModal] = discord.ui.TextInput(
        label="Ask the author if they want credit? (yes/no)", max_length=3, default="no"
    )

    def __init__(
        self,
        cog: CurationCog,
        source: EntrySource,
        prefill: dict[str, str],
        author: discord.User | discord.Member | None = None,
    ) -> None:
        super().__init__(timeout=15 * 60)
        self.cog = cog
        self.source = source
        self.author = author
        self.entry_title.default = truncate(prefill.get("title", ""), 200)
        self.question.default = truncate(prefill.get("question", ""), 4000)
        self.answer.default = truncate(prefill.get("answer", ""), 4000)
        self.conditions.default = truncate(prefill.get("conditions", ""), 300)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self.cog.create_entry(interaction, self)

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[Any], error: Exception, /
    ) -> None:
        message = error.detail if isinstance(error, KindredError) else None
        if message is None:
            log.error("knowledge-base form failed: %s", type(error).__name__)
        await respond(interaction, message or "Something went wrong; the entry was not saved.")


# -- the author's credit ------------------------------------------------------------------------


def credit_view(guild_id: int, entry_id: int) -> discord.ui.View:
    """Plain buttons carrying the dynamic custom ids (see bot/helped.py for why plain)."""
    view = discord.ui.View(timeout=None)
    for yes, label, style in (
        (1, "Yes, credit me", discord.ButtonStyle.success),
        (0, "No, keep me anonymous", discord.ButtonStyle.secondary),
    ):
        custom_id = f"{CREDIT_PREFIX}{guild_id}:{entry_id}:{yes}"
        view.add_item(discord.ui.Button(label=label, style=style, custom_id=custom_id))
    return view


class CreditButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"kindred:kbcredit:(?P<guild>[0-9]+):(?P<entry>[0-9]+):(?P<yes>[01])",
):
    """The quoted author's answer; works after a restart (registered by the cog)."""

    def __init__(self, guild_id: int, entry_id: int, yes: bool) -> None:
        super().__init__(
            discord.ui.Button(
                label="Yes" if yes else "No",
                custom_id=f"{CREDIT_PREFIX}{guild_id}:{entry_id}:{int(yes)}",
            )
        )
        self.guild_id, self.entry_id, self.yes = guild_id, entry_id, yes

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> CreditButton:
        return cls(int(match["guild"]), int(match["entry"]), match["yes"] == "1")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot: KindredBot = interaction.client  # type: ignore[assignment]
        entries = bot.service.curation.entries
        try:
            await bot.offload.run(
                entries.set_credit, self.guild_id, self.entry_id, interaction.user.id, self.yes
            )
        except KindredError as exc:
            await respond(interaction, exc.detail)
            return
        await bot.offload.run(
            bot.service.curation.record_action,
            self.guild_id,
            interaction.user.id,
            "kb.credit" if self.yes else "kb.uncredit",
            f"kb:{self.entry_id}",
        )
        text = (
            "Thank you: the entry now credits you by name."
            if self.yes
            else "Understood: the entry does not name you."
        )
        await edit_response(interaction, f"{text} You can change this with `/kb credit`.")


# -- the cog ------------------------------------------------------------------------------------


@app_commands.guild_only()
class CurationCog(commands.GroupCog, group_name="kb", group_description="Knowledge base"):
    """Context menus for moderators and the `/kb` commands."""

    def __init__(self, bot: KindredBot) -> None:
        self.bot = bot
        super().__init__()
        self.add_menu = app_commands.ContextMenu(
            name="Add to knowledge base", callback=self.add_to_kb
        )
        self.hide_menu = app_commands.ContextMenu(
            name="Hide from Kindred", callback=self.hide_from_kindred
        )
        for menu in (self.add_menu, self.hide_menu):
            menu.guild_only = True
            menu.default_permissions = discord.Permissions(manage_messages=True)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.add_menu)
        self.bot.tree.add_command(self.hide_menu)
        self.bot.add_dynamic_items(CreditButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(CreditButton)
        for menu in (self.add_menu, self.hide_menu):
            self.bot.tree.remove_command(menu.name, type=menu.type)

    # -- context menus ---------------------------------------------------------------------------

    async def add_to_kb(
        self, interaction: discord.Interaction[Any], message: discord.Message
    ) -> None:
        """Add to knowledge base: a form pre-filled from the reply and its question."""
        guild = _guild(interaction)
        if await refuse_unless_moderator(interaction):
            return
        if not is_indexable_author(message):
            await respond(interaction, NOT_A_MEMBER)
            return
        place = reported_place(message.channel, guild.id)
        if not await self.bot.offload.run(self.bot.service.is_enabled, guild.id, place.channel_id):
            await respond(interaction, NOT_INDEXED)
            return
        entries = self.bot.service.curation.entries
        if await self.bot.offload.run(entries.source_is_crisis, guild.id, str(message.id)):
            await respond(interaction, CRISIS_SOURCE)
            return
        asked = await question_for(message)
        question = (asked.content if asked is not None else "") or ""
        tagger = self.bot.service.conditions
        tags = await self.bot.offload.run(tagger.tag, f"{question}\n{message.content}")
        prefill = {
            "title": first_line(question or message.content, TITLE_PREFILL),
            "question": question,
            "answer": message.content or "",
            "conditions": condition_names(tuple(tags), self.bot),
        }
        source = EntrySource(
            channel_id=place.channel_id,
            external_id=str(message.id),
            author_id=message.author.id,
            quote=message.content or None,
        )
        await interaction.response.send_modal(EntryModal(self, source, prefill, message.author))

    async def create_entry(self, interaction: discord.Interaction[Any], form: EntryModal) -> None:
        guild = _guild(interaction)
        draft = EntryDraft(
            title=form.entry_title.value,
            question=form.question.value,
            answer=form.answer.value,
            conditions=conditions_from(form.conditions.value, self.bot),
        )
        curation = self.bot.service.curation
        entry = await self.bot.offload.run(
            curation.add_entry, guild.id, draft, form.source, interaction.user.id
        )
        note = "Added to the knowledge base. It now comes first in search when it matches."
        why = await self.bot.offload.run(curation.entries.withheld, entry)
        if why is not None:
            note = WITHHELD.get(why, WITHHELD["not_indexed"])
        if form.ask_credit.value.strip().lower().startswith("y"):
            note += " " + await self.ask_for_credit(guild, entry, form.author)
        await respond(
            interaction,
            note,
            embed=entry_embed(
                entry, moderator=True, conditions=condition_names(entry.conditions, self.bot)
            ),
        )

    async def ask_for_credit(
        self, guild: discord.Guild, entry: Entry, author: discord.User | discord.Member | None
    ) -> str:
        """Ask the quoted author (a direct message) whether they want to be named."""
        if entry.source_author_id is None or author is None:
            return ""
        text = (
            f"A moderator of **{quote_member_text(guild.name, 100)}** added a reply of yours to "
            f"Kindred's knowledge base as “{quote_member_text(entry.title, 200)}”. Would you "
            "like to be credited by name? Nothing names you unless you say yes."
        )
        try:
            await author.send(text, view=credit_view(guild.id, entry.id))
        except discord.HTTPException:
            return "The author could not be asked about credit (their direct messages are closed)."
        return "The author was asked whether they want credit."

    async def hide_from_kindred(
        self, interaction: discord.Interaction[Any], message: discord.Message
    ) -> None:
        """Hide from Kindred: out of every Kindred result at once; stays on Discord."""
        guild = _guild(interaction)
        if await refuse_unless_moderator(interaction):
            return
        changed = await self.bot.offload.run(
            self.bot.service.curation.hide_message, guild.id, str(message.id), interaction.user.id
        )
        await respond(
            interaction,
            "Hidden from Kindred: it no longer appears in search, suggestions or similar posts. "
            "It stays on Discord. Undo with `/kb unhide`."
            if changed
            else "That message was already hidden from Kindred.",
        )

    # -- /kb ---------------------------------------------------------------------------------------

    async def entry_titles(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild is None:
            return []
        found = await self.bot.offload.run(
            self.bot.service.curation.entries.titles, interaction.guild.id, current, LIST_LIMIT
        )
        return [app_commands.Choice(name=truncate(t, 100), value=str(i)) for i, t in found]

    async def condition_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        done, _, typing = current.rpartition(",")
        tagger = self.bot.service.conditions
        head = f"{done}, " if done else ""
        return [
            app_commands.Choice(name=truncate(head + c.name, 100), value=truncate(head + c.id, 100))
            for c in tagger.search_names(typing.strip(), LIST_LIMIT)
        ]

    async def _entry(self, interaction: discord.Interaction[Any], entry: str) -> Entry | None:
        guild = _guild(interaction)
        entry_id = parse_entry_id(entry)
        if entry_id is None:
            await respond(interaction, "Pick an entry from the list.")
            return None
        found: Entry = await self.bot.offload.run(
            self.bot.service.curation.entries.get, guild.id, entry_id
        )
        return found

    def _readable(self, interaction: discord.Interaction[Any], entry: Entry) -> bool:
        if is_moderator(interaction):
            return True
        guild, member = interaction.guild, interaction.user
        channel = guild.get_channel(entry.source_channel_id) if guild else None
        return (
            isinstance(member, discord.Member)
            and channel is not None
            and not entry.retired
            and can_read(channel, member)
        )

    @app_commands.command(name="list")
    async def list_entries(self, interaction: discord.Interaction[Any]) -> None:
        """The knowledge base's entries (from channels you can read)."""
        guild = _guild(interaction)
        entries = await self.bot.offload.run(
            self.bot.service.curation.entries.list_entries, guild.id
        )
        shown = [e for e in entries if self._readable(interaction, e)]
        if not shown:
            await respond(interaction, "The knowledge base has no entries yet.")
            return
        lines = [f"`kb:{e.id}` {quote_member_text(e.title, 150)}" for e in shown[:LIST_LIMIT]]
        more = len(shown) - LIST_LIMIT
        if more > 0:
            lines.append(f"…and {more} more (use `/kb show` to find one by title).")
        embed = discord.Embed(
            title="Knowledge base", description="\n".join(lines), colour=discord.Colour.gold()
        )
        embed.set_footer(text=CURATED_LABEL)
        await respond(interaction, embed=clamp_embed(embed))

    @app_commands.command(name="show")
    @app_commands.describe(entry="Start typing a title.")
    @app_commands.autocomplete(entry=entry_titles)
    async def show(self, interaction: discord.Interaction[Any], entry: str) -> None:
        """Read one knowledge-base entry."""
        found = await self._entry(interaction, entry)
        if found is None:
            return
        if not self._readable(interaction, found):
            await respond(interaction, "That entry is not available to you.")
            return
        await respond(
            interaction,
            embed=entry_embed(
                found,
                moderator=is_moderator(interaction),
                conditions=condition_names(found.conditions, self.bot),
            ),
        )

    @app_commands.command(name="edit")
    @app_commands.describe(
        entry="Start typing a title.",
        title="A new title.",
        question="A new question.",
        answer="A new answer (your words).",
        conditions="Conditions, comma-separated (replaces the list).",
    )
    @app_commands.autocomplete(entry=entry_titles, conditions=condition_choices)
    async def edit(
        self,
        interaction: discord.Interaction[Any],
        entry: str,
        title: str | None = None,
        question: str | None = None,
        answer: str | None = None,
        conditions: str | None = None,
    ) -> None:
        """Change an entry (Manage Messages)."""
        if await refuse_unless_moderator(interaction):
            return
        found = await self._entry(interaction, entry)
        if found is None:
            return
        wanted = None if conditions is None else conditions_from(conditions, self.bot)
        curation = self.bot.service.curation
        edited = await self.bot.offload.run(
            lambda: curation.edit_entry(
                found.guild_id,
                found.id,
                interaction.user.id,
                title=title,
                question=question,
                answer=answer,
                conditions=wanted,
            )
        )
        why = await self.bot.offload.run(curation.entries.withheld, edited)
        await respond(
            interaction,
            "Entry updated." if why is None else WITHHELD.get(why, "Entry updated."),
            embed=entry_embed(
                edited, moderator=True, conditions=condition_names(edited.conditions, self.bot)
            ),
        )

    @app_commands.command(name="retire")
    @app_commands.describe(entry="Start typing a title.")
    @app_commands.autocomplete(entry=entry_titles)
    async def retire(self, interaction: discord.Interaction[Any], entry: str) -> None:
        """Take an entry out of every result (Manage Messages)."""
        if await refuse_unless_moderator(interaction):
            return
        found = await self._entry(interaction, entry)
        if found is None:
            return
        retired = await self.bot.offload.run(
            self.bot.service.curation.retire_entry, found.guild_id, found.id, interaction.user.id
        )
        await respond(
            interaction,
            f"Retired `kb:{found.id}`: it no longer appears anywhere."
            if retired
            else "That entry was already retired.",
        )

    @app_commands.command(name="unhide")
    @app_commands.describe(message="A message link or id.")
    async def unhide(self, interaction: discord.Interaction[Any], message: str) -> None:
        """Show a message hidden from Kindred again (Manage Messages)."""
        guild = _guild(interaction)
        if await refuse_unless_moderator(interaction):
            return
        external_id = message_id_from(message)
        if external_id is None:
            await respond(interaction, "Paste a message link or a message id.")
            return
        changed = await self.bot.offload.run(
            self.bot.service.curation.unhide_message, guild.id, external_id, interaction.user.id
        )
        await respond(
            interaction,
            "Kindred shows that message again." if changed else "That message was not hidden.",
        )

    @app_commands.command(name="suggest")
    async def suggest(self, interaction: discord.Interaction[Any]) -> None:
        """Replies members found most helpful that no entry holds yet (Manage Messages)."""
        guild = _guild(interaction)
        if await refuse_unless_moderator(interaction):
            return
        replies = await self.bot.offload.run(
            self.bot.service.signals.most_helpful_uncurated, guild.id, SUGGEST_POOL
        )
        member = interaction.user
        if isinstance(member, discord.Member):  # only replies in channels this moderator reads
            readable = readable_channel_ids(guild, member, {r.channel_id for r in replies})
            replies = [r for r in replies if r.channel_id in readable]
        replies = replies[:SUGGEST_SHOWN]
        if not replies:
            await respond(interaction, "No reply marked helpful is waiting to be curated.")
            return
        lines = [
            f"{r.helped} × helped · "
            f"[message]({message_url(guild.id, r.thread_id or r.channel_id, r.external_id)})"
            for r in replies
        ]
        embed = discord.Embed(
            title="Most helpful replies not yet curated",
            description="\n".join(lines) + "\n\nOpen one and use **Add to knowledge base** on it.",
            colour=discord.Colour.gold(),
        )
        await respond(interaction, embed=clamp_embed(embed))

    @app_commands.command(name="credit")
    @app_commands.describe(entry="Start typing a title.", credit="Be named on the entry?")
    @app_commands.autocomplete(entry=entry_titles)
    async def credit(self, interaction: discord.Interaction[Any], entry: str, credit: bool) -> None:
        """Choose whether an entry built from your reply names you."""
        found = await self._entry(interaction, entry)
        if found is None:
            return
        await self.bot.offload.run(
            self.bot.service.curation.entries.set_credit,
            found.guild_id,
            found.id,
            interaction.user.id,
            credit,
        )
        await self.bot.offload.run(
            self.bot.service.curation.record_action,
            found.guild_id,
            interaction.user.id,
            "kb.credit" if credit else "kb.uncredit",
            f"kb:{found.id}",
        )
        await respond(
            interaction, "The entry names you now." if credit else "The entry does not name you."
        )


async def question_for(message: discord.Message) -> discord.Message | None:
    """The question a reply answers: the message it replies to, else its thread's starter."""
    ref = message.reference
    channel = message.channel
    wanted: int | None = None
    if ref is not None and ref.message_id is not None:
        if isinstance(ref.resolved, discord.Message):
            return ref.resolved
        wanted = ref.message_id
    elif isinstance(channel, discord.Thread) and message.id != channel.id:
        wanted = channel.id  # a thread's starter message has the thread's id
    if wanted is None or not hasattr(channel, "fetch_message"):
        return None
    try:
        found: discord.Message = await channel.fetch_message(wanted)
    except discord.HTTPException:
        return None
    return found


def first_line(text: str, limit: int) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return truncate(line, limit)


async def setup(bot: KindredBot) -> None:
    await bot.add_cog(CurationCog(bot))
