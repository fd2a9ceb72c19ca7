"""What moderators curate and see: knowledge-base entries, hidden messages and the audit.

`Curation` is what `KnowledgeService.curation` returns: `hide_message`, `unhide_message` and
`record_action` (the agreed interface), `entries` (the knowledge base) and `audit`.
"""

from __future__ import annotations

from collections.abc import Sequence

from knowledge.curation.audit import AuditEntry, AuditLog
from knowledge.curation.entries import (
    CURATED_LABEL,
    Entry,
    EntryDraft,
    EntrySource,
    KnowledgeBase,
)
from knowledge.curation.hiding import Hiding

__all__ = [
    "CURATED_LABEL",
    "AuditEntry",
    "AuditLog",
    "Curation",
    "Entry",
    "EntryDraft",
    "EntrySource",
    "Hiding",
    "KnowledgeBase",
]


class Curation:
    """Moderators' tools over one store; every change they make is audited here."""

    def __init__(self, entries: KnowledgeBase, hiding: Hiding, audit: AuditLog) -> None:
        self.entries = entries
        self.hiding = hiding
        self.audit = audit

    # -- the interface other parts call ---------------------------------------------------------

    def hide_message(self, guild_id: int, external_id: str, by: int) -> bool:
        """Remove a message from every Kindred result at once (not from Discord); audited."""
        changed = self.hiding.hide(guild_id, external_id, by)
        if changed:
            self.record_action(guild_id, by, "hide", external_id)
        return changed

    def unhide_message(self, guild_id: int, external_id: str, by: int) -> bool:
        """Show a hidden message in results again; audited."""
        changed = self.hiding.unhide(guild_id, external_id)
        if changed:
            self.record_action(guild_id, by, "unhide", external_id)
        return changed

    def record_action(self, guild_id: int, actor_id: int | None, action: str, target: str) -> None:
        """One audit row: who, which action, on which id, when; never content."""
        self.audit.record(guild_id, actor_id, action, target)

    # -- the knowledge base, audited --------------------------------------------------------------

    def add_entry(
        self, guild_id: int, draft: EntryDraft, source: EntrySource, by: int | None
    ) -> Entry:
        entry = self.entries.create(guild_id, draft, source, by)
        self.record_action(guild_id, by, "kb.create", entry.external_id)
        return entry

    def edit_entry(
        self,
        guild_id: int,
        entry_id: int,
        by: int | None,
        *,
        title: str | None = None,
        question: str | None = None,
        answer: str | None = None,
        conditions: Sequence[str] | None = None,
    ) -> Entry:
        entry = self.entries.edit(
            guild_id,
            entry_id,
            by,
            title=title,
            question=question,
            answer=answer,
            conditions=conditions,
        )
        self.record_action(guild_id, by, "kb.edit", entry.external_id)
        return entry

    def retire_entry(self, guild_id: int, entry_id: int, by: int | None) -> bool:
        retired = self.entries.retire(guild_id, entry_id, by)
        if retired:
            self.record_action(guild_id, by, "kb.retire", f"kb:{entry_id}")
        return retired

    def import_entries(
        self, guild_id: int, drafts: Sequence[EntryDraft], channel_id: int, by: int | None
    ) -> tuple[list[Entry], list[str]]:
        """Add shared or backed-up entries to one channel; a title already live is skipped.
        Returns the entries added and the titles skipped."""
        live = {e.title.strip().lower() for e in self.entries.list_entries(guild_id)}
        added: list[Entry] = []
        skipped: list[str] = []
        for draft in drafts:
            key = draft.title.strip().lower()
            if key in live:
                skipped.append(draft.title)
                continue
            added.append(self.add_entry(guild_id, draft, EntrySource(channel_id), by))
            live.add(key)
        return added, skipped

    def audit_log(self, guild_id: int, limit: int = 25) -> list[AuditEntry]:
        return self.audit.recent(guild_id, limit)
