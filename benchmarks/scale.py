"""The vector index at scale: memory per post, load time, search latency, recall, ingest under load.

    python benchmarks/scale.py                      # 1,000,000 posts, every part (~30 min, 2 cores)
        --posts N           posts in the one big guild (default 1000000)
        --part  comma-separated, from recall, build, latency, postgres, ingest; or all (default)
        --queries-repeats R searches per query text in the latency part (default 10)
        --ingest-posts M    posts ingested while searches run (default 100000)
        --preload P         posts in the ingest part's guild before it starts (default 21000)
        --searchers S       concurrent searching threads during that ingest (default 20)
        --torch-like-ms T   ingest part: throughput.py's torch-like embedder (T ms per text,
                            GIL released) instead of the pure-Python HashingEmbedder
        --pg-repeats R      passes over the queries in the postgres part (default 1)
        --cache DIR         where real MiniLM vectors are cached (default /tmp/kindred-scale-cache)

Data (said again in the JSON):
- Real posts: rmhd27-dev posts and mqp-dev questions (../shared/data), embedded once by the
  packaged all-MiniLM-L6-v2 (knowledge.embeddings.SentenceTransformerEmbedder) and cached as .npy.
  Every tenth real vector is held out as a query; the rest are stored posts.
- Size: the big guild holds the stored real posts (their real text and real vectors) plus
  synthetic posts up to `--posts`. Synthetic text = 1-4 sentences drawn at random from the real
  posts (so word frequencies are those of real text); synthetic vectors are *clustered*: 1,000
  centres, each a real MiniLM vector moved by Gaussian noise, and each point a centre plus noise,
  normalised (the same region of the sphere as the real vectors, so they crowd the real queries).
  Rows are written straight into the store's own tables (`post`, whose triggers fill FTS5, and
  `postvector`) through SQLAlchemy Core in batches: no embedding model for 1M rows.

Parts:
recall:   IVF at the production settings (nlist = 4*sqrt(n), nprobe from config) against exact
          search (IndexFlatIP) on the real vectors alone: recall@10 of the held-out real queries.
build:    the SQLite store of `--posts` rows; then the guild's faiss index is built from SQL (the
          store's own catch-up, as on a first start: no re-embedding), saved, and loaded again from
          its file in a fresh store (SHA-256 check, layout check, reconcile against SQL); times of
          both, index kind, nlist, `VectorIndex.memory_bytes()` and the resident-set growth of the
          load, per post; the catalog's bytes per post. recall@10 of the store's index (IVF as
          built by the production path) against exact search over the same set of vectors, for
          the held-out real queries, unfiltered.
latency:  the whole `KnowledgeService.search` (clean, embed the query with the real model, scope
          mask from the catalog, faiss, FTS5, fusion, rows, snippets) on the big store, the
          asker reading 9 of 10 channels; p50/p95/p99 over the query set, and their ratios to
          the p50 of embedding the query alone (measured interleaved, same process). Target:
          p95 at most 3x.
postgres: the same posts' text in PostgreSQL (a private cluster, tests/postgres.py; the store's
          migrations; GIN over to_tsvector('english', content)), and the same full-text search
          (`ranked_matches` with the same scope conditions and depth as the service) timed on
          PostgreSQL and on the SQLite store side by side. pgvector is not measured: Debian
          bookworm packages no pgvector, so vectors stay in faiss.
ingest:   a fresh SQLite store with HashingEmbedder (384-d, the fast fake: the model would take
          ~1 h for 100k posts on 2 cores; or `--torch-like-ms`) and phrase-only safety,
          `--preload` posts, then
          `--searchers` threads each searching (hybrid, limit 25) once a second, idle for 20 s,
          then while one `service.ingest` of `--ingest-posts` posts runs. No search or ingest may
          fail; busy p95 at most 5x idle p95; at the end the post count in SQL, the FTS5 rows and
          the faiss vectors (and the catalog) must all be equal.

The machine may be shared: compare the ratios (measured side by side), not absolute times. The
last line printed is one JSON object; the exit status is 1 when a target was missed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import random
import re
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.synthetic import QUERIES  # noqa: E402
from benchmarks.throughput import (  # noqa: E402
    CHANNELS,
    GUILD,
    TorchLikeEmbedder,
    child_figures,
    concurrency_texts,
    new_service,
    percentile,
    records,
)
from knowledge.config import KindredSettings  # noqa: E402
from knowledge.embeddings import HashingEmbedder, SentenceTransformerEmbedder  # noqa: E402
from knowledge.safety.assessment import SafetyAssessor  # noqa: E402
from knowledge.scope import SearchScope  # noqa: E402
from knowledge.search.retrieval import StoreCandidates  # noqa: E402
from knowledge.service import KnowledgeService  # noqa: E402
from knowledge.store.models import Post, PostKind, PostVector  # noqa: E402
from knowledge.store.vector_index import VectorIndex  # noqa: E402
from knowledge.text import content_hash  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
REAL_SOURCES = (SHARED / "rmhd27-dev" / "posts.jsonl", SHARED / "mqp-dev" / "corpus.jsonl")
T0 = datetime(2024, 1, 1, tzinfo=UTC)
K = 10
RECALL_TARGET = 0.95
P95_RATIO_TARGET = 3.0
BUSY_RATIO_TARGET = 5.0
BATCH = 10_000
CLUSTERS = 1000
PARTS = ("recall", "build", "latency", "postgres", "ingest")


# -- real vectors and synthetic data -----------------------------------------------------------


def real_texts() -> list[str]:
    texts: list[str] = []
    for source in REAL_SOURCES:
        if source.exists():
            texts += [json.loads(line)["text"] for line in source.open(encoding="utf-8")]
    if not texts:
        raise SystemExit("the real posts (../shared/data/rmhd27-dev, mqp-dev) are not present")
    return [t for t in dict.fromkeys(t.strip() for t in texts) if t]


def real_vectors(cache: Path) -> tuple[list[str], np.ndarray, str, int]:
    """Real posts and their MiniLM vectors (cached under `cache`), the model name and dimension."""
    texts = real_texts()
    embedder = SentenceTransformerEmbedder(batch_size=32, threads=2)
    digest = hashlib.sha256("\n".join([embedder.name, *texts]).encode()).hexdigest()[:16]
    path = cache / f"real-{digest}.npy"
    if path.exists():
        vectors = np.load(path)
    else:
        print(f"Embedding {len(texts)} real posts once (cached at {path}) ...", flush=True)
        started = time.perf_counter()
        vectors = np.asarray(embedder.encode(texts), dtype=np.float32)
        print(f"  {time.perf_counter() - started:.0f} s", flush=True)
        cache.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
    return texts, vectors, embedder.name, int(vectors.shape[1])


def split_real(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(stored rows, held-out query rows): every tenth real vector is a query."""
    rows = np.arange(n)
    return rows[rows % 10 != 0], rows[rows % 10 == 0]


def normalised(matrix: np.ndarray) -> np.ndarray:
    matrix = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.ascontiguousarray(matrix, dtype=np.float32)


class SyntheticData:
    """Clustered vectors around real ones, and sentence-mix texts from real posts (seeded)."""

    def __init__(self, real: np.ndarray, texts: Sequence[str], seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        d = real.shape[1]
        picks = real[rng.integers(0, len(real), CLUSTERS)]
        self.centres = normalised(picks + rng.normal(0, 0.5 / math.sqrt(d), picks.shape))
        self.d = d
        sentences = [s for t in texts for s in re.split(r"(?<=[.!?])\s+", t) if len(s) > 20]
        self.sentences = sentences

    def vectors(self, n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        centre = self.centres[rng.integers(0, CLUSTERS, n)]
        return normalised(centre + rng.normal(0, 0.8 / math.sqrt(self.d), (n, self.d)))

    def texts(self, n: int, seed: int) -> list[str]:
        rng = random.Random(seed)
        return [
            " ".join(rng.choice(self.sentences) for _ in range(rng.randint(1, 4)))[:1800]
            for _ in range(n)
        ]


# -- recall ---------------------------------------------------------------------------------------


def exact_top(base: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    """Ids (row numbers) of the exact top-k by inner product, in chunks of the base."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(base), 200_000):
        scores = queries @ base[start : start + 200_000].T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        best_scores = np.hstack([best_scores, np.take_along_axis(scores, top, 1)])
        best_ids = np.hstack([best_ids, top + start])
        keep = np.argsort(-best_scores, axis=1)[:, :k]
        best_scores = np.take_along_axis(best_scores, keep, 1)
        best_ids = np.take_along_axis(best_ids, keep, 1)
    return best_ids


def recall_at_k(index: VectorIndex, queries: np.ndarray, truth: np.ndarray) -> float:
    """Mean |approximate top-k ∩ exact top-k| / k over the queries (ids as stored)."""
    found = [
        len(set(index.search(q, K)[0].tolist()) & set(truth[i].tolist())) / K
        for i, q in enumerate(queries)
    ]
    return float(np.mean(found))


def recall_real(real: np.ndarray, model: str, nprobe: int) -> dict[str, object]:
    stored, held = split_real(len(real))
    index = VectorIndex(real.shape[1], model, ivf_threshold=1000, nprobe=nprobe)
    index.add(stored.tolist(), real[stored], (f"{i:064x}" for i in stored))
    truth = stored[exact_top(real[stored], real[held])]
    return {
        "stored_real_vectors": len(stored),
        "held_out_queries": len(held),
        "index": index.kind,
        "nlist": index.nlist,
        "nprobe_floor": nprobe,
        "lists_scanned": index.probes,
        "recall_at_10": round(recall_at_k(index, real[held], truth), 4),
    }


# -- the big store --------------------------------------------------------------------------------


def rss_mb() -> float:
    """This process's current resident set (not the peak)."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def post_rows(
    texts: Sequence[str], start: int, ids: bool, vectors: list[bytes] | None, model: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    posts, vecs = [], []
    for i, text in enumerate(texts):
        n = start + i
        digest = content_hash(text)
        row: dict[str, Any] = {
            "guild_id": GUILD,
            "external_id": f"s{n}",
            "channel_id": CHANNELS[n % len(CHANNELS)],
            "thread_id": None,
            "author_id": 1000 + n % 5000,
            "reply_to": None,
            "kind": PostKind.MESSAGE.value,
            "created_at": T0 + timedelta(seconds=30 * n),
            "edited_at": None,
            "content": text,
            "content_hash": digest,
            "truncated": False,
            "hidden": False,
            "curated": False,
            "crisis_level": "none",
            "ingested_at": T0,
        }
        if ids:
            row["id"] = n + 1
        posts.append(row)
        if vectors is not None:
            vecs.append(
                {"post_id": n + 1, "content_hash": digest, "model": model, "vector": vectors[i]}
            )
    return posts, vecs


def big_corpus(
    n: int, texts: list[str], real: np.ndarray, synthetic: SyntheticData
) -> Iterator[tuple[int, list[str], np.ndarray, np.ndarray]]:
    """Batches of (start, texts, vectors, real rows there) of the n-post guild: the stored real
    posts at fixed random positions among synthetic ones."""
    stored, _ = split_real(len(real))
    rng = np.random.default_rng(11)
    where = np.sort(rng.choice(n, size=min(len(stored), n), replace=False))
    real_at = dict(zip(where.tolist(), stored[: len(where)].tolist(), strict=True))
    for start in range(0, n, BATCH):
        size = min(BATCH, n - start)
        batch_texts = synthetic.texts(size, seed=start)
        batch_vectors = synthetic.vectors(size, seed=start)
        marks = []
        for offset in range(size):
            row = real_at.get(start + offset)
            if row is not None:
                batch_texts[offset] = texts[row]
                batch_vectors[offset] = real[row]
                marks.append(start + offset)
        yield start, batch_texts, batch_vectors, np.asarray(marks, dtype=np.int64)


def bulk_write(
    engine: sa.Engine, n: int, batches: Iterator[Any], model: str, *, vectors: bool, ids: bool
) -> float:
    """Write every batch into `post` (and `postvector`); returns seconds taken."""
    post_table = Post.__table__  # type: ignore[attr-defined]
    vector_table = PostVector.__table__  # type: ignore[attr-defined]
    started = time.perf_counter()
    done = 0
    for start, batch_texts, batch_vectors, _ in batches:
        blobs = [v.tobytes() for v in batch_vectors] if vectors else None
        posts, vecs = post_rows(batch_texts, start, ids, blobs, model)
        with engine.begin() as connection:
            connection.execute(post_table.insert(), posts)
            if vecs:
                connection.execute(vector_table.insert(), vecs)
        done += len(posts)
        if done % 100_000 == 0 or done == n:
            rate = done / (time.perf_counter() - started)
            print(f"  {done} posts written ({rate:.0f}/s)", flush=True)
    return time.perf_counter() - started


def service_for(
    data_dir: Path, embedder: object, database_url: str | None = None, **index: int
) -> KnowledgeService:
    settings = KindredSettings().with_data_dir(data_dir)
    if database_url is not None:
        settings = settings.model_copy(
            update={"storage": settings.storage.model_copy(update={"database_url": database_url})}
        )
    if index:
        settings = settings.model_copy(
            update={"vector_index": settings.vector_index.model_copy(update=index)}
        )
    return KnowledgeService(settings, embedder=embedder)  # type: ignore[arg-type]


def load_child(data_dir: Path) -> dict[str, float]:
    """In a fresh process: open the store and load the guild's saved index; time and RSS growth."""
    service = service_for(data_dir, SentenceTransformerEmbedder())  # lazy: never loaded here
    before = rss_mb()
    started = time.perf_counter()
    index = service.store.vector_index(GUILD)  # the saved file: checked, loaded, reconciled
    seconds = time.perf_counter() - started
    growth = rss_mb() - before
    assert not index.dirty, "the saved index was rejected and rebuilt"
    service.close()
    return {"seconds": seconds, "rss_growth_mb": growth, "vectors": len(index)}


def load_in_child(data_dir: Path) -> dict[str, float]:
    return child_figures(__file__, "--load-child", str(data_dir))


def build_store(
    data_dir: Path, n: int, texts: list[str], real: np.ndarray, model: str, embedder: object
) -> dict[str, object]:
    """Write n posts into a new SQLite store; build, save and load its index; figures."""
    synthetic = SyntheticData(real, texts)
    service = new_service(data_dir, embedder)  # migrations, the guild, 10 enabled channels
    engine = service.store.engine
    print(f"Writing {n} posts and vectors into SQLite ...", flush=True)
    write_seconds = bulk_write(
        engine, n, big_corpus(n, texts, real, synthetic), model, vectors=True, ids=True
    )
    service.close()
    db_bytes = (data_dir / "kindred.db").stat().st_size

    service = service_for(data_dir, embedder)
    store = service.store
    before = rss_mb()
    started = time.perf_counter()
    index = store.vector_index(GUILD)  # no file yet: built from postvector rows
    rebuild_seconds = time.perf_counter() - started
    rebuild_rss = rss_mb() - before
    started = time.perf_counter()
    store.save_indexes()
    save_seconds = time.perf_counter() - started
    files = {p.suffix: p.stat().st_size for p in store.index_dir.iterdir()}
    kind, nlist = index.kind, index.nlist
    del index
    service.close()
    del service, store

    loaded = load_in_child(data_dir)
    load_seconds, load_rss = float(loaded["seconds"]), float(loaded["rss_growth_mb"])
    service = service_for(data_dir, embedder)
    index = service.store.vector_index(GUILD)  # the saved file: checked, loaded, reconciled
    memory = index.memory_bytes()
    started = time.perf_counter()
    catalog = service.store.catalog(GUILD)
    catalog_seconds = time.perf_counter() - started
    columns = catalog.columns()
    catalog_bytes = sum(
        getattr(columns, name).nbytes
        for name in ("ids", "channel", "thread", "author", "created", "flags", "alive")
    )
    posts = len(index)
    figures: dict[str, object] = {
        "posts": n,
        "indexed_vectors": posts,
        "write_seconds": round(write_seconds, 1),
        "write_posts_per_s": round(n / write_seconds),
        "database_bytes_per_post": round(db_bytes / n),
        "index": kind,
        "nlist": nlist,
        "nprobe": service.settings.vector_index.ivf_nprobe,
        "rebuild_from_sql_seconds": round(rebuild_seconds, 1),
        "rebuild_rss_growth_mb": round(rebuild_rss),
        "save_seconds": round(save_seconds, 1),
        "load_from_file_seconds": round(load_seconds, 1),
        "load_over_rebuild": round(load_seconds / rebuild_seconds, 3),
        "index_file_bytes_per_post": round(files.get(".faiss", 0) / n, 1),
        "keys_file_bytes_per_post": round(files.get(".json", 0) / n, 1),
        "index_memory_bytes": memory,
        "index_faiss_bytes_per_post": round(memory["faiss"] / posts, 1),
        "index_total_bytes_per_post": round(sum(memory.values()) / posts, 1),
        "load_rss_growth_bytes_per_post_fresh_process": round(load_rss * 2**20 / posts, 1),
        "catalog_bytes_per_post": round(catalog_bytes / max(len(catalog), 1), 1),
        "catalog_load_seconds": round(catalog_seconds, 1),
    }
    service.close()
    return figures


def recall_big(
    data_dir: Path, n: int, texts: list[str], real: np.ndarray, model: str, embedder: object
) -> dict[str, object]:
    """recall@10 of the store's (production-built) index vs exact search over its vectors."""
    synthetic = SyntheticData(real, texts)
    _, held = split_real(len(real))
    queries = real[held]
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    for start, _, batch_vectors, _ in big_corpus(n, texts, real, synthetic):
        scores = queries @ batch_vectors.T
        top = np.argpartition(-scores, K - 1, axis=1)[:, :K]
        best_scores = np.hstack([best_scores, np.take_along_axis(scores, top, 1)])
        best_ids = np.hstack([best_ids, top + start + 1])  # post id = row + 1
        keep = np.argsort(-best_scores, axis=1)[:, :K]
        best_scores = np.take_along_axis(best_scores, keep, 1)
        best_ids = np.take_along_axis(best_ids, keep, 1)
    service = service_for(data_dir, embedder)
    index = service.store.vector_index(GUILD)
    figures: dict[str, object] = {
        "queries": len(queries),
        "index": index.kind,
        "nlist": index.nlist,
    }
    sweep = {}
    tune, odd = slice(0, None, 2), slice(1, None, 2)  # even queries tune, odd ones are held out
    rule, index.probe_share = index.probe_share, 0.0
    for nprobe in sorted({index.nprobe, 8, 16, 32, 48, 64}):
        index.nprobe = nprobe
        started = time.perf_counter()
        tuned = recall_at_k(index, queries[tune], best_ids[tune])
        held_out = recall_at_k(index, queries[odd], best_ids[odd])
        per_query = 1000 * (time.perf_counter() - started) / len(queries)
        sweep[str(nprobe)] = {
            "recall_tune_half": round(tuned, 4),
            "recall_held_out_half": round(held_out, 4),
            "faiss_ms_per_query": round(per_query, 2),
        }
    index.nprobe, index.probe_share = service.settings.vector_index.ivf_nprobe, rule
    started = time.perf_counter()
    production = recall_at_k(index, queries, best_ids)
    per_query = 1000 * (time.perf_counter() - started) / len(queries)
    figures.update(
        nprobe_floor=index.nprobe,
        probe_share=rule,
        lists_scanned=index.probes,
        recall_at_10=round(production, 4),
        recall_at_10_held_out_half=round(recall_at_k(index, queries[odd], best_ids[odd]), 4),
        faiss_ms_per_query=round(per_query, 2),
        nprobe_sweep=sweep,
    )
    service.close()
    return figures


# -- latency --------------------------------------------------------------------------------------


def search_latency(data_dir: Path, repeats: int, agreement_queries: int) -> dict[str, object]:
    real = SentenceTransformerEmbedder(batch_size=32)
    service = service_for(data_dir, real)
    started = time.perf_counter()
    service.start()
    start_seconds = time.perf_counter() - started
    scope = SearchScope(
        guild_id=GUILD, readable_channel_ids=frozenset(CHANNELS[:-1]), asker_id=1001
    )
    started = time.perf_counter()
    service.search(QUERIES[0], scope, limit=25)
    first_seconds = time.perf_counter() - started
    for query in QUERIES:
        service.search(query, scope, limit=25)
    embed_ms, search_ms, lexical, dense, mask = [], [], [], [], []
    budget = service.settings.search.full_text_budget
    depth = service.settings.search.fusion
    for _ in range(repeats):
        for query in QUERIES:
            started = time.perf_counter()
            vector = real.encode([query])[0]
            embed_ms.append(1000 * (time.perf_counter() - started))
            started = time.perf_counter()
            hits = service.search(query, scope, limit=25)
            search_ms.append(1000 * (time.perf_counter() - started))
            assert len(hits) == 25
            # The parts alone (the raw scope; the service adds consent to it), for the breakdown.
            source = StoreCandidates(service.store, scope, budget=budget)
            started = time.perf_counter()
            source.allowed()
            mask.append(1000 * (time.perf_counter() - started))
            started = time.perf_counter()
            source.dense(vector.reshape(1, -1), depth.dense_depth)
            dense.append(1000 * (time.perf_counter() - started))
            started = time.perf_counter()
            source._lexical(query, depth.lexical_depth)
            lexical.append(1000 * (time.perf_counter() - started))
    embed = percentile(embed_ms, 50)
    figures: dict[str, object] = {
        "posts": len(service.store.vector_index(GUILD)),
        "index": service.store.vector_index(GUILD).kind,
        "searches": len(search_ms),
        "start_seconds": round(start_seconds, 1),
        "first_search_seconds": round(first_seconds, 1),
        "embed_query_p50_ms": round(embed, 2),
    }
    for q in (50, 95, 99):
        figures[f"search_p{q}_ms"] = round(percentile(search_ms, q), 2)
        figures[f"search_p{q}_over_embed_p50"] = round(percentile(search_ms, q) / embed, 3)
    for name, values in (("scope_mask", mask), ("faiss", dense), ("full_text", lexical)):
        figures[f"{name}_alone_p50_ms"] = round(percentile(values, 50), 2)
        figures[f"{name}_alone_p95_ms"] = round(percentile(values, 95), 2)
    figures["full_text_budget"] = service.settings.search.full_text_budget
    figures["budget_agreement"] = budget_agreement(service, scope, agreement_queries)
    service.close()
    return figures


def budget_agreement(service: KnowledgeService, scope: SearchScope, n: int) -> dict[str, object]:
    """What the full-text budget changes: the top 10 of the whole search with the configured
    budget against no budget (every match ranked), side by side, for n held-out real posts used
    as queries (long texts: the post-to-post case, where most terms are common)."""
    texts = real_texts()
    _, held = split_real(len(texts))
    queries = [texts[i][:1800] for i in held[:n]]
    bounded_settings = service.searcher.settings
    unbounded_settings = bounded_settings.model_copy(update={"full_text_budget": 0})
    overlap: list[float] = []
    bounded_ms: list[float] = []
    unbounded_ms: list[float] = []
    for query in queries:
        tops = []
        for settings, times in ((bounded_settings, bounded_ms), (unbounded_settings, unbounded_ms)):
            service.searcher.settings = settings
            started = time.perf_counter()
            hits = service.search(query, scope, limit=K)
            times.append(1000 * (time.perf_counter() - started))
            tops.append({h.post_id for h in hits})
        overlap.append(len(tops[0] & tops[1]) / K)
    service.searcher.settings = bounded_settings
    return {
        "queries": len(queries),
        "top10_overlap_mean": round(float(np.mean(overlap)), 4),
        "top10_identical_share": round(float(np.mean([o == 1.0 for o in overlap])), 4),
        "search_p50_ms_bounded": round(percentile(bounded_ms, 50), 1),
        "search_p50_ms_unbounded": round(percentile(unbounded_ms, 50), 1),
    }


def lexical_ms(
    service: KnowledgeService, scope: SearchScope, repeats: int, budget: int
) -> list[float]:
    """Full-text search alone as the service runs it (`budget` 0: every match ranked)."""
    depth = service.settings.search.fusion.lexical_depth
    out = []
    for query in QUERIES:  # warm-up
        StoreCandidates(service.store, scope, budget=budget)._lexical(query, depth)
    for _ in range(repeats):
        for query in QUERIES:
            started = time.perf_counter()
            StoreCandidates(service.store, scope, budget=budget)._lexical(query, depth)
            out.append(1000 * (time.perf_counter() - started))
    return out


def postgres_text(
    data_dir: Path, n: int, texts: list[str], real: np.ndarray, repeats: int
) -> dict[str, object]:
    from tests.postgres import missing_reason, running_server

    reason = missing_reason()
    if reason is not None:
        return {"skipped": reason}
    scope = SearchScope(
        guild_id=GUILD, readable_channel_ids=frozenset(CHANNELS[:-1]), asker_id=1001
    )
    embedder = HashingEmbedder(dimension=real.shape[1])
    synthetic = SyntheticData(real, texts)
    with running_server() as server, tempfile.TemporaryDirectory() as tmp:
        url = server.new_database()
        pg = service_for(Path(tmp), embedder, database_url=url)
        pg.register_guild(GUILD)
        print(f"Writing {n} posts (text only) into PostgreSQL ...", flush=True)
        seconds = bulk_write(
            pg.store.engine, n, big_corpus(n, texts, real, synthetic), "", vectors=False, ids=False
        )
        with pg.store.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE post")
            rows = connection.exec_driver_sql("SELECT count(*) FROM post").scalar_one()
        sqlite = service_for(data_dir, SentenceTransformerEmbedder())  # lazy: never loaded here
        budget = sqlite.settings.search.full_text_budget
        timings: dict[str, list[float]] = {}
        for _ in range(repeats):  # alternating, so both see the same machine load
            for name, limit in (("", budget), ("unbounded_", 0)):
                timings.setdefault(f"{name}postgres", []).extend(lexical_ms(pg, scope, 1, limit))
                timings.setdefault(f"{name}sqlite_fts5", []).extend(
                    lexical_ms(sqlite, scope, 1, limit)
                )
        sqlite.close()
        pg.close()
    figures: dict[str, object] = {
        "posts": int(rows),
        "write_seconds": round(seconds, 1),
        "searches": len(timings["postgres"]),
        "full_text_budget": budget,
    }
    for name, values in timings.items():
        for q in (50, 95, 99):
            figures[f"{name}_p{q}_ms"] = round(percentile(values, q), 2)
    for name in ("", "unbounded_"):
        figures[f"{name}postgres_over_sqlite_p50"] = round(
            percentile(timings[f"{name}postgres"], 50)
            / percentile(timings[f"{name}sqlite_fts5"], 50),
            2,
        )
    figures["pgvector"] = "not measured: Debian bookworm has no pgvector package; faiss kept"
    return figures


# -- ingest while searching ----------------------------------------------------------------------


class Searchers:
    """`count` threads, each searching once per `interval` s until stopped; latencies and errors."""

    def __init__(
        self, service: KnowledgeService, scope: SearchScope, count: int, interval: float
    ) -> None:
        self.service, self.scope, self.interval = service, scope, interval
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(count)
        ]

    def _run(self, number: int) -> None:
        time.sleep(self.interval * number / len(self.threads))  # spread the starts
        turn = number
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                hits = self.service.search(QUERIES[turn % len(QUERIES)], self.scope, limit=25)
                if not hits:
                    self.errors.append("a search found nothing")
            except Exception as exc:  # counted, reported, and a failed target
                self.errors.append(repr(exc))
            self.latencies.append(1000 * (time.perf_counter() - started))
            turn += 1
            self.stop.wait(max(0.0, started + self.interval - time.perf_counter()))

    def run_for(self, seconds: float | None = None, until: threading.Event | None = None) -> None:
        for thread in self.threads:
            thread.start()
        if until is not None:
            until.wait()
        else:
            time.sleep(seconds or 0)
        self.stop.set()
        for thread in self.threads:
            thread.join()


def ingest_with_searches(
    preload: int, posts: int, searchers: int, torch_like_ms: float = 0.0
) -> dict[str, object]:
    embedder: HashingEmbedder | TorchLikeEmbedder = HashingEmbedder(dimension=384)
    described = "HashingEmbedder 384-d (fast fake, pure Python: holds the GIL), phrase-only safety"
    if torch_like_ms > 0:  # throughput.py's stand-in: hashing vectors, a GIL-free sleep per text
        embedder = TorchLikeEmbedder(384, torch_like_ms / 1000)
        described = (
            f"torch-like (benchmarks/throughput.py): HashingEmbedder 384-d vectors computed "
            f"before timing, then a GIL-releasing sleep of {torch_like_ms:g} ms per text"
        )
    scope = SearchScope(
        guild_id=GUILD, readable_channel_ids=frozenset(CHANNELS[:-1]), asker_id=1001
    )
    with tempfile.TemporaryDirectory() as tmp:
        service = new_service(Path(tmp), embedder, safety=SafetyAssessor(None))
        print(
            f"Ingest of {posts} posts with {searchers} searching threads ({preload} preloaded)",
            flush=True,
        )
        texts = concurrency_texts(preload, seed=0)
        new_texts = concurrency_texts(posts, seed=1)
        if isinstance(embedder, TorchLikeEmbedder):
            embedder.prime(texts + new_texts + QUERIES)
            embedder.seconds_per_text = 0.0  # the preload is not measured
        for chunk in range(0, preload, 5000):
            service.ingest(records(texts[chunk : chunk + 5000], chunk))
        if isinstance(embedder, TorchLikeEmbedder):
            embedder.seconds_per_text = torch_like_ms / 1000
        idle = Searchers(service, scope, searchers, 1.0)
        idle.run_for(seconds=20)
        batch = records(new_texts, preload)
        done = threading.Event()
        failure: list[str] = []

        def ingest() -> None:
            try:
                report = service.ingest(batch)
                if report.embedded != len(batch):
                    failure.append(f"embedded {report.embedded} of {len(batch)}")
            except Exception as exc:
                failure.append(repr(exc))
            finally:
                done.set()

        busy = Searchers(service, scope, searchers, 1.0)
        worker = threading.Thread(target=ingest, daemon=True)
        started = time.perf_counter()
        worker.start()
        busy.run_for(until=done)
        ingest_seconds = time.perf_counter() - started
        worker.join()
        store = service.store
        with store.engine.connect() as connection:
            sql_posts = connection.exec_driver_sql(
                "SELECT count(*) FROM post WHERE guild_id = ?", (GUILD,)
            ).scalar_one()
            fts_rows = connection.exec_driver_sql("SELECT count(*) FROM post_fts").scalar_one()
        counts = {
            "sql_posts": int(sql_posts),
            "fts_rows": int(fts_rows),
            "faiss_vectors": len(store.vector_index(GUILD)),
            "catalog_rows": len(store.catalog(GUILD)),
        }
        service.close()
    idle_p95, busy_p95 = percentile(idle.latencies, 95), percentile(busy.latencies, 95)
    errors = failure + idle.errors + busy.errors
    equal = len(set(counts.values())) == 1 and counts["sql_posts"] == preload + posts
    return {
        "embedder": f"{described}, SQLite, one process",
        "preloaded_posts": preload,
        "ingested_posts": posts,
        "searching_threads": searchers,
        "search_interval_s_per_thread": 1.0,
        "ingest_seconds": round(ingest_seconds, 1),
        "ingest_posts_per_s": round(posts / ingest_seconds, 1),
        "idle_searches": len(idle.latencies),
        "busy_searches": len(busy.latencies),
        "idle_p50_ms": round(percentile(idle.latencies, 50), 2),
        "idle_p95_ms": round(idle_p95, 2),
        "busy_p50_ms": round(percentile(busy.latencies, 50), 2),
        "busy_p95_ms": round(busy_p95, 2),
        "busy_p99_ms": round(percentile(busy.latencies, 99), 2),
        "p95_ratio": round(busy_p95 / idle_p95, 3),
        "errors": errors[:5],
        "error_count": len(errors),
        "counts": counts,
        "counts_equal": equal,
        "ok": not errors and equal and busy_p95 <= BUSY_RATIO_TARGET * idle_p95,
    }


# -- main -----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--part", default="all")
    parser.add_argument("--queries-repeats", type=int, default=10)
    parser.add_argument("--ingest-posts", type=int, default=100_000)
    parser.add_argument("--preload", type=int, default=21_000)
    parser.add_argument("--searchers", type=int, default=20)
    parser.add_argument(
        "--torch-like-ms",
        type=float,
        default=0.0,
        help="ingest part: torch-like embedder (ms/text)",
    )
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "kindred-scale-cache"
    )
    parser.add_argument("--pg-repeats", type=int, default=1, help="passes over the queries")
    parser.add_argument(
        "--store",
        type=Path,
        help="keep the built store in this folder; when it already holds one, reuse it",
    )
    parser.add_argument(
        "--agreement-queries",
        type=int,
        default=100,
        help="latency part: held-out real posts searched with and without the full-text budget",
    )
    parser.add_argument("--load-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_child is not None:
        print(json.dumps(load_child(args.load_child)))
        return
    names = [p.strip() for p in args.part.split(",") if p.strip()]
    parts = list(PARTS) if "all" in names else names
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise SystemExit(f"--part: unknown {', '.join(unknown)} (choose from {', '.join(PARTS)})")
    nprobe = KindredSettings().vector_index.ivf_nprobe
    results: dict[str, object] = {"benchmark": "scale", "posts": args.posts, "parts": parts}
    missed: list[str] = []
    needs_store = {"build", "latency", "postgres"} & set(parts)
    if {"recall", *needs_store} & set(parts):
        texts, real, model, _ = real_vectors(args.cache)
        results["data"] = (
            f"{len(texts)} real posts (rmhd27-dev, mqp-dev) with MiniLM vectors, 1 in 10 held out "
            f"as queries; the rest of {args.posts} posts synthetic: sentence-mix text from the "
            f"real posts, {CLUSTERS}-cluster vectors around real ones"
        )
    if "recall" in parts:
        print("Recall@10 of IVF vs exact on real vectors alone:", flush=True)
        results["recall_real"] = recall_real(real, model, nprobe)
        print(f"  {results['recall_real']}", flush=True)
    with contextlib.ExitStack() as stack:
        if args.store is not None:
            data_dir = args.store
            reuse = (data_dir / "kindred.db").exists()
        else:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=args.cache.parent)))
            reuse = False
        embedder = SentenceTransformerEmbedder(batch_size=32)
        if reuse:
            print(
                f"Reusing the store built in {data_dir} (build and recall_big skipped)", flush=True
            )
        elif needs_store:
            results["build"] = build_store(data_dir, args.posts, texts, real, model, embedder)
            print(f"  {results['build']}", flush=True)
            print("Recall@10 of the store's index vs exact over the same vectors:", flush=True)
            results["recall_big"] = recall_big(data_dir, args.posts, texts, real, model, embedder)
            print(f"  {results['recall_big']}", flush=True)
        if "latency" in parts:
            print("Search latency vs embedding the query alone:", flush=True)
            results["latency"] = search_latency(
                data_dir, args.queries_repeats, args.agreement_queries
            )
            print(f"  {results['latency']}", flush=True)
        if "postgres" in parts:
            print("Full-text search on PostgreSQL vs SQLite FTS5:", flush=True)
            results["postgres"] = postgres_text(data_dir, args.posts, texts, real, args.pg_repeats)
            print(f"  {results['postgres']}", flush=True)
    if "ingest" in parts:
        results["ingest"] = ingest_with_searches(
            args.preload, args.ingest_posts, args.searchers, args.torch_like_ms
        )
        print(f"  {results['ingest']}", flush=True)
    for name in ("recall_real", "recall_big"):
        figures = results.get(name)
        if isinstance(figures, dict) and figures["recall_at_10"] < RECALL_TARGET:
            missed.append(name)
    latency = results.get("latency")
    if isinstance(latency, dict) and latency["search_p95_over_embed_p50"] > P95_RATIO_TARGET:
        missed.append("latency")
    ingest = results.get("ingest")
    if isinstance(ingest, dict) and not ingest["ok"]:
        missed.append("ingest")
    results["targets_missed"] = missed
    print(json.dumps(results))
    if missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
