"""Hybrid ranking: dense similarity, lexical BM25 and condition evidence fused into one score.

Pure numpy over a small protocol: the store supplies candidates and per-post features, this
module only decides the order. One method for every kind of query (a short question, a member's
question against earlier ones, a whole post against other posts); a candidate post is scored

    cos'(q, post) + w_lex * bm25(post) / max bm25 + w_cond * trust(q) * cos(c_q, c_post)

- ``cos'`` mixes the plain cosine with the cosine taken after removing half the guild's mean
  embedding from the query and the posts (``centre_weight`` of the latter): what every post of a
  community shares says little about which one answers. The plain cosine is kept as the hit's
  ``similarity`` (the relevance floor uses it).
- Lexical evidence is weighted, never switched off by query length: max-normalised BM25 of the
  full-text candidates (0 for posts full text did not find).
- ``c_q`` is the query's condition vector (strong and weak evidence the query itself states, the
  writer's own and other people's; negated mentions excluded) plus, weighted by
  ``condition_feedback``, the mean condition vector of the top dense hits (a question that names
  no condition borrows those of its nearest posts).
- ``trust(q)`` says how far condition evidence can be trusted for this query, from two things
  measured on the query itself: how much it says about conditions, ``1 - exp(-evidence /
  condition_evidence)`` (a long post about panic attacks: near 1; a short question naming one
  condition: 0.28), and how undecided the dense ranking is, ``1 - gap / condition_spread`` where
  ``gap`` is the top cosine minus the mean of the next nine (a question with one clear
  same-intent match keeps the dense order; a post among many similar ones lets condition
  agreement decide).

Measured on the dev sets (``benchmarks/retrieval.py``): condition evidence gives post-to-post
ranking its large gain, but on short questions with hard negatives it pulls in posts that share
a condition word and not the intent; the trust factor keeps the first and removes most of the
second. Optional Rocchio feedback on the query vector is available but off (it did not help).
Candidates are the union of the dense and lexical top lists.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

Ids = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float32]
Mode = Literal["hybrid", "dense", "bm25"]

SPREAD_NEIGHBOURS = 9
"""The dense ``gap`` compares the top cosine with the mean of this many next ones."""
CENTRE_SHARE = 0.5
"""Share of the guild's mean embedding removed for the centred cosine."""


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

    def centroid(self) -> Matrix | None:
        """The mean embedding of the guild's posts (None when unknown)."""
        ...


@dataclass(frozen=True)
class QueryConditions:
    """What the query itself says about conditions: its normalised condition vector and how
    much evidence stands behind it (a strong mention of the writer's own condition counts 1)."""

    vector: Matrix
    evidence: float


@dataclass(frozen=True)
class Ranked:
    """One ranked post: its fused score and its plain cosine similarity to the query (None in
    full-text mode)."""

    post_id: int
    score: float
    similarity: float | None


class FusionSettings(BaseModel):
    """Knobs of the hybrid ranker; the defaults are the method chosen on the dev benchmarks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dense_depth: int = Field(100, ge=1, description="Candidates taken from each dense search.")
    lexical_depth: int = Field(50, ge=0, description="Candidates taken from full-text search.")
    lexical_weight: float = Field(
        0.05, ge=0, description="Weight of the max-normalised BM25 score (any query length)."
    )
    centre_weight: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Weight of the centred cosine (half the guild's mean embedding removed from "
        "query and posts) against the plain one.",
    )
    condition_weight: float = Field(1.0, ge=0, description="Weight of condition agreement.")
    condition_evidence: float = Field(
        3.0,
        gt=0,
        description="Condition evidence at which trust in it reaches 1 - 1/e (a strong mention "
        "counts 1, a weak one 0.35).",
    )
    condition_spread: float = Field(
        0.2,
        gt=0,
        description="Condition evidence is not used once the top dense cosine leads the next "
        "nine by this much on average (the dense ranking has decided).",
    )
    feedback_docs: int = Field(5, ge=0, description="Top dense hits used for feedback.")
    feedback_weight: float = Field(
        0.0, ge=0, description="Rocchio weight of the feedback centroid in the query vector."
    )
    condition_feedback: float = Field(
        0.25, ge=0, description="Weight of the feedback posts' conditions in the query's."
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
        query_conditions: QueryConditions | npt.NDArray[np.floating] | None,
        source: CandidateSource,
        k: int = 10,
        mode: Mode = "hybrid",
    ) -> list[tuple[int, float]]:
        """The best ``k`` posts as (id, score), best first."""
        ranked = self.rank_posts(query_text, query_vector, query_conditions, source, k, mode)
        return [(r.post_id, r.score) for r in ranked]

    def rank_posts(
        self,
        query_text: str,
        query_vector: npt.NDArray[np.floating],
        query_conditions: QueryConditions | npt.NDArray[np.floating] | None,
        source: CandidateSource,
        k: int = 10,
        mode: Mode = "hybrid",
    ) -> list[Ranked]:
        """The best ``k`` posts with their scores and plain similarities, best first."""
        if k <= 0:
            return []
        if mode == "bm25":
            ids, scores = source.lexical(query_text, k)
            return [Ranked(i, s, None) for i, s in _pairs(ids, scores, k)]
        q = _normalise(query_vector)
        if mode == "dense":
            ids, scores = source.dense(q.reshape(1, -1), k)
            return [Ranked(i, s, s) for i, s in _pairs(ids, scores, k)]
        return self._hybrid(query_text, q, _as_conditions(query_conditions), source, k)

    def uses_lexical(self, text: str) -> bool:
        """Whether hybrid ranking of `text` runs full-text search at all."""
        s = self.settings
        return s.lexical_depth > 0 and s.lexical_weight > 0

    def condition_trust(self, evidence: float, similarities: Scores) -> float:
        """How far condition evidence is used for a query (0..1): see the module doc."""
        s = self.settings
        confidence = 1.0 - math.exp(-max(evidence, 0.0) / s.condition_evidence)
        top = np.sort(np.asarray(similarities, dtype=np.float32))[::-1]
        if len(top) < 2:
            return confidence
        gap = float(top[0] - top[1 : 1 + SPREAD_NEIGHBOURS].mean())
        return confidence * max(0.0, 1.0 - gap / s.condition_spread)

    def _hybrid(
        self,
        text: str,
        q: Matrix,
        query_conditions: QueryConditions | None,
        source: CandidateSource,
        k: int,
    ) -> list[Ranked]:
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
            source.lexical(text, s.lexical_depth) if self.uses_lexical(text) else (_no(), _none())
        )
        pools.append(np.asarray(lex_ids, dtype=np.int64))
        candidates = _union(pools)
        if len(candidates) == 0:
            return []
        vectors = source.vectors(candidates)
        similarity = vectors @ q2
        score = self._centred(vectors, q2, source, similarity)
        if s.lexical_weight > 0 and len(lex_ids):
            score = score + s.lexical_weight * _scaled_lexical(candidates, lex_ids, lex_scores)
        if s.condition_weight > 0 and query_conditions is not None:
            weight = s.condition_weight * self.condition_trust(
                query_conditions.evidence, similarity
            )
            cq = self._query_conditions(query_conditions.vector, feedback, source)
            if weight > 0 and cq is not None:
                score = score + weight * (source.conditions(candidates) @ cq)
        order = np.argsort(-score, kind="stable")[:k]
        return [Ranked(int(candidates[i]), float(score[i]), float(similarity[i])) for i in order]

    def _centred(
        self, vectors: Matrix, q: Matrix, source: CandidateSource, similarity: Scores
    ) -> Scores:
        weight = self.settings.centre_weight
        centroid = source.centroid() if weight > 0 else None
        if centroid is None or not np.any(centroid):
            return similarity
        mean = np.asarray(centroid, dtype=np.float32).reshape(-1) * CENTRE_SHARE
        qc = q - mean
        posts = vectors - mean
        norms = np.linalg.norm(posts, axis=1) * float(np.linalg.norm(qc))
        norms[norms == 0] = 1.0
        out: Scores = (1.0 - weight) * similarity + weight * (posts @ qc) / norms
        return out

    def _query_conditions(
        self,
        own: Matrix,
        feedback: Ids,
        source: CandidateSource,
    ) -> Matrix | None:
        s = self.settings
        cq = _normalise(own) if np.any(own) else None
        if len(feedback) and s.condition_feedback > 0:
            borrowed = _normalise(source.conditions(feedback).mean(axis=0))
            cq = borrowed if cq is None else _normalise(cq + s.condition_feedback * borrowed)
        if cq is None or not np.any(cq):
            return None
        return cq


def _as_conditions(
    value: QueryConditions | npt.NDArray[np.floating] | None,
) -> QueryConditions | None:
    """A bare condition vector (a filter, a profile) is taken as fully stated evidence."""
    if value is None or isinstance(value, QueryConditions):
        return value
    return QueryConditions(_normalise(value), math.inf)


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


def _no() -> Ids:
    return np.zeros(0, dtype=np.int64)


def _none() -> Scores:
    return np.zeros(0, dtype=np.float32)
