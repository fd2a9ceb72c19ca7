"""The hybrid ranker over a fake in-memory candidate source."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest

from knowledge.search.fusion import FusionSettings, HybridRanker


def unit(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


class FakeSource:
    """Exact search over small in-memory matrices; lexical hits given per query word."""

    def __init__(
        self,
        vectors: np.ndarray,
        conditions: np.ndarray,
        lexical_hits: dict[str, list[tuple[int, float]]] | None = None,
    ) -> None:
        self._v = vectors.astype(np.float32)
        self._c = conditions.astype(np.float32)
        self._lex = lexical_hits or {}
        self.dense_calls = 0

    def dense(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        self.dense_calls += 1
        scores = self._v @ vector.reshape(-1)
        order = np.argsort(-scores, kind="stable")[:k]
        return order.astype(np.int64), scores[order].astype(np.float32)

    def lexical(self, query_text: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        best: dict[int, float] = {}
        for word in query_text.lower().split():
            for doc, score in self._lex.get(word, []):
                best[doc] = best.get(doc, 0.0) + score
        ranked = sorted(best.items(), key=lambda kv: -kv[1])[:k]
        ids = np.array([d for d, _ in ranked], dtype=np.int64)
        return ids, np.array([s for _, s in ranked], dtype=np.float32)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        rows: np.ndarray = self._v[ids]
        return rows

    def conditions(self, ids: np.ndarray) -> np.ndarray:
        rows: np.ndarray = self._c[ids]
        return rows


# Four posts in a 3-d embedding space with two conditions (A, B).
VECTORS = np.stack([unit(1, 0.10, 0), unit(1, 0.12, 0.3), unit(1, 0.1, 0.31), unit(0, 0, 1)])
CONDITIONS = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], dtype=np.float32)
QUERY = unit(1, 0.1, 0.3)


def ids(result: list[tuple[int, float]]) -> list[int]:
    return [i for i, _ in result]


def test_dense_and_bm25_modes_pass_through() -> None:
    source = FakeSource(VECTORS, CONDITIONS, {"insulin": [(3, 5.0), (0, 1.0)]})
    ranker = HybridRanker()
    dense = ranker.rank("insulin", QUERY, None, source, k=2, mode="dense")
    assert ids(dense) == [2, 1]
    assert dense[0][1] == pytest.approx(float(VECTORS[2] @ QUERY), rel=1e-5)
    assert ids(ranker.rank("insulin", QUERY, None, source, k=5, mode="bm25")) == [3, 0]
    assert ranker.rank("insulin", QUERY, None, source, k=0) == []


def test_condition_agreement_reorders_close_dense_scores() -> None:
    source = FakeSource(VECTORS, CONDITIONS)
    plain = HybridRanker(FusionSettings(condition_weight=0, lexical_weight=0))
    assert ids(plain.rank("q", QUERY, np.array([0, 1.0]), source, k=2)) == [2, 1]
    aware = HybridRanker(FusionSettings(condition_weight=0.3, condition_feedback=0))
    assert ids(aware.rank("q", QUERY, np.array([0, 1.0]), source, k=2)) == [1, 2]
    assert ids(aware.rank("q", QUERY, np.array([1.0, 0]), source, k=2)) == [2, 0]


def test_query_without_conditions_borrows_them_from_its_neighbours() -> None:
    # The nearest post is about condition A, so A posts rise even for a bare query.
    source = FakeSource(VECTORS, CONDITIONS)
    settings = FusionSettings(condition_weight=0.3, condition_feedback=0.25, feedback_docs=1)
    result = HybridRanker(settings).rank("q", QUERY, np.zeros(2), source, k=3)
    assert ids(result) == [2, 0, 1]
    no_feedback = FusionSettings(condition_weight=0.3, condition_feedback=0)
    assert ids(HybridRanker(no_feedback).rank("q", QUERY, np.zeros(2), source, k=3)) == [2, 1, 0]


def test_lexical_candidates_join_and_are_scored_by_all_signals() -> None:
    vectors = np.vstack([VECTORS, unit(1, 0.1, 0.25)[None, :]])
    conditions = np.vstack([CONDITIONS, [[0, 0]]])
    source = FakeSource(vectors, conditions, {"dexcom": [(4, 3.0)]})
    settings = FusionSettings(
        dense_depth=2, lexical_weight=0.05, condition_weight=0, lexical_min_weight=0
    )
    result = HybridRanker(settings).rank("dexcom", QUERY, None, source, k=5)
    assert 4 in ids(result)  # outside the dense top 2, found through full text
    score = dict(result)[4]
    expected_dense = float(vectors[4] @ QUERY)
    assert expected_dense < score  # lexical evidence added on top of its dense score


def test_short_queries_get_a_smaller_lexical_weight() -> None:
    vectors = np.stack([unit(1, 0, 0), unit(0.99, 0.141, 0)])
    source = FakeSource(vectors, np.zeros((2, 1)), {"pump": [(1, 10.0)]})
    query = unit(1, 0, 0)
    unscaled = FusionSettings(lexical_weight=0.05, lexical_full_terms=0, condition_weight=0)
    scaled = FusionSettings(
        lexical_weight=0.05, lexical_full_terms=32, condition_weight=0, lexical_min_weight=0
    )
    assert ids(HybridRanker(unscaled).rank("pump", query, None, source, k=2)) == [1, 0]
    assert ids(HybridRanker(scaled).rank("pump", query, None, source, k=2)) == [0, 1]


class CountingSource(FakeSource):
    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.lexical_calls = 0

    def lexical(self, query_text: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        self.lexical_calls += 1
        return super().lexical(query_text, k)


def test_full_text_is_skipped_when_its_weight_would_be_negligible() -> None:
    source = CountingSource(VECTORS, CONDITIONS, {"pump": [(1, 10.0)]})
    ranker = HybridRanker(FusionSettings(lexical_weight=0.05, lexical_full_terms=32))
    short = "insulin pump alarm"  # 3 content words: weight 0.05 * 3/32 < 0.01
    long = " ".join(f"word{i}" for i in range(10)) + " pump"  # 11 words: 0.017
    assert not ranker.uses_lexical(short) and ranker.uses_lexical(long)
    ranker.rank(short, QUERY, None, source, k=2)
    assert source.lexical_calls == 0
    ranker.rank(long, QUERY, None, source, k=2)
    assert source.lexical_calls == 1


def test_rocchio_feedback_runs_a_second_dense_search() -> None:
    source = FakeSource(VECTORS, CONDITIONS)
    HybridRanker(FusionSettings(feedback_weight=0)).rank("q", QUERY, None, source, k=2)
    assert source.dense_calls == 1
    HybridRanker(FusionSettings(feedback_weight=0.5)).rank("q", QUERY, None, source, k=2)
    assert source.dense_calls == 3


def test_empty_source_and_unnormalised_query() -> None:
    empty = FakeSource(np.zeros((0, 3)), np.zeros((0, 2)))
    assert HybridRanker().rank("anything", QUERY, None, empty, k=5) == []
    source = FakeSource(VECTORS, CONDITIONS)
    a = HybridRanker().rank("q", QUERY * 7, None, source, k=3)
    b = HybridRanker().rank("q", QUERY, None, source, k=3)
    assert ids(a) == ids(b)
    assert [s for _, s in a] == pytest.approx([s for _, s in b])


def test_settings_validate_and_are_frozen() -> None:
    with pytest.raises(pydantic.ValidationError):
        FusionSettings(condition_weight=-1)
    with pytest.raises(pydantic.ValidationError):
        FusionSettings(unknown_knob=1)  # type: ignore[call-arg]
    settings = FusionSettings()
    with pytest.raises(pydantic.ValidationError):
        settings.condition_weight = 2  # type: ignore[misc]
    assert settings.condition_weight == 0.3 and settings.lexical_weight == 0.05
