"""The faster embedders: ONNX Runtime exports agree with torch, bulk batches use their own threads.

Real model tests (loaded once per module) are marked slow; the ONNX ones skip with a message when
onnxruntime is not installed (pip install 'kindred[onnx]'). The hub is off throughout.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from knowledge.config import EmbeddingSettings, KindredSettings
from knowledge.embeddings import SentenceTransformerEmbedder, cpu_cores, resolve_threads
from knowledge.errors import ConfigError
from knowledge.onnx_embedder import (
    OnnxEmbedder,
    export_is_current,
    onnx_available,
    pooling_mode,
    source_fingerprint,
)
from knowledge.service import default_embedder

needs_onnx = pytest.mark.skipif(
    not onnx_available(), reason="onnxruntime is not installed (pip install 'kindred[onnx]')"
)

TEXTS = [
    "I was diagnosed with type 2 diabetes last month and I'm scared about my feet.",
    "Does anyone else get brain fog after a migraine? It lasts for days.",
    "My therapist suggested journaling for anxiety, has it helped anyone here?",
    "Short.",
    "word " * 400,  # longer than the model's 256 tokens: truncated the same way
    "Après la chimio, la fatigue est énorme — des conseils ?",
]


def settings_with(tmp_path: Path, **embedding: object) -> KindredSettings:
    base = KindredSettings().with_data_dir(tmp_path)
    return base.model_copy(update={"embedding": EmbeddingSettings(**embedding)})  # type: ignore[arg-type]


# -- configuration (no model) ---------------------------------------------------------------------


def test_defaults_stay_torch_with_bulk_on_every_core(tmp_path: Path) -> None:
    embedder = default_embedder(settings_with(tmp_path))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.name == "all-MiniLM-L6-v2"
    worker = embedder.bulk_worker
    if cpu_cores() > 1:
        assert worker is not None and (worker.processes, worker.threads) == (cpu_cores(), 1)
        assert not worker.running  # nothing starts before a bulk batch
    else:
        assert worker is None  # one core: the query thread is every core


def test_one_bulk_thread_means_no_worker(tmp_path: Path) -> None:
    embedder = default_embedder(settings_with(tmp_path, threads=1, bulk_threads=1))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.bulk_worker is None


def test_int8_needs_the_onnx_backend(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="backend"):
        default_embedder(settings_with(tmp_path, quantize="int8"))


def test_resolve_threads() -> None:
    assert resolve_threads(3) == 3
    assert resolve_threads(0) == cpu_cores() >= 1


@needs_onnx
def test_onnx_backend_is_selected_in_config_and_names_int8_apart(tmp_path: Path) -> None:
    fp32 = default_embedder(settings_with(tmp_path, backend="onnx", bulk_threads=2))
    int8 = default_embedder(settings_with(tmp_path, backend="onnx", quantize="int8"))
    assert isinstance(fp32, OnnxEmbedder) and isinstance(int8, OnnxEmbedder)
    # fp32 vectors are torch's: same name, same index; int8 differs: its own name, a rebuild.
    assert fp32.name == "all-MiniLM-L6-v2"
    assert int8.name == "all-MiniLM-L6-v2-int8"
    assert fp32.dimension == 384 and fp32.max_tokens == 256
    assert (fp32.threads, fp32.bulk_threads) == (1, 2)


def test_onnx_refuses_models_it_cannot_pool(tmp_path: Path) -> None:
    (tmp_path / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                {"idx": 2, "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
            ]
        )
    )
    with pytest.raises(ConfigError, match="torch"):
        pooling_mode(tmp_path)


# -- the real model -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    return SentenceTransformerEmbedder().encode(TEXTS)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def onnx_fp32(models_dir: Path) -> Iterator[OnnxEmbedder]:
    embedder = OnnxEmbedder(models_dir=models_dir, bulk_threads=2, bulk_min_texts=4)
    yield embedder
    embedder.close()


@pytest.mark.slow
@needs_onnx
def test_onnx_fp32_vectors_match_torch(onnx_fp32: OnnxEmbedder, torch_vectors: np.ndarray) -> None:
    vectors = onnx_fp32.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = (vectors * torch_vectors).sum(axis=1)
    assert cosine.min() >= 0.9999, cosine
    # One text at a time (the query session) gives the same rows as the batch (bulk session).
    single = np.vstack([onnx_fp32.encode([t]) for t in TEXTS[:3]])
    np.testing.assert_allclose(single, vectors[:3], atol=1e-5)


@pytest.mark.slow
@needs_onnx
def test_onnx_int8_agrees_with_torch(models_dir: Path, torch_vectors: np.ndarray) -> None:
    int8 = OnnxEmbedder(models_dir=models_dir, quantize="int8")
    cosine = (int8.encode(TEXTS) * torch_vectors).sum(axis=1)
    assert cosine.mean() >= 0.99, cosine
    assert int8.export_path.name == "all-MiniLM-L6-v2-int8.onnx"


@pytest.mark.slow
@needs_onnx
def test_onnx_sessions_have_their_own_threads(onnx_fp32: OnnxEmbedder) -> None:
    onnx_fp32.encode(TEXTS[:1])
    onnx_fp32.encode(TEXTS[:4])  # bulk_min_texts=4: the bulk session
    query, bulk = onnx_fp32.session("query"), onnx_fp32.session("bulk")
    assert query is not bulk
    assert query.get_session_options().intra_op_num_threads == 1
    assert bulk.get_session_options().intra_op_num_threads == 2


@pytest.mark.slow
@needs_onnx
def test_a_corrupt_or_stale_export_is_rebuilt(onnx_fp32: OnnxEmbedder, models_dir: Path) -> None:
    path = onnx_fp32.export_path
    fingerprint = source_fingerprint(onnx_fp32.model_path, "none")
    assert export_is_current(path, fingerprint)
    assert json.loads(path.with_suffix(".json").read_text())["fingerprint"] == fingerprint
    assert not export_is_current(path, "made-from-other-weights")
    with path.open("r+b") as handle:  # damage the file
        handle.seek(1000)
        handle.write(b"\0" * 64)
    assert not export_is_current(path, fingerprint)
    fresh = OnnxEmbedder(models_dir=models_dir)
    vectors = fresh.encode(TEXTS[:2])  # rebuilt, not loaded damaged
    assert export_is_current(path, fingerprint)
    assert vectors.shape == (2, 384)


@pytest.mark.slow
def test_torch_bulk_batches_run_in_a_worker_with_its_own_threads(
    torch_vectors: np.ndarray,
) -> None:
    import torch

    embedder = SentenceTransformerEmbedder(bulk_threads=2, bulk_min_texts=4, threads=1)
    worker = embedder.bulk_worker
    assert worker is not None and worker.processes == 2
    try:
        workers = worker.info()  # starts them and waits for the model
        assert all(pid != os.getpid() and threads == 1 for pid, threads in workers), workers
        vectors = embedder.encode(TEXTS)  # a bulk batch: encoded by the worker
        assert not embedder.loaded  # this process never loaded the model for it
        np.testing.assert_allclose(vectors, torch_vectors, atol=1e-5)
        embedder.encode(TEXTS[:1])  # a query: here, on one thread
        assert embedder.loaded and torch.get_num_threads() == 1
    finally:
        embedder.close()
    assert not worker.running


@pytest.mark.slow
@needs_onnx
def test_a_service_on_the_onnx_backend_indexes_and_finds(
    tmp_path: Path, onnx_fp32: OnnxEmbedder
) -> None:
    from knowledge.scope import SearchScope
    from knowledge.service import KnowledgeService
    from tests.conftest import GUILD, PHRASES_ONLY, enable_open, post

    models = tmp_path / "data" / "models"
    models.mkdir(parents=True)
    for source in (onnx_fp32.export_path, onnx_fp32.export_path.with_suffix(".json")):
        (models / source.name).write_bytes(source.read_bytes())  # the export is reused, not redone
    settings = settings_with(tmp_path / "data", backend="onnx", bulk_min_texts=2)
    service = KnowledgeService(settings, safety=PHRASES_ONLY)
    try:
        assert isinstance(service.embedder, OnnxEmbedder)
        assert service.store.model_name == "all-MiniLM-L6-v2"
        enable_open(service, GUILD, 1)
        service.ingest([post(f"p{i}", text) for i, text in enumerate(TEXTS[:3])])
        scope = SearchScope(guild_id=GUILD, readable_channel_ids=frozenset({1}), asker_id=99)
        hits = service.search("foot problems with diabetes", scope, limit=3)
        assert hits and hits[0].external_id == "p0"
    finally:
        service.close()


def test_a_quantised_embedder_keeps_the_shipped_crisis_weights() -> None:
    """int8 vectors agree with their source model's, so the shipped classifier serves them; an
    unrelated model of the same dimension gets no shipped weights."""
    from knowledge.safety.model import model_for, shipped_model

    loaded = shipped_model()
    assert loaded is not None
    shipped = loaded

    class Quantised:
        name = f"{shipped.embedder_name}-int8"
        source_name = shipped.embedder_name
        dimension = shipped.dimension

    class Other:
        name = "another-model"
        dimension = shipped.dimension

        def encode(self, texts: object) -> object:
            raise AssertionError("training would embed; the test only checks the choice")

    chosen = model_for(Quantised())  # type: ignore[arg-type]
    assert (chosen.embedder_name, chosen.digest) == (shipped.embedder_name, shipped.digest)
    assert np.array_equal(chosen.coef, shipped.coef)
    with pytest.raises(AssertionError, match="training would embed"):
        model_for(Other())  # type: ignore[arg-type]
