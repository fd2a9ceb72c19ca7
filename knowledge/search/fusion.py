"""Hybrid ranking: dense similarity, lexical BM25 and condition evidence fused into one score.

Pure numpy over a small protocol: the store supplies candidates and per-post features, this
module only decides the order. A candidate post is scored

    cos(q, post) + w_lex * f(query) * bm25(post) / max bm25 + w_cond * cos(c_q, c_post)

where ``c_q`` is the query's condition vector plus the mean condition vector of the top dense
hits (condition feedback: a question that names no condition borrows the conditions of its
nearest posts), and ``f(query)`` shrinks the lexical weight for short queries, where keyword
overlap misleads. Optional Rocchio feedback on the query vector is available but off by default
(it did not help on the benchmarks). Candidates are the union of the dense and lexical top lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from knowledge.search.fts_query import query_terms

Ids = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float32]
Mode = Literal["hybrid", "dense", "bm25"]


class CandidateSource(Protocol):
    """What the store offers for one query, already restricted to posts the asker may see."""

    def dense(self, vector: Matrix, k: int) -> tuple[Ids, Scores]:
        """Top-k posts by inner product with a normalised vector, best first."""
        ...

    def lexical(self, query_text: str, k: int) -> tuple[Ids, Scores]:
        """Top-k posts by full-text relevance (higher is better), best first."""
        ...

    def vectors(self, ids: Ids) -> Matrix:
        """Stored normalised embeddings, one row per id."""
        ...

    def conditions(self, ids: Ids) -> Matrix:
        """Stored normalised condition vectors, one row per id."""
        ...


class FusionSettings(BaseModel):
    """Knobs of the hybrid ranker; the defaults are the method chosen on the dev benchmarks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dense_depth: int = Field(100, ge=1, description="Candidates taken from each dense search.")
    lexical_depth: int = Field(50, ge=0, description="Candidates taken from full-text search.")
    lexical_weight: float = Field(0.05, ge=0, description="Weight of the scaled BM25 score.")
    condition_weight: float = Field(0.3, ge=0, description="Weight of condition agreement.")
    feedback_docs: int = Field(5, ge=0, description="Top dense hits used for feedback.")
    feedback_weight: float = Field(
        0.0, ge=0, description="Rocchio weight of the feedback centroid in the query vector."
    )
    condition_feedback: float = Field(
        0.25, ge=0, description="Weight of the feedback posts' conditions in the query's."
    )
    lexical_min_weight: float = Field(
        0.01,
        ge=0,
        description="When the length-scaled lexical weight is below this, full-text search is "
        "skipped (it could move a score by less than this).",
    )
    lexical_full_terms: int = Field(
        32,
        ge=0,
        description="Queries with fewer content words get a proportionally smaller lexical "
        "weight (0 disables the scaling).",
    )


def _normalise(vector: npt.NDArray[np.floating]) -> Matrix:
    out = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(out))
    return out / norm if norm > 0 else out


class HybridRanker:
    """Ranks candidate posts for a query (a short question or a whole post)."""

    def __init__(self, settings: FusionSettings | None = None) -> None:
        self.settings = settings or FusionSettings()

    def rank(
        self,
        query_text: str,
        query_vector: npt.NDArray[np.floating],
        query_conditions: npt.NDArray[np.floating] | None,
        source: CandidateSource,
        k: int = 10,
        mode: Mode = "hybrid",
    ) -> list[tuple[int, float]]:
        """The best ``k`` posts as (id, score), best first."""
        if k <= 0:
            return []
        if mode == "bm25":
            ids, scores = source.lexical(query_text, k)
            return _pairs(ids, scores, k)
        q = _normalise(query_vector)
        if mode == "dense":
            ids, scores = source.dense(q.reshape(1, -1), k)
            return _pairs(ids, scores, k)
        return self._hybrid(query_text, q, query_conditions, source, k)

    def _hybrid(
        self,
        text: str,
        q: Matrix,
        query_conditions: npt.NDArray[np.floating] | None,
        source: CandidateSource,
        k: int,
    ) -> list[tuple[int, float]]:
        s = self.settings
        dense_ids, _ = source.dense(q.reshape(1, -1), max(s.dense_depth, k))
        feedback = np.asarray(dense_ids[: s.feedback_docs], dtype=np.int64)
        q2 = q
        pools: list[Ids] = [np.asarray(dense_ids, dtype=np.int64)]
        if len(feedback) and s.feedback_weight > 0:
            centroid = source.vectors(feedback).mean(axis=0)
            q2 = _normalise(q + s.feedback_weight * _normalise(centroid))
            pools.append(np.asarray(source.dense(q2.reshape(1, -1), s.dense_depth)[0]))
        lex_ids, lex_scores = (
            source.lexical(text, s.lexical_depth)
            if self.uses_lexical(text)
            else (_no_ids(), _none())
        )
        pools.append(np.asarray(lex_ids, dtype=np.int64))
        candidates = _union(pools)
        if len(candidates) == 0:
            return []
        score = source.vectors(candidates) @ q2
        if s.lexical_weight > 0 and len(lex_ids):
            weight = s.lexical_weight * self._length_factor(text)
            score = score + weight * _scaled_lexical(candidates, lex_ids, lex_scores)
        if s.condition_weight > 0:
            cq = self._query_conditions(query_conditions, feedback, source)
            if cq is not None:
                score = score + s.condition_weight * (source.conditions(candidates) @ cq)
        order = np.argsort(-score, kind="stable")[:k]
        return [(int(candidates[i]), float(score[i])) for i in order]

    def uses_lexical(self, text: str) -> bool:
        """Whether hybrid ranking of `text` runs full-text search at all."""
        s = self.settings
        weight = s.lexical_weight * self._length_factor(text)
        return s.lexical_depth > 0 and weight > 0 and weight >= s.lexical_min_weight

    def _length_factor(self, text: str) -> float:
        full = self.settings.lexical_full_terms
        if full <= 0:
            return 1.0
        return min(1.0, len(query_terms(text, max_terms=full)) / full)

    def _query_conditions(
        self,
        query_conditions: npt.NDArray[np.floating] | None,
        feedback: Ids,
        source: CandidateSource,
    ) -> Matrix | None:
        s = self.settings
        cq = None if query_conditions is None else _normalise(query_conditions)
        if len(feedback) and s.condition_feedback > 0:
            borrowed = _normalise(source.conditions(feedback).mean(axis=0))
            cq = borrowed if cq is None else _normalise(cq + s.condition_feedback * borrowed)
        if cq is None or not np.any(cq):
            return None
        return cq


def _scaled_lexical(candidates: Ids, lex_ids: Ids, lex_scores: Scores) -> Matrix:
    """BM25 scores divided by the best one; candidates the lexical search missed get 0."""
    scores = np.asarray(lex_scores, dtype=np.float32)
    top = float(scores.max()) if len(scores) else 0.0
    out = np.zeros(len(candidates), dtype=np.float32)
    if top <= 0:
        return out
    position = {int(i): n for n, i in enumerate(candidates)}
    for doc, value in zip(lex_ids, scores, strict=False):
        out[position[int(doc)]] = max(float(value), 0.0) / top
    return out


def _union(pools: Sequence[Ids]) -> Ids:
    seen: dict[int, None] = {}
    for pool in pools:
        for doc in pool:
            if int(doc) >= 0:
                seen.setdefault(int(doc), None)
    return np.fromiter(seen, dtype=np.int64, count=len(seen))


def _pairs(ids: Ids, scores: Scores, k: int) -> list[tuple[int, float]]:
    return [(int(i), float(s)) for i, s in zip(ids[:k], scores[:k], strict=False) if int(i) >= 0]


def _no_ids() -> Ids:
    return np.zeros(0, dtype=np.int64)


def _none() -> Scores:
    return np.zeros(0, dtype=np.float32)
