"""Hide a message from every Kindred result without touching it on Discord, and unhide it.

The `HiddenMessage` row is the truth: the stored post's `hidden` flag (read by the SQL and faiss
scopes) follows it at once, and the ingest path marks a post hidden when it is stored again (a
backfill after a channel was re-enabled), so hiding outlives re-ingest.
"""

from __future__ import annotations

import logging

from sqlmodel import Session, col, select

from knowledge.store.models import HiddenMessage, Post, utcnow
from knowledge.store.store import Store

log = logging.getLogger(__name__)


class Hiding:
    """Moderators' hide and unhide of messages in one guild (one writer unit each)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def hide(self, guild_id: int, external_id: str, by: int | None) -> bool:
        """Hide a message (stored or not yet); False if it was hidden already."""
        return self._set(guild_id, external_id, by, hidden=True)

    def unhide(self, guild_id: int, external_id: str) -> bool:
        """Show a hidden message again; False if it was not hidden."""
        return self._set(guild_id, external_id, None, hidden=False)

    def is_hidden(self, guild_id: int, external_id: str) -> bool:
        with self.store.session() as session:
            return session.get(HiddenMessage, (guild_id, external_id)) is not None

    def hidden_ids(self, guild_id: int) -> list[str]:
        query = (
            select(HiddenMessage.external_id)
            .where(HiddenMessage.guild_id == guild_id)
            .order_by(col(HiddenMessage.hidden_at))
        )
        with self.store.session() as session:
            return [str(e) for e in session.exec(query).all()]

    def _set(self, guild_id: int, external_id: str, by: int | None, *, hidden: bool) -> bool:
        with self.store.lock:
            with self.store.write() as session:
                row = session.get(HiddenMessage, (guild_id, external_id))
                if (row is not None) == hidden:
                    return False
                if hidden:
                    session.add(
                        HiddenMessage(
                            guild_id=guild_id,
                            external_id=external_id,
                            hidden_by=by,
                            hidden_at=utcnow(),
                        )
                    )
                else:
                    session.delete(row)
                posts = _mark(session, guild_id, external_id, hidden)
            if posts:
                self.store.apply_committed(guild_id, posts)  # faiss masks see it at once
        log.info("guild %s: message %s", guild_id, "hidden" if hidden else "unhidden")
        return True


def _mark(session: Session, guild_id: int, external_id: str, hidden: bool) -> list[Post]:
    query = select(Post).where(Post.guild_id == guild_id, Post.external_id == external_id)
    posts = list(session.exec(query).all())
    for post in posts:
        post.hidden = hidden
        session.add(post)
    session.flush()
    return posts
