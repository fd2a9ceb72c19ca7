"""Crisis-language detection: assess a post as `none`, `concern` or `crisis`, with reasons.

Two layers, combined:

- the phrase layer (`knowledge.safety.phrases`): reviewed rules for explicit intent, plan, means,
  attempt and farewell language (crisis) and for death wishes, suicidal thoughts, self-harm, burden
  and hopelessness (concern), with guards for negation, past or habitual tense, another person as
  subject, idioms and jokes;
- the similarity layer (`knowledge.safety.model`): a logistic regression over the post's sentence
  embedding (the same normalised MiniLM vector ingest computes, so scoring it costs one dot
  product), trained on real r/suicidewatch and control-community posts of rmhd27-dev plus the
  project's written examples; its score is a probability that the text reads like a crisis post.

The phrase rules stay overrides rather than features of the regression: as features they cost
crisis recall under cross-validation (see `knowledge.safety.model`).

A post is `crisis` when a crisis rule fires, when concern-level phrases combine (a death wish with
timing, means or a farewell), when a concern rule fires and the similarity layer agrees
(`corroborated_threshold`), or when the similarity layer alone is sure enough (`crisis_threshold`,
for texts of at least `min_words_for_similarity_crisis` words). It is `concern` when any concern
rule fires or the score reaches `concern_threshold`.

With `embedder=None` only the phrase layer runs: fast and transparent, with few false alarms, but
it misses posts that say it without the listed words (on rmhd27-dev it flags about half of
r/suicidewatch). Cross-validated figures with intervals: `benchmarks/crisis.py`.

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
    log them). `score` is the similarity layer's probability that the text reads like a crisis
    post; when only the phrase layer runs it is 0.0, 0.5 or 1.0 by level.
    """

    level: SafetyLevel
    reasons: tuple[str, ...]
    score: float

    @property
    def flagged(self) -> bool:
        return self.level is not SafetyLevel.NONE


class SafetySettings(BaseModel):
    """Thresholds of the crisis detector (the `[safety]` table of the configuration).

    The defaults are the shipped model's thresholds (`knowledge/data/safety_model.json`), chosen by
    cross-validation on rmhd27-dev: out-of-fold scores of control-community posts put crisis at
    about 0.6% false alarms and concern at about 2%, leaving room below the 1% and 3% targets.
    """

    crisis_threshold: float = Field(
        0.6515, ge=0.0, le=1.0, description="similarity score that alone makes a post a crisis"
    )
    corroborated_threshold: float = Field(
        0.5615, ge=0.0, le=1.0, description="similarity score that lifts a concern phrase to crisis"
    )
    concern_threshold: float = Field(
        0.4714, ge=0.0, le=1.0, description="similarity score that alone makes a post a concern"
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

    def __init__(
        self,
        embedder: Embedder | None,
        settings: SafetySettings | None = None,
        model: LinearSafetyModel | None = None,
    ) -> None:
        """`model` replaces the shipped classifier (cross-validation passes each fold's own)."""
        self._embedder = embedder
        self._settings = settings or SafetySettings()
        self._rules: tuple[PhraseRule, ...] = default_rules()
        self._model: LinearSafetyModel | None = model
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
        """Per text the classifier's score: the post head, or the short-message head below
        `min_words_for_similarity_crisis` words."""
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
        short = np.asarray([not self._long_enough(texts[i]) for i in todo])
        values = np.where(short, model.short_scores(rows), model.scores(rows))
        for index, score in zip(todo, values, strict=True):
            scores[index] = float(score)
        return scores

    def _long_enough(self, text: str) -> bool:
        return len(text.split()) >= self._settings.min_words_for_similarity_crisis

    def _short_threshold(self) -> float:
        model = self._model
        fitted = model.thresholds.get("short") if model is not None else None
        return self._settings.crisis_threshold if fitted is None else fitted

    def _combine(self, text: str, score: float | None) -> SafetyAssessment:
        settings = self._settings
        hits = scan_phrases(text, self._rules) if settings.use_phrases and text else []
        verdict = _phrase_verdict(text, hits)
        if score is None:
            shown = {SafetyLevel.CRISIS: 1.0, SafetyLevel.CONCERN: 0.5, SafetyLevel.NONE: 0.0}
            return SafetyAssessment(verdict.level, tuple(verdict.reasons), shown[verdict.level])
        long_enough = self._long_enough(text)
        short_threshold = self._short_threshold()
        level = _with_similarity(verdict, score, long_enough, settings, short_threshold)
        return SafetyAssessment(level, tuple(verdict.reasons), round(score, 4))


def _with_similarity(
    verdict: _PhraseVerdict,
    score: float,
    long_enough: bool,
    settings: SafetySettings,
    short_threshold: float,
) -> SafetyLevel:
    """Raise the phrase verdict with the similarity score (never lower it); adds a reason.

    Sentence embeddings barely see negation, tense, whose life is meant or a figure of speech, so
    short messages ("I'm not going to kill myself", "I'd die for a coffee") score high on any death
    word. Below `min_words_for_similarity_crisis` words similarity therefore never makes a crisis
    (a short text is a crisis only through the phrase layer); the score is the short-message
    head's, which raises a text to concern at `short_threshold` (the model's cross-validated
    `short` threshold; `crisis_threshold` for a model without one), and not at all when the only
    death words the phrase layer found were negated, reported, past or figurative.
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
        reasons.append(f"similarity {score:.2f} to crisis posts")
        return SafetyLevel.CRISIS
    if level is not SafetyLevel.NONE or (verdict.guarded and not long_enough):
        return level
    if score >= (settings.concern_threshold if long_enough else short_threshold):
        note = "; the death words matched were negated or figurative" if verdict.guarded else ""
        reasons.append(f"similarity {score:.2f} to crisis posts{note}")
        return SafetyLevel.CONCERN
    return level
