"""The hybrid ranker over a fake in-memory candidate source."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest

from knowledge.search.fusion import FusionSettings, HybridRanker, QueryConditions


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
        centroid: np.ndarray | None = None,
    ) -> None:
        self._v = vectors.astype(np.float32)
        self._c = conditions.astype(np.float32)
        self._lex = lexical_hits or {}
        self._centroid = centroid
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

    def centroid(self) -> np.ndarray | None:
        return self._centroid


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
    aware = HybridRanker(
        FusionSettings(condition_weight=0.3, condition_feedback=0, condition_spread=10)
    )
    assert ids(aware.rank("q", QUERY, np.array([0, 1.0]), source, k=2)) == [1, 2]
    assert ids(aware.rank("q", QUERY, np.array([1.0, 0]), source, k=2)) == [2, 0]


def test_query_without_conditions_borrows_them_from_its_neighbours() -> None:
    # The nearest post is about condition A, so A posts rise even for a bare query.
    source = FakeSource(VECTORS, CONDITIONS)
    settings = FusionSettings(
        condition_weight=0.3, condition_feedback=0.25, feedback_docs=1, condition_spread=10
    )
    result = HybridRanker(settings).rank("q", QUERY, np.zeros(2), source, k=3)
    assert ids(result) == [2, 0, 1]
    no_feedback = FusionSettings(condition_weight=0.3, condition_feedback=0, condition_spread=10)
    assert ids(HybridRanker(no_feedback).rank("q", QUERY, np.zeros(2), source, k=3)) == [2, 1, 0]


def test_lexical_candidates_join_and_are_scored_by_all_signals() -> None:
    vectors = np.vstack([VECTORS, unit(1, 0.1, 0.25)[None, :]])
    conditions = np.vstack([CONDITIONS, [[0, 0]]])
    source = FakeSource(vectors, conditions, {"dexcom": [(4, 3.0)]})
    settings = FusionSettings(dense_depth=2, lexical_weight=0.05, condition_weight=0)
    result = HybridRanker(settings).rank("dexcom", QUERY, None, source, k=5)
    assert 4 in ids(result)  # outside the dense top 2, found through full text
    score = dict(result)[4]
    expected_dense = float(vectors[4] @ QUERY)
    assert expected_dense < score  # lexical evidence added on top of its dense score


def test_lexical_weight_does_not_depend_on_query_length() -> None:
    vectors = np.stack([unit(1, 0, 0), unit(0.99, 0.141, 0)])
    source = FakeSource(vectors, np.zeros((2, 1)), {"pump": [(1, 10.0)]})
    query = unit(1, 0, 0)
    settings = FusionSettings(lexical_weight=0.05, condition_weight=0, centre_weight=0)
    assert ids(HybridRanker(settings).rank("pump", query, None, source, k=2)) == [1, 0]
    off = FusionSettings(lexical_weight=0, condition_weight=0, centre_weight=0)
    assert ids(HybridRanker(off).rank("pump", query, None, source, k=2)) == [0, 1]


class CountingSource(FakeSource):
    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.lexical_calls = 0

    def lexical(self, query_text: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        self.lexical_calls += 1
        return super().lexical(query_text, k)


def test_full_text_runs_for_short_questions_and_is_skipped_only_when_off() -> None:
    source = CountingSource(VECTORS, CONDITIONS, {"pump": [(1, 10.0)]})
    HybridRanker().rank("insulin pump alarm", QUERY, None, source, k=2)
    assert source.lexical_calls == 1
    HybridRanker(FusionSettings(lexical_weight=0)).rank("pump", QUERY, None, source, k=2)
    HybridRanker(FusionSettings(lexical_depth=0)).rank("pump", QUERY, None, source, k=2)
    assert source.lexical_calls == 1


def test_condition_trust_needs_evidence_and_an_undecided_dense_ranking() -> None:
    ranker = HybridRanker(FusionSettings(condition_evidence=3.0, condition_spread=0.2))
    flat = np.array([0.60, 0.59, 0.58, 0.58, 0.57, 0.57, 0.56, 0.56, 0.55, 0.55], np.float32)
    peaked = np.array([0.90, 0.60, 0.58, 0.58, 0.57, 0.57, 0.56, 0.56, 0.55, 0.55], np.float32)
    assert ranker.condition_trust(0.0, flat) == 0.0  # the query says nothing about conditions
    much = ranker.condition_trust(10.0, flat)
    one = ranker.condition_trust(1.0, flat)
    assert 0.75 < much < 1.0 and 0.2 < one < 0.3  # one mention in a short question: little
    assert ranker.condition_trust(10.0, peaked) == 0.0  # one clear match: keep the dense order


def test_a_clear_dense_match_is_not_overturned_by_condition_agreement() -> None:
    # Post 0 is the same question in other words; posts 1-3 share the condition, not the intent.
    vectors = np.stack(
        [unit(1, 0.05, 0), unit(1, 0.9, 0.3), unit(1, 0.9, -0.3), unit(1, 1.0, 0), unit(0, 0, 1)]
    )
    conditions = np.array([[0, 0], [1, 0], [1, 0], [1, 0], [0, 1]], dtype=np.float32)
    source = FakeSource(vectors, conditions)
    query = QueryConditions(np.array([1.0, 0], np.float32), evidence=5.0)
    settings = FusionSettings(condition_weight=1.0, condition_feedback=0, lexical_weight=0)
    ranked = HybridRanker(settings).rank("q", unit(1, 0, 0), query, source, k=3)
    assert ids(ranked)[0] == 0
    untrusting = settings.model_copy(update={"condition_spread": 10.0})
    assert ids(HybridRanker(untrusting).rank("q", unit(1, 0, 0), query, source, k=3))[0] != 0


def test_rank_posts_reports_the_plain_similarity() -> None:
    centroid = VECTORS.mean(axis=0)
    source = FakeSource(VECTORS, CONDITIONS, centroid=centroid)
    ranked = HybridRanker().rank_posts("q", QUERY, None, source, k=4)
    for r in ranked:
        assert r.similarity == pytest.approx(float(VECTORS[r.post_id] @ QUERY), rel=1e-5)
    dense = HybridRanker().rank_posts("q", QUERY, None, source, k=2, mode="dense")
    assert [r.similarity for r in dense] == pytest.approx([r.score for r in dense])
    assert all(
        r.similarity is None
        for r in HybridRanker().rank_posts(
            "pump",
            QUERY,
            None,
            FakeSource(VECTORS, CONDITIONS, {"pump": [(1, 2.0)]}),
            k=2,
            mode="bm25",
        )
    )


def test_centring_removes_what_every_post_shares() -> None:
    # Two posts equally close to the query; the one that differs from the guild's mean in the
    # query's direction wins once the shared mean is removed.
    shared = unit(0, 1, 0)
    vectors = np.stack([unit(0.5, 1, 0), unit(0.45, 1, 0.3), unit(0, 1, 0.1), unit(0, 1, -0.1)])
    query = unit(1, 0.8, 0.1)
    plain = FusionSettings(centre_weight=0, lexical_weight=0, condition_weight=0)
    centred = plain.model_copy(update={"centre_weight": 1.0})
    source = FakeSource(vectors, np.zeros((4, 1)), centroid=shared)
    a = HybridRanker(plain).rank("q", query, None, source, k=4)
    b = HybridRanker(centred).rank("q", query, None, source, k=4)
    assert ids(a) != ids(b) or [s for _, s in a] != pytest.approx([s for _, s in b])
    no_centroid = FakeSource(vectors, np.zeros((4, 1)))
    assert HybridRanker(centred).rank("q", query, None, no_centroid, k=4) == HybridRanker(
        plain
    ).rank("q", query, None, no_centroid, k=4)


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
    assert settings.condition_weight == 1.0 and settings.lexical_weight == 0.05
