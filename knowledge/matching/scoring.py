"""How close each member's experiences are to the asker's: pure numpy, no store.

Each of a member's posts gets the cosine of its embedding to the query's plus
`condition_weight` times the cosine of their condition vectors (the ranking evidence of the
condition vocabulary, as search uses it); a member's closeness is the mean of their
`top_posts` best posts (fewer when they wrote fewer). Measured on rmhd27-dev synthetic members
(benchmarks/matching.py): the best single post (max) and the mean of all posts both lost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IdArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class MatchSettings:
    """The few knobs of member matching (defaults measured on rmhd27-dev)."""

    condition_weight: float = 0.3
    """Weight of condition closeness beside embedding closeness, per post."""
    top_posts: int = 3
    """A member's closeness is the mean of this many of their closest posts."""
    pool_posts: int = 256
    """Posts drawn from the vector index to find candidate members (at least 20 per result)."""
    crisis_days: float = 30.0
    """A crisis-level post keeps its author out of matching for this many days."""


@dataclass(frozen=True)
class MemberScores:
    """Per member (ascending id): closeness and the row of their closest post."""

    members: IdArray
    closeness: FloatArray
    best_row: IdArray


def post_scores(
    query: FloatArray,
    query_conditions: FloatArray,
    vectors: FloatArray,
    conditions: FloatArray,
    condition_weight: float,
) -> FloatArray:
    """Each post's closeness to the query: embedding cosine + weight x condition cosine."""
    dense = vectors @ query
    if not query_conditions.any():
        return dense.astype(np.float32)
    return (dense + condition_weight * (conditions @ query_conditions)).astype(np.float32)


def member_scores(scores: FloatArray, authors: IdArray, top_posts: int) -> MemberScores:
    """Mean of each author's `top_posts` best post scores, and the row of their best post."""
    if len(scores) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return MemberScores(empty, np.zeros(0, dtype=np.float32), empty)
    order = np.lexsort((-scores, authors))  # by author, best first within each
    sorted_authors = authors[order]
    members, starts, counts = np.unique(sorted_authors, return_index=True, return_counts=True)
    rank = np.arange(len(order)) - np.repeat(starts, counts)
    take = rank < top_posts
    sums = np.zeros(len(members), dtype=np.float64)
    np.add.at(sums, np.searchsorted(members, sorted_authors[take]), scores[order][take])
    closeness = (sums / np.minimum(counts, top_posts)).astype(np.float32)
    return MemberScores(members, closeness, order[starts].astype(np.int64))
