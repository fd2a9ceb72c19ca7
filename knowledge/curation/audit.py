"""The moderators' audit: one row per action (who, what, which id, when), never any content."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from knowledge.errors import InvalidInput
from knowledge.store.models import EXTERNAL_ID_CHARS, ModAction, utcnow
from knowledge.store.store import Store

log = logging.getLogger(__name__)

ACTION_CHARS = 32


@dataclass(frozen=True)
class AuditEntry:
    """One recorded action as callers see it (ids only)."""

    action: str
    target: str
    done_by: int | None
    created_at: datetime


class AuditLog:
    """Writes and reads `ModAction` rows of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, guild_id: int, actor_id: int | None, action: str, target: str) -> None:
        """Add a row: `action` a short verb ("hide", "kb.create"), `target` an id, never text."""
        if not action or len(action) > ACTION_CHARS or len(target) > EXTERNAL_ID_CHARS:
            raise InvalidInput("bad_audit", "an audit action or target is too long")
        with self.store.write() as session:
            session.add(
                ModAction(
                    guild_id=guild_id,
                    action=action,
                    target=target,
                    done_by=actor_id,
                    created_at=utcnow(),
                )
            )
        log.info("guild %s: moderator action %s recorded", guild_id, action)

    def recent(self, guild_id: int, limit: int = 25, action: str | None = None) -> list[AuditEntry]:
        """The newest actions of a guild, newest first."""
        query = select(ModAction).where(ModAction.guild_id == guild_id)
        if action is not None:
            query = query.where(ModAction.action == action)
        query = query.order_by(col(ModAction.created_at).desc(), col(ModAction.id).desc())
        with self.store.session() as session:
            rows = session.exec(query.limit(max(1, limit))).all()
        return [AuditEntry(r.action, r.target, r.done_by, r.created_at) for r in rows]
