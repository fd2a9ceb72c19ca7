"""Who may be matched for one asker: consenting members' readable posts, crisis kept out.

Read from the guild's in-memory catalog (one numpy mask, no SQL): a post counts when its author
agreed to be matched (`matchable`), is not the asker, and has posted nothing at crisis level
within the recent window; hidden posts and posts outside the asker's readable channels never count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from knowledge.scope import FLAG_CRISIS, FLAG_HIDDEN, CatalogColumns

IdArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Candidates:
    """The posts matching may use (`post_ids[i]` written by `authors[i]` at `created[i]`)."""

    post_ids: IdArray
    authors: IdArray
    created: IdArray
    asker_in_crisis: bool


def _ids(values: frozenset[int]) -> IdArray:
    return np.fromiter(values, dtype=np.int64, count=len(values))


def select_candidates(
    columns: CatalogColumns,
    *,
    asker_id: int,
    matchable: frozenset[int],
    crisis_since: int | None,
    readable_channel_ids: frozenset[int] | None = None,
) -> Candidates:
    """The usable posts of one guild for `asker_id`.

    `crisis_since` (epoch seconds) starts the window in which a crisis-level post keeps its
    author out of matching (and makes an asker get resources instead); None: any time.
    """
    alive = columns.alive
    crisis = alive & ((columns.flags & FLAG_CRISIS) != 0)
    if crisis_since is not None:
        crisis &= columns.created >= crisis_since
    in_crisis = np.unique(columns.author[crisis])
    asker_in_crisis = bool(np.isin(asker_id, in_crisis))
    keep = alive & ((columns.flags & FLAG_HIDDEN) == 0)
    keep &= np.isin(columns.author, _ids(matchable))
    keep &= columns.author != asker_id
    keep &= ~np.isin(columns.author, in_crisis)
    if readable_channel_ids is not None:
        keep &= np.isin(columns.channel, _ids(readable_channel_ids))
    return Candidates(
        post_ids=columns.ids[keep].copy(),
        authors=columns.author[keep].copy(),
        created=columns.created[keep].copy(),
        asker_in_crisis=asker_in_crisis,
    )
