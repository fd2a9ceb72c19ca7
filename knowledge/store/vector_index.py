"""A guild's faiss index: vector id = post row id, removal, filtered search, and checked files.

Small guilds use an exact inner-product index; above `ivf_threshold` vectors the index is rebuilt as
IVF-Flat (with a hash direct map so removal stays cheap). Every saved index records the model name,
dimension, vector count, highest post id and a checksum of (id, content hash) pairs, so a stale or
mismatched file is caught on load and caught up from SQL, which is the truth.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss as _faiss
import numpy as np
import numpy.typing as npt

from knowledge.errors import IndexMismatch
from knowledge.store.db import PRIVATE_FILE_MODE

# faiss's bundled type hints are incomplete (SWIG): treat the module as untyped.
faiss: Any = _faiss

IdArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]

FORMAT_VERSION = 1
faiss.omp_set_num_threads(1)  # measured: OpenMP threads make single queries slower on 2 cores


def hash_key(content_hash: str) -> int:
    """The first 63 bits of a hex content hash, as stored beside each vector."""
    return int(content_hash[:16], 16) & 0x7FFF_FFFF_FFFF_FFFF


@dataclass(frozen=True)
class IndexMeta:
    model: str
    dimension: int
    vectors: int
    max_post_id: int
    kind: str
    checksum: str
    format: int = FORMAT_VERSION


def _checksum(keys: dict[int, int]) -> str:
    digest = hashlib.sha256()
    for post_id in sorted(keys):
        digest.update(post_id.to_bytes(8, "little", signed=True))
        digest.update(keys[post_id].to_bytes(8, "little", signed=False))
    return digest.hexdigest()


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class VectorIndex:
    """One guild's vectors. Not thread-safe by itself: the store serialises access."""

    def __init__(self, dimension: int, model: str, ivf_threshold: int = 20_000, nprobe: int = 24):
        self.dimension = dimension
        self.model = model
        self.ivf_threshold = ivf_threshold
        self.nprobe = nprobe
        self._keys: dict[int, int] = {}
        self._index: faiss.Index = self._new_flat()
        self.dirty = False

    def _new_flat(self) -> faiss.Index:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dimension))

    @property
    def kind(self) -> str:
        return "ivf" if isinstance(self._index, faiss.IndexIVF) else "flat"

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, post_id: int) -> bool:
        return post_id in self._keys

    def keys(self) -> dict[int, int]:
        """post id -> content-hash key of the vector held for it."""
        return dict(self._keys)

    def add(self, ids: Iterable[int], vectors: FloatArray, content_hashes: Iterable[str]) -> None:
        """Insert or replace vectors for `ids`."""
        id_array = np.fromiter(ids, dtype=np.int64)
        if len(id_array) == 0:
            return
        matrix = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(id_array), -1)
        if matrix.shape[1] != self.dimension:
            raise IndexMismatch(f"vector dimension {matrix.shape[1]} != index {self.dimension}")
        self.remove(int(i) for i in id_array if int(i) in self._keys)
        self._index.add_with_ids(matrix, id_array)
        for post_id, digest in zip(id_array.tolist(), content_hashes, strict=True):
            self._keys[post_id] = hash_key(digest)
        self.dirty = True
        if self.kind == "flat" and len(self._keys) > self.ivf_threshold:
            self._rebuild_as_ivf()

    def remove(self, ids: Iterable[int]) -> int:
        present = [i for i in ids if i in self._keys]
        if not present:
            return 0
        removed = int(self._index.remove_ids(np.asarray(present, dtype=np.int64)))
        for post_id in present:
            del self._keys[post_id]
        self.dirty = True
        return removed

    def reconstruct(self, ids: IdArray) -> FloatArray:
        """Stored vectors of `ids` (every id must be present)."""
        if len(ids) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self._index.reconstruct_batch(np.asarray(ids, dtype=np.int64)))

    def search(
        self, query: FloatArray, k: int, allowed: IdArray | None = None
    ) -> tuple[IdArray, FloatArray]:
        """Top-k ids by inner product, restricted inside faiss to `allowed` ids when given."""
        if not self._keys or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if allowed is not None and len(allowed) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        k = min(k, len(self._keys))
        bitmap: npt.NDArray[np.uint8] | None = None
        selector = None
        if allowed is not None:
            bits = np.zeros(int(allowed.max()) + 1, dtype=bool)
            bits[allowed] = True
            bitmap = np.packbits(bits, bitorder="little")
            selector = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
        wanted = k if allowed is None else min(k, len(allowed))
        ids, scores = self._search(q, k, selector, self.nprobe)
        if self.kind == "ivf" and len(ids) < wanted:
            nlist = int(faiss.extract_index_ivf(self._index).nlist)
            ids, scores = self._search(q, k, selector, nlist)
        del bitmap  # the selector borrows this buffer until here
        return ids, scores

    def _search(
        self, q: FloatArray, k: int, selector: object | None, nprobe: int
    ) -> tuple[IdArray, FloatArray]:
        if self.kind == "ivf":
            params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
        else:
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
        scores, ids = self._index.search(q, k, params=params)
        keep = ids[0] >= 0
        return ids[0][keep].astype(np.int64), scores[0][keep].astype(np.float32)

    def _all_vectors(self) -> tuple[IdArray, FloatArray]:
        ids = np.fromiter(self._keys.keys(), dtype=np.int64)
        return ids, self.reconstruct(ids)

    def _rebuild_as_ivf(self) -> None:
        ids, vectors = self._all_vectors()
        nlist = max(16, int(4 * math.sqrt(len(ids))))
        quantizer = faiss.IndexFlatIP(self.dimension)
        ivf = faiss.IndexIVFFlat(quantizer, self.dimension, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = vectors[np.random.default_rng(0).permutation(len(ids))[: nlist * 64]]
        ivf.train(sample)
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
        ivf.add_with_ids(vectors, ids)
        ivf.nprobe = self.nprobe
        self._index = ivf
        self.dirty = True

    def meta(self) -> IndexMeta:
        return IndexMeta(
            model=self.model,
            dimension=self.dimension,
            vectors=len(self._keys),
            max_post_id=max(self._keys, default=0),
            kind=self.kind,
            checksum=_checksum(self._keys),
        )

    def save(self, path: Path) -> None:
        """Write `<path>.faiss` and `<path>.json` (mode 0600), atomically each."""
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = faiss.serialize_index(self._index).tobytes()
        _write_private(path.with_suffix(".faiss"), blob)
        keys = {str(k): v for k, v in self._keys.items()}
        payload = {"meta": self.meta().__dict__, "keys": keys}
        _write_private(path.with_suffix(".json"), json.dumps(payload).encode("utf-8"))
        self.dirty = False

    @classmethod
    def load(
        cls, path: Path, dimension: int, model: str, ivf_threshold: int = 20_000, nprobe: int = 24
    ) -> VectorIndex:
        """Load a saved index; IndexMismatch when absent, corrupt or from another model."""
        try:
            payload = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
            raw = np.frombuffer(path.with_suffix(".faiss").read_bytes(), dtype=np.uint8)
            meta = IndexMeta(**payload["meta"])
            keys = {int(k): int(v) for k, v in payload["keys"].items()}
            index = faiss.deserialize_index(raw)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise IndexMismatch(f"index files at {path} are missing or unreadable") from exc
        if meta.model != model or meta.dimension != dimension or meta.format != FORMAT_VERSION:
            raise IndexMismatch(
                f"index at {path} was built by {meta.model}/{meta.dimension}, "
                f"not {model}/{dimension}"
            )
        if meta.checksum != _checksum(keys) or index.ntotal != len(keys):
            raise IndexMismatch(f"index at {path} does not match its own metadata")
        out = cls(dimension, model, ivf_threshold, nprobe)
        out._index = index
        out._keys = keys
        if isinstance(index, faiss.IndexIVF):
            index.nprobe = nprobe
        return out
