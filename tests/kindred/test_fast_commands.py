"""Commands that embed nothing never load the model; the embedder knows its shape without it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from knowledge.config import KindredSettings
from knowledge.embeddings import (
    DEFAULT_DIMENSION,
    DEFAULT_MODEL_NAME,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    describe_model_dir,
    packaged_model_path,
)
from knowledge.safety.assessment import SafetyAssessor
from knowledge.service import KnowledgeService
from tests.conftest import PHRASES_ONLY, make_settings
from tests.kindred.conftest import kindred, write_jsonl

POSTS = [
    {"id": "a", "text": "My CGM alarm wakes me at 3am", "author": "777", "channel": "555"},
    {"id": "b", "text": "Brain fog after covid lasted months", "author": "maya_lc"},
]


class ModelLoaded(AssertionError):
    pass


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the real model fails the test (commands run with the real, lazy embedder)."""

    def refuse(self: SentenceTransformerEmbedder) -> object:
        raise ModelLoaded("the embedding model was loaded")

    monkeypatch.setattr(SentenceTransformerEmbedder, "_load_model", refuse)


@pytest.fixture
def store(tmp_path: Path) -> KindredSettings:
    """A store whose vectors carry the real model's name and dimension (made by a fake)."""
    settings = make_settings(tmp_path / "data")
    fake = HashingEmbedder(dimension=DEFAULT_DIMENSION, name=DEFAULT_MODEL_NAME)
    service = KnowledgeService(settings, embedder=fake, safety=PHRASES_ONLY)
    try:
        from kindred.files.loading import load_file

        load_file(service, write_jsonl(tmp_path / "p.jsonl", POSTS), 43)
    finally:
        service.close()
    return settings


def test_the_embedder_knows_name_dimension_and_limit_without_loading(no_model: None) -> None:
    embedder = SentenceTransformerEmbedder()
    assert (embedder.name, embedder.dimension, embedder.max_tokens) == (
        DEFAULT_MODEL_NAME,
        384,
        256,
    )
    assert not embedder.loaded
    assert describe_model_dir(packaged_model_path()) == (384, 256)
    with pytest.raises(ModelLoaded):
        embedder.encode(["now it loads"])


def test_model_dir_description_follows_pooling_and_dense_layers(tmp_path: Path) -> None:
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "2_Dense").mkdir()
    kind = "sentence_transformers.models."
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": kind + "Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": kind + "Pooling"},
    ]
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 768}))
    pooling = {"word_embedding_dimension": 768, "pooling_mode_mean_tokens": True,
               "pooling_mode_max_tokens": True}  # fmt: skip
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    assert describe_model_dir(tmp_path) == (1536, None)
    dense = {"idx": 2, "name": "2", "path": "2_Dense", "type": kind + "Dense"}
    (tmp_path / "modules.json").write_text(json.dumps([*modules, dense]))
    (tmp_path / "2_Dense" / "config.json").write_text(json.dumps({"out_features": 256}))
    assert describe_model_dir(tmp_path) == (256, None)
    assert describe_model_dir(tmp_path / "nowhere") == (None, None)


def test_service_and_assessor_start_without_loading(store: KindredSettings, no_model: None) -> None:
    assessor = SafetyAssessor(SentenceTransformerEmbedder(), store.safety)
    service = KnowledgeService(store, safety=assessor)
    try:
        assert service.start() == 0
        assert service.stats(43).indexed_vectors == 2
    finally:
        service.close()


@pytest.mark.parametrize(
    "command",
    [
        ["stats"],
        ["stats", "--guild", "43", "--json"],
        ["members", "--guild", "43"],
        ["channels", "--guild", "43", "--json"],
        ["privacy", "export", "--guild", "43", "--member", "777"],
        ["privacy", "retention", "--guild", "43", "--days", "30", "--apply", "--yes"],
        ["privacy", "delete", "--guild", "43", "--member", "maya_lc", "--yes"],
    ],
)
def test_commands_that_embed_nothing_never_load_the_model(
    store: KindredSettings, no_model: None, command: list[str]
) -> None:
    result = kindred(*command, "--data-dir", store.storage.data_dir)
    assert result.exit_code == 0, result.output


def test_concurrent_first_uses_load_the_model_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    loads: list[int] = []

    class Model:
        def encode(self, texts: list[str], **kwargs: object) -> np.ndarray:
            return np.ones((len(texts), DEFAULT_DIMENSION), dtype=np.float32)

    def slow_load(self: SentenceTransformerEmbedder) -> Model:
        loads.append(1)
        time.sleep(0.05)
        return Model()

    monkeypatch.setattr(SentenceTransformerEmbedder, "_load_model", slow_load)
    embedder = SentenceTransformerEmbedder()
    threads = [threading.Thread(target=embedder.encode, args=(["x"],)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == [1] and embedder.loaded
