"""Retrieval quality and vector agreement of the ONNX embedders against the default (torch).

    python benchmarks/embedders.py [--cache DIR] [--datasets rmhd27-dev,mqp-dev]
                                   [--variants fp32,int8]

Each dataset (../shared/data: rmhd27-dev, nDCG@10; mqp-dev, MRR@10) is indexed through the real
ingest path once per embedder: the default `SentenceTransformerEmbedder` (torch) and the ONNX
embedder in each variant (bulk session on every core), and answered in hybrid and dense modes
with the default settings. Reported per dataset and variant: the figures, their difference from
torch, and the cosine between each text's ONNX and torch vectors (every post and query embedded),
mean and minimum. A variant passes when the mean cosine is at least 0.99 and hybrid is within 0.01
of torch on every dataset; speed is measured by `benchmarks/throughput.py --part embedder`.

`--cache DIR` keeps torch's vectors by text hash (benchmarks/retrieval.py's cache format, so its
cache can be reused); the ONNX vectors are always computed. The last line is one JSON object; the
exit status is 1 when no variant passes. Skips (exit 0) without ../shared or onnxruntime.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.retrieval import (  # noqa: E402
    SHARED,
    CachingEmbedder,
    Dataset,
    answer,
    load_metrics,
    per_query,
    query_text,
    shared_datasets,
    write_run,
)
from kindred.evaluation.retrieval import eval_store, read_queries  # noqa: E402
from knowledge.embeddings import Embedder, SentenceTransformerEmbedder, Vectors  # noqa: E402
from knowledge.onnx_embedder import OnnxEmbedder, onnx_available  # noqa: E402
from knowledge.search.fusion import Mode  # noqa: E402

MODES: tuple[Mode, ...] = ("dense", "hybrid")
COSINE_TARGET = 0.99
HYBRID_TOLERANCE = 0.01


class Recording:
    """Any embedder, with every vector it makes kept by text hash (to compare variants)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.vectors: dict[str, np.ndarray] = {}
        self.sample: list[str] = []  # a few texts, to check a cache against the model

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def encode(self, texts: Sequence[str]) -> Vectors:
        vectors = self.inner.encode(texts)
        self.sample.extend(texts[: max(0, 16 - len(self.sample))])
        for text, vector in zip(texts, vectors, strict=True):
            self.vectors[hashlib.sha1(text.encode("utf-8")).hexdigest()] = vector
        return vectors


def figures(data: Dataset, embedder: Embedder, metrics: Any, tmp: Path) -> dict[str, float]:
    """dense and hybrid figure (the dataset's metric at 10) with this embedder."""
    out: dict[str, float] = {}
    with eval_store(data.posts, embedder=embedder) as store:
        ids = {pid: ext for ext, (pid, _) in store.posts.items()}
        prepared = {q.query_id: query_text(store, q) for q in read_queries(data.queries)}
        for mode in MODES:
            ranked = {
                qid: [(ids[p], s) for p, s, _ in answer(store, prep[0], prep[1], mode) if p in ids]
                for qid, prep in prepared.items()
                if prep is not None
            }
            path = tmp / f"{data.name}-{embedder.name}-{mode}.tsv"
            write_run(path, ranked)
            values = per_query(metrics, path, data.qrels)
            out[mode] = round(float(np.mean([v[data.metric] for v in values.values()])), 4)
    return out


def agreement(variant: Recording, reference: dict[str, np.ndarray]) -> dict[str, float]:
    keys = [k for k in variant.vectors if k in reference]
    cosine = np.asarray([float(np.dot(variant.vectors[k], reference[k])) for k in keys])
    return {
        "texts": len(keys),
        "cosine_mean": round(float(cosine.mean()), 4),
        "cosine_min": round(float(cosine.min()), 4),
        "cosine_p01": round(float(np.percentile(cosine, 1)), 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="keep torch's vectors by text hash here")
    parser.add_argument("--datasets", default="rmhd27-dev,mqp-dev")
    parser.add_argument("--variants", default="fp32,int8")
    args = parser.parse_args()
    if not SHARED.exists():
        print("../shared is absent: nothing to measure")
        return 0
    if not onnx_available():
        print("onnxruntime is not installed (pip install 'kindred[onnx]'): nothing to measure")
        return 0
    metrics = load_metrics()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    torch_inner = SentenceTransformerEmbedder(batch_size=32, bulk_threads=0)
    torch_embedder: Embedder = (
        CachingEmbedder(torch_inner, args.cache) if args.cache else torch_inner
    )
    torch_rec = Recording(torch_embedder)
    results: dict[str, Any] = {"datasets": {}, "variants": {}}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        datasets = shared_datasets(tmp)
        onnx = {
            v: Recording(
                OnnxEmbedder(models_dir=tmp / "models", quantize="none" if v == "fp32" else "int8")
            )
            for v in variants
        }
        for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
            data = datasets[name]
            row: dict[str, Any] = {"metric": f"{data.metric}@10"}
            print(f"{name}: torch ...", flush=True)
            row["torch"] = figures(data, torch_rec, metrics, tmp)
            if isinstance(torch_embedder, CachingEmbedder):
                torch_embedder.save()
                fresh = torch_inner.encode(torch_rec.sample)
                cached = torch_embedder.encode(torch_rec.sample)
                gap = float(np.abs(fresh - cached).max())
                print(f"  cache check: max |fresh - cached| = {gap:.2e}", flush=True)
                if gap > 1e-4:
                    raise SystemExit(f"{args.cache} holds vectors of another model")
            for variant, embedder in onnx.items():
                print(f"{name}: onnx {variant} ...", flush=True)
                found = figures(data, embedder, metrics, tmp)
                found["hybrid_minus_torch"] = round(found["hybrid"] - row["torch"]["hybrid"], 4)
                found["dense_minus_torch"] = round(found["dense"] - row["torch"]["dense"], 4)
                row[variant] = found
            print(f"  {row}", flush=True)
            results["datasets"][name] = row
        for variant, embedder in onnx.items():
            agree = agreement(embedder, torch_rec.vectors)
            worst = min(row[variant]["hybrid_minus_torch"] for row in results["datasets"].values())
            agree["worst_hybrid_minus_torch"] = worst
            agree["passes"] = bool(
                agree["cosine_mean"] >= COSINE_TARGET and worst >= -HYBRID_TOLERANCE
            )
            results["variants"][variant] = agree
            print(f"onnx {variant}: {agree}", flush=True)
    results["targets"] = {"cosine_mean": COSINE_TARGET, "hybrid_within": HYBRID_TOLERANCE}
    print(json.dumps({"benchmark": "embedders", **results}))
    torch_inner.close()
    return 0 if any(v["passes"] for v in results["variants"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
