"""Retrieval quality: BM25 alone, dense alone and hybrid, side by side, with the packaged model.

    python benchmarks/retrieval.py [--dataset NAME ...] [--cache DIR] [--boot 2000]

Datasets (one settings object, `FusionSettings()`, for all of them):

- ``rmhd27-dev``: ../shared/data/rmhd27-dev; each query is a whole post, relevant = the other
  posts of its community (nDCG@10).
- ``mqp-dev``: ../shared/data/mqp-dev; short patient questions against doctors' same-intent
  rewrites, with a hard negative sharing the key words (MRR@10).
- ``paraphrase``: benchmarks/data/paraphrase, written for Kindred; short questions against posts
  that paraphrase them, with distractors reusing their words (nDCG@10).
- ``rmhd27-q2q``: a question-to-question check built here from rmhd27-dev: every post cut to its
  title-like first sentence (at most 12 words), 20 query posts drawn (seed 27) from each of the 27
  communities, mental-health and control alike; relevant = the other posts of the community
  (nDCG@10). It stands in for "a member's question against earlier questions on the same topic",
  including topics no condition word describes.

For each, every method is run once on one store; figures come from ../shared/tools/metrics.py
(the scorer the hidden sets use; per-query values are computed the same way and checked against
it). Printed: each method's figure with a 95% bootstrap interval over queries, and the paired
difference hybrid - dense with its interval. The relevance floor (`search.relevance_floor`) is
measured too: the share of answerable queries (a relevant post in the top 10) whose top hit falls
below it, and the share of unanswerable ones (every relevant post hidden) that get "nothing
close". The last line is one JSON object. Exit code 1 when an acceptance relation is missed:
mqp-dev hybrid MRR >= dense + 0.01; rmhd27-dev hybrid nDCG >= 0.52; paraphrase and rmhd27-q2q
hybrid nDCG >= dense. Skips with a message (exit 0) when ../shared is absent.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
import random
import re
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kindred.evaluation.retrieval import EvalStore, Query, eval_store, read_queries  # noqa: E402
from knowledge.config import KindredSettings  # noqa: E402
from knowledge.embeddings import Embedder, SentenceTransformerEmbedder, Vectors  # noqa: E402
from knowledge.errors import InvalidInput  # noqa: E402
from knowledge.scope import SearchScope  # noqa: E402
from knowledge.search.fusion import Mode  # noqa: E402
from knowledge.text import clean_query  # noqa: E402

SHARED = ROOT.parent / "shared"
MODES: tuple[Mode, ...] = ("bm25", "dense", "hybrid")
K = 10
Q2Q_SEED = 27
Q2Q_PER_COMMUNITY = 20
Q2Q_MAX_WORDS = 12


@dataclass(frozen=True)
class Dataset:
    name: str
    posts: Path
    queries: Path
    qrels: Path
    metric: str  # "ndcg" or "mrr"


def shared_datasets(workdir: Path) -> dict[str, Dataset]:
    rmhd = SHARED / "data/rmhd27-dev"
    mqp = SHARED / "data/mqp-dev"
    para = ROOT / "benchmarks/data/paraphrase"
    return {
        "rmhd27-dev": Dataset(
            "rmhd27-dev",
            rmhd / "posts.jsonl",
            rmhd / "queries_dev.tsv",
            rmhd / "qrels_dev.tsv",
            "ndcg",
        ),
        "mqp-dev": Dataset(
            "mqp-dev", mqp / "corpus.jsonl", mqp / "queries_dev.tsv", mqp / "qrels_dev.tsv", "mrr"
        ),
        "paraphrase": Dataset(
            "paraphrase", para / "posts.jsonl", para / "queries.tsv", para / "qrels.tsv", "ndcg"
        ),
        "rmhd27-q2q": build_q2q(rmhd / "posts.jsonl", workdir / "rmhd27-q2q"),
    }


_SENTENCE_END = re.compile(r"[.?!\n]")


def title_like(text: str) -> str:
    """The first sentence of a post, at most Q2Q_MAX_WORDS words (reddit titles run into bodies)."""
    end = _SENTENCE_END.search(text)
    head = text[: end.end()] if end else text
    return " ".join(head.split()[:Q2Q_MAX_WORDS])


def build_q2q(posts: Path, out: Path) -> Dataset:
    """The question-to-question check, written to a temporary folder (never into the project)."""
    out.mkdir(parents=True, exist_ok=True)
    by_community: dict[str, list[str]] = defaultdict(list)
    with posts.open(encoding="utf-8") as src, (out / "posts.jsonl").open("w") as dst:
        for line in src:
            row = json.loads(line)
            short = title_like(row["text"])
            if not re.search(r"[^\W\d_]{2}", short):
                continue  # a bare link or number: nothing a member would ask
            by_community[row["subreddit"]].append(row["id"])
            dst.write(json.dumps({"id": row["id"], "text": short}) + "\n")
    rng = random.Random(Q2Q_SEED)
    chosen = [
        (q, c)
        for c in sorted(by_community)
        for q in rng.sample(sorted(by_community[c]), Q2Q_PER_COMMUNITY)
    ]
    (out / "queries.tsv").write_text("query_id\n" + "".join(q + "\n" for q, _ in chosen))
    with (out / "qrels.tsv").open("w") as qrels:
        qrels.write("query_id\tdoc_id\trelevance\n")
        for q, c in chosen:
            qrels.writelines(f"{q}\t{d}\t1\n" for d in sorted(by_community[c]) if d != q)
    return Dataset(
        "rmhd27-q2q", out / "posts.jsonl", out / "queries.tsv", out / "qrels.tsv", "ndcg"
    )


def load_metrics() -> Any:
    spec = importlib.util.spec_from_file_location("shared_metrics", SHARED / "tools/metrics.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class CachingEmbedder:
    """The packaged model with vectors kept by text hash in DIR (encode each corpus once)."""

    def __init__(self, inner: SentenceTransformerEmbedder, folder: Path) -> None:
        self.inner = inner
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._path = folder / "retrieval-benchmark.npz"
        self._vectors: dict[str, np.ndarray] = {}
        if self._path.exists():
            data = np.load(self._path)
            self._vectors = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
        self._dirty = False

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def encode(self, texts: Sequence[str]) -> Vectors:
        keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        missing = [i for i, key in enumerate(keys) if key not in self._vectors]
        if missing:
            fresh = self.inner.encode([texts[i] for i in missing])
            for i, vector in zip(missing, fresh, strict=True):
                self._vectors[keys[i]] = vector
            self._dirty = True
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vectors[key] for key in keys]).astype(np.float32)

    def save(self) -> None:
        if self._dirty:
            keys = np.asarray(list(self._vectors))
            vectors = np.stack([self._vectors[k] for k in keys.tolist()])
            np.savez(self._path, keys=keys, vectors=vectors)
            self._dirty = False


def per_query(metrics: Any, run_path: Path, qrels_path: Path) -> dict[str, dict[str, float]]:
    """nDCG@10 and MRR@10 of each query, computed as the shared scorer does (and checked)."""
    qrels, run = metrics.read_qrels(str(qrels_path)), metrics.read_run(str(run_path))
    out: dict[str, dict[str, float]] = {}
    for qid, rel in qrels.items():
        hits = [1 if rel.get(d, 0) > 0 else 0 for d in run.get(qid, [])[:K]]
        npos = sum(1 for v in rel.values() if v > 0)
        dcg = sum(h / math.log2(i + 2) for i, h in enumerate(hits))
        idcg = sum(1 / math.log2(i + 2) for i in range(min(K, npos)))
        mrr = next((1 / (i + 1) for i, h in enumerate(hits) if h), 0.0)
        out[qid] = {"ndcg": dcg / idcg if idcg else 0.0, "mrr": mrr}
    overall = metrics.ranking(str(run_path), str(qrels_path), K)
    for key in ("ndcg", "mrr"):
        mean = sum(v[key] for v in out.values()) / max(1, len(out))
        if abs(round(mean, 4) - overall[f"{key}@{K}"]) > 1e-4:
            raise RuntimeError(f"per-query {key} disagrees with the shared scorer")
    return out


def bootstrap(values: np.ndarray, rounds: int, seed: int = 0) -> tuple[float, float, float]:
    """Mean and 95% percentile interval over queries."""
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (rounds, len(values)))].mean(axis=1)
    return (
        float(values.mean()),
        float(np.percentile(means, 2.5)),
        float(np.percentile(means, 97.5)),
    )


def write_run(path: Path, ranked: dict[str, list[tuple[str, float]]]) -> None:
    lines = ["query_id\tdoc_id\trank\tscore\n"]
    for qid, docs in ranked.items():
        lines += [f"{qid}\t{d}\t{r}\t{s:.6f}\n" for r, (d, s) in enumerate(docs, start=1)]
    path.write_text("".join(lines), encoding="utf-8")


def query_text(store: EvalStore, query: Query) -> tuple[str, frozenset[int]] | None:
    """The query's text and the post ids to leave out (a query that is a post: itself)."""
    exclude: frozenset[int] = frozenset()
    text = query.text
    if text is None:
        found = store.posts.get(query.query_id)
        if found is None:
            return None
        exclude, text = frozenset({found[0]}), found[1]
    try:
        return clean_query(text, len(text) + 1), exclude
    except InvalidInput:
        return None


def answer(
    store: EvalStore, text: str, exclude: frozenset[int], mode: Mode
) -> list[tuple[int, float, float | None]]:
    scope = SearchScope(guild_id=1, exclude_post_ids=exclude, moderator_view=True)
    ranked = store.service.searcher.ranked(text, scope, K, mode)
    return [(r.post_id, r.score, r.similarity) for r in ranked]


def evaluate(
    data: Dataset, embedder: Embedder, metrics: Any, rounds: int, tmp: Path
) -> dict[str, Any]:
    queries = read_queries(data.queries)
    qrels = metrics.read_qrels(str(data.qrels))
    floor = KindredSettings().search.relevance_floor
    figures: dict[str, Any] = {"metric": f"{data.metric}@{K}"}
    with eval_store(data.posts, embedder=embedder) as store:
        ids = {pid: ext for ext, (pid, _) in store.posts.items()}
        rows = {ext: pid for ext, (pid, _) in store.posts.items()}
        prepared = {q.query_id: query_text(store, q) for q in queries}
        figures["posts"], figures["queries"] = len(store.posts), len(queries)
        scores: dict[str, np.ndarray] = {}
        top_similarity: dict[str, float | None] = {}
        for mode in MODES:
            started = time.perf_counter()
            ranked: dict[str, list[tuple[str, float]]] = {}
            for qid, prep in prepared.items():
                if prep is None:
                    continue
                result = answer(store, prep[0], prep[1], mode)
                ranked[qid] = [(ids[p], s) for p, s, _ in result if p in ids]
                if mode == "hybrid":
                    top_similarity[qid] = result[0][2] if result else None
            seconds = time.perf_counter() - started
            write_run(tmp / f"{data.name}-{mode}.tsv", ranked)
            values = per_query(metrics, tmp / f"{data.name}-{mode}.tsv", data.qrels)
            order = sorted(values)
            scores[mode] = np.asarray([values[q][data.metric] for q in order])
            mean, low, high = bootstrap(scores[mode], rounds)
            figures[mode] = {
                "mean": round(mean, 4),
                "ci95": [round(low, 4), round(high, 4)],
                "ndcg": round(float(np.mean([values[q]["ndcg"] for q in order])), 4),
                "mrr": round(float(np.mean([values[q]["mrr"] for q in order])), 4),
                "ms_per_query": round(1000 * seconds / max(1, len(queries)), 1),
            }
            if mode == "hybrid":
                answerable = {q for q in order if values[q]["ndcg"] > 0}
        diff, low, high = bootstrap(scores["hybrid"] - scores["dense"], rounds)
        figures["hybrid_minus_dense"] = {
            "mean": round(diff, 4),
            "ci95": [round(low, 4), round(high, 4)],
        }
        figures["floor"] = floor_figures(
            store, prepared, qrels, rows, answerable, top_similarity, floor
        )
    return figures


def floor_figures(
    store: EvalStore,
    prepared: dict[str, tuple[str, frozenset[int]] | None],
    qrels: dict[str, dict[str, int]],
    rows: dict[str, int],
    answerable: set[str],
    top_similarity: dict[str, float | None],
    floor: float,
    sample: int = 200,
) -> dict[str, Any]:
    """Answerable queries wrongly cut, and unanswerable ones (every relevant post hidden, on a
    sample of at most `sample` queries) told "nothing close"."""
    cut = [q for q in answerable if (s := top_similarity.get(q)) is not None and s < floor]
    rng = random.Random(0)
    chosen = sorted(q for q, p in prepared.items() if p is not None)
    chosen = rng.sample(chosen, min(sample, len(chosen)))
    nothing = 0
    for qid in chosen:
        text, exclude = prepared[qid]  # type: ignore[misc]
        hidden = {rows[d] for d, v in qrels.get(qid, {}).items() if v > 0 and d in rows}
        result = answer(store, text, exclude | frozenset(hidden), "hybrid")
        if not result or (result[0][2] is not None and result[0][2] < floor):
            nothing += 1
    return {
        "floor": floor,
        "answerable_cut": round(len(cut) / max(1, len(answerable)), 4),
        "unanswerable_nothing_close": round(nothing / max(1, len(chosen)), 4),
        "unanswerable_sample": len(chosen),
    }


Check = Callable[[dict[str, Any]], bool]
ACCEPTANCE: dict[str, tuple[str, Check]] = {
    "mqp-dev": (
        "hybrid >= dense + 0.01 (MRR@10)",
        lambda f: f["hybrid_minus_dense"]["mean"] >= 0.01,
    ),
    "rmhd27-dev": ("hybrid >= 0.52 (nDCG@10)", lambda f: f["hybrid"]["mean"] >= 0.52),
    "paraphrase": ("hybrid >= dense (nDCG@10)", lambda f: f["hybrid_minus_dense"]["mean"] >= 0),
    "rmhd27-q2q": ("hybrid >= dense (nDCG@10)", lambda f: f["hybrid_minus_dense"]["mean"] >= 0),
}


def show(name: str, figures: dict[str, Any]) -> None:
    print(f"{name}: {figures['queries']} queries, {figures['posts']} posts, {figures['metric']}")
    for mode in MODES:
        f = figures[mode]
        print(
            f"  {mode:7} {f['mean']:.4f}  95% [{f['ci95'][0]:.4f}, {f['ci95'][1]:.4f}]"
            f"  (nDCG {f['ndcg']:.4f}, MRR {f['mrr']:.4f}, {f['ms_per_query']} ms/query)"
        )
    d = figures["hybrid_minus_dense"]
    print(f"  hybrid - dense  {d['mean']:+.4f}  95% [{d['ci95'][0]:+.4f}, {d['ci95'][1]:+.4f}]")
    fl = figures["floor"]
    print(
        f"  floor {fl['floor']}: answerable cut {fl['answerable_cut']:.1%}, unanswerable told "
        f"nothing close {fl['unanswerable_nothing_close']:.1%} (of {fl['unanswerable_sample']})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", action="append", help="run only these (repeatable)")
    parser.add_argument("--cache", type=Path, help="keep embeddings by text hash in this folder")
    parser.add_argument("--boot", type=int, default=2000, help="bootstrap resamples")
    args = parser.parse_args()
    if not (SHARED / "tools/metrics.py").exists():
        print(f"skipped: {SHARED} is absent (benchmark data and scorer live there)")
        print(json.dumps({"benchmark": "retrieval", "skipped": "../shared absent"}))
        return 0
    metrics = load_metrics()
    inner = SentenceTransformerEmbedder()
    embedder: Embedder = CachingEmbedder(inner, args.cache) if args.cache else inner
    started = time.perf_counter()
    summary: dict[str, Any] = {"benchmark": "retrieval", "k": K, "settings": "FusionSettings()"}
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="kindred-bench-") as tmp:
        datasets = shared_datasets(Path(tmp))
        for name in args.dataset or list(datasets):
            figures = evaluate(datasets[name], embedder, metrics, args.boot, Path(tmp))
            if isinstance(embedder, CachingEmbedder):
                embedder.save()
            show(name, figures)
            rule, check = ACCEPTANCE[name]
            figures["acceptance"] = {"rule": rule, "met": bool(check(figures))}
            if not figures["acceptance"]["met"]:
                failed.append(f"{name}: {rule}")
            summary[name] = figures
    summary["failed"] = failed
    summary["seconds"] = round(time.perf_counter() - started, 1)
    for line in failed:
        print(f"MISSED {line}")
    print(json.dumps(summary))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
