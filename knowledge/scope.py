"""Who may see what: one search scope, applied the same way to SQL rows and to the vector catalog.

A scope is always one guild. `readable_channel_ids` are the channels the asker can read (computed by
the bot from roles and overwrites); `None` means every channel (the CLI and evaluations). The
rule is written twice, once as SQL for full-text retrieval and once as a numpy mask for faiss,
and a property test keeps the two in agreement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from knowledge.store.models import Post

FLAG_HIDDEN = 1
FLAG_CRISIS = 2
FLAG_CURATED = 4

NO_THREAD = -1


def epoch_seconds(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


@dataclass(frozen=True)
class SearchScope:
    """What one asker may see and which filters they chose."""

    guild_id: int
    readable_channel_ids: frozenset[int] | None = None
    asker_id: int | None = None
    channel_ids: frozenset[int] | None = None
    author_ids: frozenset[int] | None = None
    after: datetime | None = None
    before: datetime | None = None
    threads_only: bool = False
    curated_only: bool = False
    moderator_view: bool = False
    exclude_post_ids: frozenset[int] = field(default_factory=frozenset)
    # Consent, filled in by the service on every read (callers cannot widen it): when
    # `consenting_author_ids` is set only those authors are shown to others; `withheld_author_ids`
    # are never shown to others. An asker always sees their own posts, and everyone sees curated
    # entries (the moderators' words, no member's; channels, hiding and crisis still apply).
    consenting_author_ids: frozenset[int] | None = None
    withheld_author_ids: frozenset[int] = field(default_factory=frozenset)

    def sql_conditions(self) -> list[ColumnElement[bool]]:
        """WHERE conditions over `Post` that express this scope."""
        col = Post.__table__.c  # type: ignore[attr-defined]
        conds: list[ColumnElement[bool]] = [col.guild_id == self.guild_id]
        if self.readable_channel_ids is not None:
            conds.append(col.channel_id.in_(sorted(self.readable_channel_ids)))
        if self.channel_ids is not None:
            conds.append(col.channel_id.in_(sorted(self.channel_ids)))
        if self.author_ids is not None:
            conds.append(col.author_id.in_(sorted(self.author_ids)))
        if self.after is not None:
            conds.append(col.created_at >= self.after)
        if self.before is not None:
            conds.append(col.created_at < self.before)
        if self.threads_only:
            conds.append(col.thread_id.is_not(None))
        if self.curated_only:
            conds.append(col.curated.is_(True))
        if not self.moderator_view:
            conds.append(col.hidden.is_(False))
            crisis_ok = col.crisis_level != "crisis"
            if self.asker_id is not None:
                crisis_ok = sa.or_(crisis_ok, col.author_id == self.asker_id)
            conds.append(crisis_ok)
        if self.exclude_post_ids:
            conds.append(col.id.not_in(sorted(self.exclude_post_ids)))
        own = col.author_id == (self.asker_id if self.asker_id is not None else -1)
        # Curated entries are the moderators' words, no member's: consent does not withhold them.
        own = sa.or_(own, col.curated.is_(True))
        if self.consenting_author_ids is not None:
            conds.append(sa.or_(col.author_id.in_(sorted(self.consenting_author_ids)), own))
        if self.withheld_author_ids:
            conds.append(sa.or_(col.author_id.not_in(sorted(self.withheld_author_ids)), own))
        return conds

    def mask(self, columns: CatalogColumns) -> npt.NDArray[np.bool_]:
        """The same rule as `sql_conditions`, over the in-memory catalog of one guild."""
        keep = columns.alive.copy()
        if self.readable_channel_ids is not None:
            keep &= np.isin(columns.channel, _ids(self.readable_channel_ids))
        if self.channel_ids is not None:
            keep &= np.isin(columns.channel, _ids(self.channel_ids))
        if self.author_ids is not None:
            keep &= np.isin(columns.author, _ids(self.author_ids))
        if self.after is not None:
            keep &= columns.created >= epoch_seconds(self.after)
        if self.before is not None:
            keep &= columns.created < epoch_seconds(self.before)
        if self.threads_only:
            keep &= columns.thread != NO_THREAD
        if self.curated_only:
            keep &= (columns.flags & FLAG_CURATED) != 0
        if not self.moderator_view:
            keep &= (columns.flags & FLAG_HIDDEN) == 0
            crisis_ok = (columns.flags & FLAG_CRISIS) == 0
            if self.asker_id is not None:
                crisis_ok |= columns.author == self.asker_id
            keep &= crisis_ok
        if self.exclude_post_ids:
            keep &= ~np.isin(columns.ids, _ids(self.exclude_post_ids))
        own = columns.author == (self.asker_id if self.asker_id is not None else -1)
        own |= (columns.flags & FLAG_CURATED) != 0  # curated: the moderators' words, as above
        if self.consenting_author_ids is not None:
            keep &= np.isin(columns.author, _ids(self.consenting_author_ids)) | own
        if self.withheld_author_ids:
            keep &= ~np.isin(columns.author, _ids(self.withheld_author_ids)) | own
        return keep


def _ids(values: frozenset[int]) -> npt.NDArray[np.int64]:
    return np.fromiter(values, dtype=np.int64, count=len(values))


@dataclass
class CatalogColumns:
    """Column arrays of one guild's posts (row i describes post ids[i])."""

    ids: npt.NDArray[np.int64]
    channel: npt.NDArray[np.int64]
    thread: npt.NDArray[np.int64]
    author: npt.NDArray[np.int64]
    created: npt.NDArray[np.int64]
    flags: npt.NDArray[np.int64]
    alive: npt.NDArray[np.bool_]
