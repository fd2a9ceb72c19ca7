"""Retrieval quality: BM25 alone, dense alone and hybrid, side by side, with the packaged model.

    python benchmarks/retrieval.py [--k 10]

Datasets: ../shared/data/rmhd27-dev (each query is a post; relevant = same community) and the
project-written paraphrase set in benchmarks/data/paraphrase (short patient questions against posts
that paraphrase the experience). Scores come from ../shared/tools/metrics.py, the scorer the hidden
sets use. Skips with a message (exit 0) when ../shared is absent. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kindred.evaluation.retrieval import eval_store, read_queries, write_run  # noqa: E402
from knowledge.embeddings import SentenceTransformerEmbedder  # noqa: E402
from knowledge.search.retrieval import Mode  # noqa: E402

SHARED = ROOT.parent / "shared"
MODES: tuple[Mode, ...] = ("bm25", "dense", "hybrid")
DATASETS = {
    "rmhd27-dev": (
        SHARED / "data/rmhd27-dev/posts.jsonl",
        SHARED / "data/rmhd27-dev/queries_dev.tsv",
        SHARED / "data/rmhd27-dev/qrels_dev.tsv",
    ),
    "paraphrase": (
        ROOT / "benchmarks/data/paraphrase/posts.jsonl",
        ROOT / "benchmarks/data/paraphrase/queries.tsv",
        ROOT / "benchmarks/data/paraphrase/qrels.tsv",
    ),
}


def load_metrics() -> Any:
    spec = importlib.util.spec_from_file_location("metrics", SHARED / "tools/metrics.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def evaluate(name: str, k: int, embedder: SentenceTransformerEmbedder, metrics: Any) -> dict:  # type: ignore[type-arg]
    posts, queries_path, qrels = DATASETS[name]
    queries = read_queries(queries_path)
    figures: dict[str, Any] = {}
    with eval_store(posts, embedder=embedder) as store, tempfile.TemporaryDirectory() as tmp:
        figures["posts"], figures["queries"] = len(store.posts), len(queries)
        for mode in MODES:
            lines, seconds = store.run(queries, k, mode)
            run = Path(tmp) / f"{mode}.tsv"
            write_run(run, lines)
            scores = metrics.ranking(str(run), str(qrels), k)
            scores["ms_per_query"] = round(1000 * seconds / max(1, len(queries)), 1)
            figures[mode] = scores
            print(f"  {name:11} {mode:7} {scores}", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--dataset", choices=sorted(DATASETS), action="append")
    args = parser.parse_args()
    if not (SHARED / "tools/metrics.py").exists():
        print(f"skipped: {SHARED} is absent (benchmark data and scorer live there)")
        print(json.dumps({"benchmark": "retrieval", "skipped": "../shared absent"}))
        return
    metrics = load_metrics()
    embedder = SentenceTransformerEmbedder()
    started = time.perf_counter()
    results = {name: evaluate(name, args.k, embedder, metrics) for name in args.dataset or DATASETS}
    summary: dict[str, Any] = {"benchmark": "retrieval", "k": args.k}
    for name, figures in results.items():
        key = f"ndcg@{args.k}"
        summary[name] = {mode: figures[mode][key] for mode in MODES} | {
            "hybrid_mrr": figures["hybrid"][f"mrr@{args.k}"],
            "hybrid_p": figures["hybrid"][f"p@{args.k}"],
        }
    summary["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
