"""A guild's faiss index: vector id = post row id, removal, filtered search, and checked files.

Small guilds use an exact inner-product index; above `ivf_threshold` vectors the index is rebuilt as
IVF-Flat (with a hash direct map so removal stays cheap); a query scans `nprobe` lists or
`PROBE_SHARE` of them, whichever is more, so recall holds at 1M vectors. Every saved index records
the model name, dimension, vector count, highest post id, a checksum of (id, content hash) pairs
and a SHA-256 of the `.faiss` file itself (so of every stored vector's bytes, the ids and the
dimension). On load the file must match that stamp, hold exactly the recorded ids at the
configured dimension, and hold only finite vectors; anything else raises `IndexMismatch` and the
store rebuilds from SQL.

Saving streams: faiss writes straight to a temporary file beside the target (no in-memory copy of
the index), which is fsynced, hashed by reading it back in chunks, and renamed into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import math
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import faiss as _faiss
import numpy as np
import numpy.typing as npt

from knowledge.errors import IndexMismatch, StoreUnwritable
from knowledge.store.db import PRIVATE_FILE_MODE, writable

# faiss's bundled type hints are incomplete (SWIG): treat the module as untyped.
faiss: Any = _faiss

IdArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]

FORMAT_VERSION = 2  # 2: the stamp covers the .faiss file's bytes (1 covered ids and hashes only)
HASH_CHUNK = 1 << 20
CHECK_ROWS = 16_384
SIDECAR_CHUNK = 10_000
HASH_ENTRY_BYTES = 40  # std::unordered_map<int64, int64> node + bucket, libstdc++ on 64-bit
PY_INT_BYTES = 32  # a Python int object above the small-int cache, with allocator rounding
# IVF scans at least this share of its lists per query, so recall holds as the lists fill up. Chosen
# on half of the held-out real MiniLM queries among 1M clustered vectors (benchmarks/scale.py):
# recall@10 against exact search was 0.926 at 24 of 572 lists, 0.946 at 32 and 0.967 at 48 (1/12),
# 0.969 on the other half (a second build: 0.963 on all). `nprobe` (config) stays the floor.
PROBE_SHARE = 1 / 12
log = logging.getLogger(__name__)
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
    vectors_sha256: str = ""
    format: int = FORMAT_VERSION


def _checksum(keys: dict[int, int]) -> str:
    digest = hashlib.sha256()
    for post_id in sorted(keys):
        digest.update(post_id.to_bytes(8, "little", signed=True))
        digest.update(keys[post_id].to_bytes(8, "little", signed=False))
    return digest.hexdigest()


def _write_sidecar(path: Path, meta: IndexMeta, keys: dict[int, int]) -> None:
    """Write `{"meta": ..., "keys": {id: key}}` (mode 0600) atomically, keys a chunk at a time."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, PRIVATE_FILE_MODE)
    os.chmod(tmp, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f'{{"meta": {json.dumps(meta.__dict__)}, "keys": {{')
        items, separator = iter(keys.items()), ""
        while chunk := list(itertools.islice(items, SIDECAR_CHUNK)):
            handle.write(separator + ", ".join(f'"{i}": {k}' for i, k in chunk))
            separator = ", "
        handle.write("}}")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _sha256_file(path: Path, *, sync: bool = False) -> str:
    """SHA-256 of a file read in chunks (never whole); with `sync`, fsync it first."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        if sync:
            os.fsync(handle.fileno())
        for chunk in iter(lambda: handle.read(HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stored_blocks(index: Any) -> Iterator[tuple[IdArray, FloatArray]]:
    """(ids, vectors) of every stored vector as views into faiss's own memory (no copies)."""
    if isinstance(index, faiss.IndexIVF):
        lists = index.invlists
        for number in range(index.nlist):
            size = int(lists.list_size(number))
            if size:
                ids = faiss.rev_swig_ptr(lists.get_ids(number), size)
                codes = faiss.rev_swig_ptr(lists.get_codes(number), size * lists.code_size)
                yield ids, codes.view(np.float32).reshape(size, index.d)
        return
    flat = faiss.downcast_index(index.index)
    if index.ntotal:
        ids = faiss.rev_swig_ptr(index.id_map.data(), index.ntotal)
        vectors = faiss.rev_swig_ptr(flat.get_xb(), index.ntotal * index.d)
        yield ids, vectors.reshape(index.ntotal, index.d)


def _check_loaded(index: Any, dimension: int, keys: dict[int, int], where: Path) -> None:
    """IndexMismatch unless `index` is ours, of `dimension`, holds exactly `keys`, all finite."""
    if isinstance(index, faiss.IndexIVF):
        layout_ok = isinstance(index, faiss.IndexIVFFlat)
        layout_ok = layout_ok and index.invlists.code_size == 4 * index.d
    else:
        layout_ok = isinstance(index, faiss.IndexIDMap2) and isinstance(
            faiss.downcast_index(index.index), faiss.IndexFlat
        )
    if not layout_ok or index.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise IndexMismatch(f"index at {where} is not a Kindred index layout")
    if index.d != dimension:
        raise IndexMismatch(f"index at {where} holds {index.d}-d vectors, not {dimension}-d")
    if index.ntotal != len(keys):
        raise IndexMismatch(f"index at {where} holds {index.ntotal} vectors, not {len(keys)}")
    seen: list[IdArray] = []
    for ids, vectors in _stored_blocks(index):
        seen.append(np.array(ids, dtype=np.int64))
        for start in range(0, len(vectors), CHECK_ROWS):
            if not np.isfinite(vectors[start : start + CHECK_ROWS]).all():
                raise IndexMismatch(f"index at {where} holds vectors that are not finite")
    held = np.sort(np.concatenate(seen)) if seen else np.zeros(0, dtype=np.int64)
    wanted = np.sort(np.fromiter(keys, dtype=np.int64, count=len(keys)))
    if not np.array_equal(held, wanted):
        raise IndexMismatch(f"index at {where} holds other ids than its metadata lists")


class VectorIndex:
    """One guild's vectors. Not thread-safe by itself: the store serialises access."""

    def __init__(self, dimension: int, model: str, ivf_threshold: int = 20_000, nprobe: int = 24):
        self.dimension = dimension
        self.model = model
        self.ivf_threshold = ivf_threshold
        self.nprobe = nprobe
        self.probe_share = PROBE_SHARE
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

    @property
    def probes(self) -> int:
        """IVF lists scanned per query: `nprobe`, or `probe_share` of the lists when more."""
        return min(max(self.nprobe, math.ceil(self.nlist * self.probe_share)), max(self.nlist, 1))

    @property
    def nlist(self) -> int:
        """IVF lists (0 for the exact index)."""
        return int(self._index.nlist) if isinstance(self._index, faiss.IndexIVF) else 0

    def memory_bytes(self) -> dict[str, int]:
        """Estimated resident bytes: `faiss` (vectors, ids, centroids, id lookup) and `keys` (the
        Python id -> content-key map). The id lookup (faiss's hash direct map, or IDMap2's reverse
        map) is a C++ hash map, counted at HASH_ENTRY_BYTES per vector."""
        n, row = int(self._index.ntotal), 4 * self.dimension
        faiss_bytes = n * (row + 8 + HASH_ENTRY_BYTES) + self.nlist * row
        keys = sys.getsizeof(self._keys) + n * 2 * PY_INT_BYTES
        return {"faiss": faiss_bytes, "keys": keys}

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
        broken = np.logical_not(np.isfinite(matrix).all(axis=1, keepdims=True))
        if broken.any():  # a NaN would rank first for every query: store zeros (never first)
            log.warning("%d vectors were not finite; stored as zeros", int(broken.sum()))
            matrix = np.where(broken, np.float32(0), matrix).astype(np.float32)
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
        ids, scores = self._search(q, k, selector, self.probes)
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
        """Write `<path>.faiss` then `<path>.json` (mode 0600), each atomically, streaming.

        An OSError (read-only folder, disk full) or a faiss write error raises `StoreUnwritable`;
        the files already there stay whole.
        """
        target = path.with_suffix(".faiss")
        partial = target.with_name(target.name + ".tmp")
        if path.parent.is_dir() and not writable(path.parent):  # an admin's read-only folder
            raise StoreUnwritable(f"the index folder {path.parent} is read-only to Kindred")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, PRIVATE_FILE_MODE))
            os.chmod(partial, PRIVATE_FILE_MODE)
            faiss.write_index(self._index, str(partial))  # faiss truncates it, keeping the mode
            meta = replace(self.meta(), vectors_sha256=_sha256_file(partial, sync=True))
            os.replace(partial, target)
            _write_sidecar(path.with_suffix(".json"), meta, self._keys)
            _fsync_dir(path.parent)
        except (OSError, RuntimeError) as exc:
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise StoreUnwritable(
                f"cannot write the index files in {path.parent}: {reason}"
            ) from exc
        self.dirty = False

    @classmethod
    def load(
        cls, path: Path, dimension: int, model: str, ivf_threshold: int = 20_000, nprobe: int = 24
    ) -> VectorIndex:
        """Load a saved index; IndexMismatch if absent, damaged, inconsistent or another model's."""
        vectors_file = path.with_suffix(".faiss")
        try:
            payload = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
            meta = IndexMeta(**payload["meta"])
            keys = {int(k): int(v) for k, v in payload["keys"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise IndexMismatch(f"index files at {path} are missing or unreadable") from exc
        if meta.model != model or meta.dimension != dimension or meta.format != FORMAT_VERSION:
            raise IndexMismatch(
                f"index at {path} was built by {meta.model}/{meta.dimension} "
                f"(format {meta.format}), not {model}/{dimension} (format {FORMAT_VERSION})"
            )
        if meta.checksum != _checksum(keys) or meta.vectors != len(keys):
            raise IndexMismatch(f"index at {path} does not match its own metadata")
        try:
            if _sha256_file(vectors_file) != meta.vectors_sha256:
                raise IndexMismatch(f"vector file {vectors_file} does not match its checksum")
            index = faiss.read_index(str(vectors_file))
        except (OSError, RuntimeError) as exc:
            raise IndexMismatch(f"vector file {vectors_file} is missing or unreadable") from exc
        _check_loaded(index, dimension, keys, path)
        out = cls(dimension, model, ivf_threshold, nprobe)
        out._index = index
        out._keys = keys
        if isinstance(index, faiss.IndexIVF):
            index.nprobe = nprobe
        return out
