"""The vector index's size figures (issue 15, item 4): lists and memory per vector."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from knowledge.store.vector_index import VectorIndex


def _vectors(n: int, d: int, seed: int = 0) -> np.ndarray:
    matrix = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def _fill(index: VectorIndex, n: int) -> None:
    index.add(range(1, n + 1), _vectors(n, index.dimension), (f"{i:064x}" for i in range(n)))


def test_memory_bytes_counts_every_stored_vector_and_follows_removal() -> None:
    index = VectorIndex(32, "m")
    assert index.nlist == 0
    empty = index.memory_bytes()
    _fill(index, 500)
    full = index.memory_bytes()
    assert full["faiss"] - empty["faiss"] >= 500 * (32 * 4 + 8)  # the vectors and their ids
    assert full["keys"] > empty["keys"]
    index.remove(range(1, 251))
    assert index.memory_bytes()["faiss"] < full["faiss"]


def test_ivf_reports_its_lists_and_its_memory_is_at_least_the_saved_vectors(
    tmp_path: Path,
) -> None:
    index = VectorIndex(16, "m", ivf_threshold=1_000)
    _fill(index, 1_600)
    assert index.kind == "ivf"
    assert index.nlist == int(4 * np.sqrt(1_600))  # rebuilt once, at the add that crossed
    index.save(tmp_path / "g")
    saved = (tmp_path / "g.faiss").stat().st_size
    assert index.memory_bytes()["faiss"] >= saved
    loaded = VectorIndex.load(tmp_path / "g", 16, "m", ivf_threshold=1_000)
    assert loaded.nlist == index.nlist
    assert loaded.memory_bytes()["faiss"] == index.memory_bytes()["faiss"]


def test_ivf_scans_a_share_of_its_lists_not_fewer_than_nprobe() -> None:
    index = VectorIndex(16, "m", ivf_threshold=1_000, nprobe=1)
    _fill(index, 1_600)
    assert index.nlist == 160
    assert index.probes == 14  # 1/12 of 160 lists (rounded up), above the floor of 1
    index.nprobe = 40
    assert index.probes == 40
    index.nprobe, index.probe_share = 1, 1.0
    assert index.probes == 160
    queries = _vectors(20, 16, seed=5)
    exact = VectorIndex(16, "m")
    _fill(exact, 1_600)
    for query in queries:  # scanning every list is exact search: the rule reaches faiss
        assert index.search(query, 10)[0].tolist() == exact.search(query, 10)[0].tolist()


def test_the_exact_index_reports_no_lists() -> None:
    index = VectorIndex(8, "m")
    _fill(index, 100)
    assert (index.kind, index.nlist) == ("flat", 0)
