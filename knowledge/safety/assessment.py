"""Crisis-language detection: assess a post as `none`, `concern` or `crisis`, with reasons.

Two layers, combined:

- the phrase layer (`knowledge.safety.phrases`): reviewed rules for explicit intent, plan, means,
  attempt and farewell language (crisis) and for death wishes, suicidal thoughts, self-harm, burden
  and hopelessness (concern), with guards for negation, past or habitual tense, another person as
  subject, idioms and jokes;
- the similarity layer (`knowledge.safety.model`): a linear classifier over the post's sentence
  embedding (the same normalised MiniLM vector ingest computes, so it is free when reused),
  trained only on the project's own written examples. It reads the first 256 word pieces of a
  post; the phrase layer reads all of it (up to `max_chars`). Scoring overlapping windows, or the
  tail of long posts, was measured and dropped: on rmhd27-dev the maximum over windows raised
  false alarms more than it found crises, and tail chunks changed almost nothing.

A post is `crisis` when a crisis rule fires, when concern-level phrases combine (a death wish with
timing, means or a farewell), when a concern rule fires and the similarity layer agrees
(`corroborated_threshold`), or when the similarity layer alone is very sure (`crisis_threshold`).
It is `concern` when any concern rule fires or the similarity score reaches `concern_threshold`.

With `embedder=None` only the phrase layer runs: fast (about 900 posts/s) and transparent, with few
false alarms, but it misses posts that say it without the listed words. On rmhd27-dev suicidewatch
it flags 0.52 of posts (0.29 as crisis) against 0.92 (0.75) with the similarity layer; see
`benchmarks/crisis.py`.

`reasons` quote short matched phrases for moderators: treat them as message content and never log
them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from pydantic import BaseModel, Field

from knowledge.embeddings import Embedder, Vectors
from knowledge.safety.model import LinearSafetyModel, model_for
from knowledge.safety.phrases import (
    PhraseHit,
    PhraseRule,
    default_rules,
    escalations,
    has_idiom,
    scan_phrases,
)
from knowledge.safety.text import MAX_CHARS, clean


class SafetyLevel(StrEnum):
    """How worried a moderator should be about a post."""

    NONE = "none"
    CONCERN = "concern"
    CRISIS = "crisis"


@dataclass(frozen=True)
class SafetyAssessment:
    """The verdict on one text.

    `reasons` name the rules, combinations and similarity that fired (short quotes included: never
    log them). `score` is the similarity layer's probability that the text reads like the crisis and
    concern examples; when only the phrase layer runs it is 0.0, 0.5 or 1.0 by level.
    """

    level: SafetyLevel
    reasons: tuple[str, ...]
    score: float

    @property
    def flagged(self) -> bool:
        return self.level is not SafetyLevel.NONE


class SafetySettings(BaseModel):
    """Thresholds of the crisis detector (the `[safety]` table of the configuration).

    The three similarity thresholds were set on rmhd27-dev (the model itself never saw it): crisis
    alone at about 0.7% false alarms on the control communities, concern-or-crisis at about 3%.
    Scores of the shipped model are compressed (most text lies between 0.4 and 0.85), so steps of
    0.01 matter.
    """

    crisis_threshold: float = Field(
        0.71, ge=0.0, le=1.0, description="similarity score that alone makes a post a crisis"
    )
    corroborated_threshold: float = Field(
        0.62, ge=0.0, le=1.0, description="similarity score that lifts a concern phrase to crisis"
    )
    concern_threshold: float = Field(
        0.66, ge=0.0, le=1.0, description="similarity score that alone makes a post a concern"
    )
    min_words_for_similarity_crisis: int = Field(
        20, ge=0, description="shorter texts reach crisis only through the phrase layer"
    )
    use_phrases: bool = Field(True, description="run the reviewed phrase rules")
    max_chars: int = Field(MAX_CHARS, ge=100, description="characters of a post that are read")


_LIFTABLE = frozenset({"ideation", "self_harm", "burden", "hopelessness"})


@dataclass
class _PhraseVerdict:
    level: SafetyLevel
    reasons: list[str]
    liftable: bool  # a first-person concern signal the similarity layer may raise to crisis
    guarded: bool  # only negated, reported, past or idiomatic death language matched


def _phrase_verdict(text: str, hits: list[PhraseHit]) -> _PhraseVerdict:
    live = [hit for hit in hits if hit.silenced_by is None]
    reasons = list(dict.fromkeys(hit.reason for hit in live))
    liftable = any(hit.category in _LIFTABLE and not hit.softened for hit in live)
    if any(hit.level == "crisis" for hit in live):
        return _PhraseVerdict(SafetyLevel.CRISIS, reasons, liftable, False)
    combined = escalations(text, hits)
    if combined:
        return _PhraseVerdict(SafetyLevel.CRISIS, reasons + combined, liftable, False)
    if live:
        return _PhraseVerdict(SafetyLevel.CONCERN, reasons, liftable, False)
    guarded = bool(hits) or has_idiom(text)
    return _PhraseVerdict(SafetyLevel.NONE, reasons, False, guarded)


class SafetyAssessor:
    """Assesses texts for crisis language; thread-safe, model loaded or trained lazily."""

    def __init__(self, embedder: Embedder | None, settings: SafetySettings | None = None) -> None:
        self._embedder = embedder
        self._settings = settings or SafetySettings()
        self._rules: tuple[PhraseRule, ...] = default_rules()
        self._model: LinearSafetyModel | None = None
        self._lock = threading.Lock()

    @property
    def settings(self) -> SafetySettings:
        return self._settings

    @property
    def embedder(self) -> Embedder | None:
        return self._embedder

    def assess_for_ingest(
        self, texts: Sequence[str], vectors: Vectors
    ) -> list[tuple[str, tuple[str, ...]]]:
        """The ingest hook: (level, reasons) per text, reusing the vectors ingest computed."""
        usable = vectors if self._embedder is not None else None
        return [(a.level.value, a.reasons) for a in self.assess_many(texts, usable)]

    def _classifier(self) -> LinearSafetyModel | None:
        if self._embedder is None:
            return None
        with self._lock:
            if self._model is None:
                self._model = model_for(self._embedder)
            return self._model

    def assess(self, text: str, vector: Vectors | None = None) -> SafetyAssessment:
        """Assess one text; `vector` is its normalised embedding if the caller already has it."""
        vectors = None if vector is None else np.asarray(vector, dtype=np.float32).reshape(1, -1)
        return self.assess_many([text], vectors)[0]

    def assess_many(
        self, texts: Sequence[str], vectors: Vectors | None = None
    ) -> list[SafetyAssessment]:
        """Assess texts in one batch; `vectors` (one row per text) are reused, not recomputed."""
        cleaned = [clean(text, self._settings.max_chars) for text in texts]
        if vectors is not None and len(vectors) != len(cleaned):
            raise ValueError("vectors must have one row per text")
        scores = self._scores(cleaned, vectors)
        return [self._combine(text, score) for text, score in zip(cleaned, scores, strict=True)]

    def _scores(self, texts: list[str], vectors: Vectors | None) -> list[float | None]:
        model = self._classifier()
        if model is None or self._embedder is None:
            return [None] * len(texts)
        todo = [i for i, text in enumerate(texts) if text.strip()]
        scores: list[float | None] = [0.0] * len(texts)
        if not todo:
            return scores
        if vectors is not None:
            rows = np.asarray(vectors, dtype=np.float32)[todo]
        else:
            rows = self._embedder.encode([texts[i] for i in todo])
        probabilities = model.probabilities(rows)
        for index, row in zip(todo, probabilities, strict=True):
            scores[index] = float(row[1] + row[2])
        return scores

    def _combine(self, text: str, score: float | None) -> SafetyAssessment:
        settings = self._settings
        hits = scan_phrases(text, self._rules) if settings.use_phrases and text else []
        verdict = _phrase_verdict(text, hits)
        if score is None:
            shown = {SafetyLevel.CRISIS: 1.0, SafetyLevel.CONCERN: 0.5, SafetyLevel.NONE: 0.0}
            return SafetyAssessment(verdict.level, tuple(verdict.reasons), shown[verdict.level])
        long_enough = len(text.split()) >= settings.min_words_for_similarity_crisis
        level = _with_similarity(verdict, score, long_enough, settings)
        return SafetyAssessment(level, tuple(verdict.reasons), round(score, 4))


def _with_similarity(
    verdict: _PhraseVerdict, score: float, long_enough: bool, settings: SafetySettings
) -> SafetyLevel:
    """Raise the phrase verdict with the similarity score (never lower it); adds a reason.

    Sentence embeddings barely see negation, tense, whose life is meant or a figure of speech, so
    short messages ("I'm not going to kill myself", "I'd die for a coffee") score high on any death
    word. Below `min_words_for_similarity_crisis` words similarity can therefore raise a text to
    concern but not to crisis; a short text is a crisis only through the phrase layer.
    """
    level, reasons = verdict.level, verdict.reasons
    if level is SafetyLevel.CRISIS:
        return level
    if (
        level is SafetyLevel.CONCERN
        and verdict.liftable
        and long_enough
        and score >= settings.corroborated_threshold
    ):
        reasons.append(f"similarity {score:.2f} corroborates the phrases")
        return SafetyLevel.CRISIS
    if long_enough and score >= settings.crisis_threshold:
        reasons.append(f"similarity {score:.2f} to crisis and concern examples")
        return SafetyLevel.CRISIS
    if level is SafetyLevel.NONE and score >= settings.concern_threshold:
        note = "; the death words matched were negated or figurative" if verdict.guarded else ""
        reasons.append(f"similarity {score:.2f} to crisis and concern examples{note}")
        return SafetyLevel.CONCERN
    return level
