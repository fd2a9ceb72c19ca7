"""Ingest throughput against raw `model.encode`, and search latency against embedding the query.

    python benchmarks/throughput.py [--posts 384] [--rounds 3] [--sizes 10000,100000]

1. The same texts (rmhd27-dev posts when ../shared is present, else synthetic posts of similar
   length) are embedded by the raw sentence-transformers model and ingested through the whole
   pipeline (clean, SQL + FTS5 transaction, embed, vectors to SQL and faiss), alternating, in one
   run; medians of posts/s and their ratio are printed.
2. Synthetic stores of each size are built through the same ingest path. To build 100k posts in
   minutes, post vectors there are the mean of real MiniLM vectors of their sentences (a small set,
   embedded once); queries are embedded by the real model. Search p50/p95 (whole service.search:
   clean, embed, scope mask, faiss, FTS5, fusion, rows and snippets) is compared with p50 of
   embedding the query alone.
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.synthetic import QUERIES, synthetic_posts  # noqa: E402
from knowledge.config import KindredSettings  # noqa: E402
from knowledge.embeddings import SentenceTransformerEmbedder, Vectors  # noqa: E402
from knowledge.records import ChannelRecord, PostRecord  # noqa: E402
from knowledge.scope import SearchScope  # noqa: E402
from knowledge.service import KnowledgeService  # noqa: E402
from knowledge.store.models import ChannelKind  # noqa: E402

SHARED_POSTS = ROOT.parent / "shared" / "data" / "rmhd27-dev" / "posts.jsonl"
GUILD = 1
CHANNELS = list(range(1, 11))
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def bench_texts(n: int) -> tuple[list[str], str]:
    if SHARED_POSTS.exists():
        texts = [json.loads(line)["text"] for line in SHARED_POSTS.open(encoding="utf-8")]
        return texts[:n], "rmhd27-dev posts"
    return synthetic_posts(n, seed=1, words=180), "synthetic posts (../shared absent)"


def records(texts: Sequence[str], start: int = 0) -> list[PostRecord]:
    return [
        PostRecord(
            guild_id=GUILD,
            external_id=f"p{start + i}",
            channel_id=CHANNELS[(start + i) % len(CHANNELS)],
            author_id=1000 + (start + i) % 500,
            text=text,
            created_at=T0 + timedelta(minutes=start + i),
        )
        for i, text in enumerate(texts)
    ]


def new_service(data_dir: Path, embedder: object) -> KnowledgeService:
    settings = KindredSettings().with_data_dir(data_dir)
    service = KnowledgeService(settings, embedder=embedder)  # type: ignore[arg-type]
    service.register_guild(GUILD)
    service.privacy.set_search_mode(GUILD, "opt_out", by=0)  # every synthetic member searchable
    for channel in CHANNELS:
        record = ChannelRecord(channel, GUILD, f"c{channel}", ChannelKind.TEXT)
        service.enable_channel(GUILD, record, enabled_by=0)
    return service


def ingest_vs_encode(n: int, rounds: int) -> dict[str, object]:
    texts, source = bench_texts(n)
    embedder = SentenceTransformerEmbedder(batch_size=32)
    model = embedder._load()
    model.encode(texts[:64], batch_size=32)  # warm up
    raw, pipe = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        model.encode(list(texts), batch_size=32, normalize_embeddings=True)
        raw.append(len(texts) / (time.perf_counter() - started))
        with tempfile.TemporaryDirectory() as tmp:
            service = new_service(Path(tmp), embedder)
            started = time.perf_counter()
            report = service.ingest(records(texts))
            pipe.append(len(texts) / (time.perf_counter() - started))
            assert report.embedded == len(texts) - len(report.skipped)
            service.close()
        print(f"  round: raw {raw[-1]:.1f} posts/s, pipeline {pipe[-1]:.1f} posts/s", flush=True)
    raw_median, pipe_median = statistics.median(raw), statistics.median(pipe)
    return {
        "texts": source,
        "posts": len(texts),
        "batch_size": 32,
        "rounds": rounds,
        "raw_encode_posts_per_s": round(raw_median, 2),
        "pipeline_posts_per_s": round(pipe_median, 2),
        "pipeline_over_raw": round(pipe_median / raw_median, 3),
    }


class SentenceMeanEmbedder:
    """Vectors = normalised mean of real MiniLM vectors of each sentence (cached): fast to build."""

    def __init__(self, real: SentenceTransformerEmbedder) -> None:
        self.real = real
        self.cache: dict[str, np.ndarray] = {}
        self.name, self.dimension = real.name, real.dimension

    def encode(self, texts: Sequence[str]) -> Vectors:
        sentences = [re.split(r"(?<=[.!?])\s+", t) for t in texts]
        missing = sorted({s for parts in sentences for s in parts} - self.cache.keys())
        if missing:
            self.cache.update(zip(missing, self.real.encode(missing), strict=True))
        out = np.stack([np.mean([self.cache[s] for s in parts], axis=0) for parts in sentences])
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out.astype(np.float32)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def search_latency(sizes: list[int], repeats: int) -> list[dict[str, object]]:
    real = SentenceTransformerEmbedder(batch_size=32)
    builder = SentenceMeanEmbedder(real)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir, built = Path(tmp), 0
        for size in sorted(sizes):
            service = new_service(data_dir, builder)
            started = time.perf_counter()
            texts = synthetic_posts(size - built, seed=size, words=60)
            for chunk in range(0, len(texts), 5000):
                service.ingest(records(texts[chunk : chunk + 5000], built + chunk))
            build_seconds = time.perf_counter() - started
            built = size
            service.close()
            service = KnowledgeService(KindredSettings().with_data_dir(data_dir), embedder=real)
            service.start()
            scope = SearchScope(
                guild_id=GUILD, readable_channel_ids=frozenset(CHANNELS[:-1]), asker_id=1001
            )
            for query in QUERIES:  # warm up caches and the catalog
                service.search(query, scope, limit=25)
            embed_ms, search_ms = [], []
            for _ in range(repeats):
                for query in QUERIES:
                    started = time.perf_counter()
                    real.encode([query])
                    embed_ms.append(1000 * (time.perf_counter() - started))
                    started = time.perf_counter()
                    hits = service.search(query, scope, limit=25)
                    search_ms.append(1000 * (time.perf_counter() - started))
                    assert len(hits) == 25
            index_kind = service.store.vector_index(GUILD).kind
            service.close()
            row = {
                "posts": size,
                "index": index_kind,
                "build_seconds": round(build_seconds, 1),
                "embed_query_p50_ms": round(percentile(embed_ms, 50), 2),
                "search_p50_ms": round(percentile(search_ms, 50), 2),
                "search_p95_ms": round(percentile(search_ms, 95), 2),
                "search_p50_over_embed_p50": round(
                    percentile(search_ms, 50) / percentile(embed_ms, 50), 3
                ),
            }
            print(f"  {row}", flush=True)
            results.append(row)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=384)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--search-only", action="store_true", help="skip the ingest comparison")
    args = parser.parse_args()
    ingest: dict[str, object] = {}
    if not args.search_only:
        print("Ingest pipeline vs raw model.encode (same texts, same batch size, one run):")
        ingest = ingest_vs_encode(args.posts, args.rounds)
        print(f"  {ingest}")
    print("Search latency vs embedding the query alone:")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    latency = search_latency(sizes, args.repeats)
    print(json.dumps({"benchmark": "throughput", "ingest": ingest, "search": latency}))


if __name__ == "__main__":
    main()
