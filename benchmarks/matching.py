"""Matching members: same-condition share of the top 5, beside random and a plain baseline.

    python benchmarks/matching.py [--cache DIR] [--boot 2000]

Synthetic members on ../shared/data/rmhd27-dev (issue 12): each community's posts, sorted by id,
are grouped five at a time, each group one member whose condition is the community (all 27
communities, controls included, so a member of r/guns is a possible wrong answer). For each
query post of queries_dev.tsv its own member (the asker) is left out and the other members are
ranked through the code `/connect` uses (`kindred.evaluation.matching`, the path of
`kindred eval matching`: the real ingest, consent marked `matchable`, `service.matching`).
Reported with 95% bootstrap intervals over queries, all from one store and one run:

- ``matching``: the product's ranking;
- ``mean_vector``: cosine of the query post to the normalised mean of each member's stored post
  vectors (the plain baseline of the issue);
- ``random``: five other members drawn at random (seed 0);

plus the paired difference matching - mean_vector, the share on two halves of the queries (even
and odd rows: the few parameters of `MatchSettings` were chosen on all dev queries, so the
halves show the spread, not a held-out figure) and per community. The last line is one JSON
object. Exit code 1 when the matching share is below 0.62; skips with a message (exit 0) when
../shared is absent. The packaged model embeds every post (minutes on two cores): ``--cache``
keeps vectors by text hash while iterating.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.retrieval import CachingEmbedder, bootstrap  # noqa: E402
from kindred.evaluation.matching import MatchingStore, matching_store, write_run  # noqa: E402
from kindred.evaluation.retrieval import EVAL_GUILD, read_queries  # noqa: E402
from knowledge.embeddings import Embedder, SentenceTransformerEmbedder  # noqa: E402

SHARED = ROOT.parent / "shared"
DATA = SHARED / "data/rmhd27-dev"
GROUP = 5
TOP = 5
K = 10
THRESHOLD = 0.62


def synthetic_members(out: Path) -> dict[str, str]:
    """Write POSTS.jsonl with one author per five posts of a community; member -> community."""
    by_community: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with (DATA / "posts.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            post = json.loads(line)
            by_community[post["subreddit"]].append(post)
    members: dict[str, str] = {}
    with out.open("w", encoding="utf-8") as handle:
        for community, posts in sorted(by_community.items()):
            for i, post in enumerate(sorted(posts, key=lambda p: p["id"])):
                member = f"{community}-{i // GROUP:03d}"
                members[member] = community
                row = {"id": post["id"], "text": post["text"], "author": member}
                handle.write(json.dumps(row) + "\n")
    return members


def read_run(path: Path) -> dict[str, list[str]]:
    ranked: dict[str, list[tuple[int, str]]] = defaultdict(list)
    with path.open(encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            qid, member, rank, _ = line.rstrip("\n").split("\t")
            ranked[qid].append((int(rank), member))
    return {qid: [m for _, m in sorted(rows)] for qid, rows in ranked.items()}


def share(top: list[str], community: str, members: dict[str, str]) -> float:
    """Share of the top five sharing the query's condition (a short list counts as misses)."""
    return sum(members[m] == community for m in top[:TOP]) / TOP


def baselines(
    matching: MatchingStore, query_ids: list[str], members: dict[str, str]
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(mean-vector, random) top five per query, from the same store's stored vectors."""
    service = matching.store.service
    post_ids = {ext: pid for ext, (pid, _) in matching.store.posts.items()}
    externals = sorted(post_ids)
    ids = np.asarray([post_ids[e] for e in externals], dtype=np.int64)
    vectors = service.store.stored_vectors(EVAL_GUILD, ids)
    names = [matching.authors[matching.post_authors[e]] for e in externals]
    people = sorted(set(names))
    index = {name: i for i, name in enumerate(people)}
    means = np.zeros((len(people), vectors.shape[1]), dtype=np.float64)
    np.add.at(means, [index[n] for n in names], vectors)
    means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
    row_of = {e: i for i, e in enumerate(externals)}
    rng = np.random.default_rng(0)
    plain: dict[str, list[str]] = {}
    drawn: dict[str, list[str]] = {}
    for qid in query_ids:
        asker = index[names[row_of[qid]]]
        scores = means @ vectors[row_of[qid]]
        scores[asker] = -np.inf
        plain[qid] = [people[i] for i in np.argsort(-scores, kind="stable")[:TOP]]
        others = np.delete(np.arange(len(people)), asker)
        drawn[qid] = [people[i] for i in rng.choice(others, TOP, replace=False)]
    assert set(people) <= set(members)
    return plain, drawn


def interval(values: np.ndarray, rounds: int) -> dict[str, float]:
    mean, low, high = bootstrap(values, rounds)
    return {"mean": round(mean, 4), "low": round(low, 4), "high": round(high, 4)}


def evaluate(embedder: Embedder, rounds: int, workdir: Path) -> dict[str, Any]:
    posts_path = workdir / "posts.jsonl"
    members = synthetic_members(posts_path)
    queries = read_queries(DATA / "queries_dev.tsv")
    community = {}
    with (DATA / "queries_dev.tsv").open(encoding="utf-8") as handle:
        header = next(handle).rstrip("\n").split("\t")
        for line in handle:
            row = dict(zip(header, line.rstrip("\n").split("\t"), strict=True))
            community[row["query_id"]] = row["subreddit"]
    run_path = workdir / "run.tsv"
    with matching_store(posts_path, embedder=embedder) as matching:
        if isinstance(embedder, CachingEmbedder):
            embedder.save()
        lines, offered, seconds = matching.run(queries, K)
        write_run(run_path, lines)
        qids = [q.query_id for q in queries]
        plain, drawn = baselines(matching, qids, members)
        ingest_seconds = matching.store.ingest_seconds
    ranked = read_run(run_path)
    figures: dict[str, Any] = {
        "members": len(members),
        "queries": len(qids),
        "offered_resources": offered,
        "ingest_seconds": round(ingest_seconds, 1),
        "ms_per_query": round(1000 * seconds / max(1, len(qids)), 1),
    }
    per: dict[str, np.ndarray] = {}
    for name, tops in (("matching", ranked), ("mean_vector", plain), ("random", drawn)):
        per[name] = np.asarray([share(tops.get(q, []), community[q], members) for q in qids])
        figures[name] = interval(per[name], rounds)
    figures["matching_minus_mean_vector"] = interval(per["matching"] - per["mean_vector"], rounds)
    figures["halves"] = {
        half: {
            name: round(float(values[i::2].mean()), 4)
            for name, values in per.items()
            if name != "random"
        }
        for i, half in enumerate(("even", "odd"))
    }
    by_community: dict[str, list[float]] = defaultdict(list)
    for q, value in zip(qids, per["matching"], strict=True):
        by_community[community[q]].append(float(value))
    figures["by_community"] = {c: round(float(np.mean(v)), 3) for c, v in by_community.items()}
    return figures


def show(figures: dict[str, Any]) -> None:
    print(
        f"rmhd27-dev synthetic members: {figures['members']} members, "
        f"{figures['queries']} queries ({figures['offered_resources']} offered resources)"
    )
    for name in ("matching", "mean_vector", "random", "matching_minus_mean_vector"):
        f = figures[name]
        print(
            f"  {name:<28} same-condition share of top {TOP}: "
            f"{f['mean']:.3f}  [95% {f['low']:.3f}, {f['high']:.3f}]"
        )
    print(f"  halves: {figures['halves']}")
    print(f"  by community: {figures['by_community']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="keep embeddings by text hash in this folder")
    parser.add_argument("--boot", type=int, default=2000, help="bootstrap resamples")
    args = parser.parse_args()
    if not (DATA / "posts.jsonl").exists():
        print(f"skipped: {DATA} is absent (benchmark data lives in ../shared)")
        print(json.dumps({"benchmark": "matching", "skipped": "../shared absent"}))
        return 0
    inner = SentenceTransformerEmbedder()
    embedder: Embedder = CachingEmbedder(inner, args.cache) if args.cache else inner
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kindred-match-") as tmp:
        figures = evaluate(embedder, args.boot, Path(tmp))
    show(figures)
    met = figures["matching"]["mean"] >= THRESHOLD
    summary = {
        "benchmark": "matching",
        "dataset": "rmhd27-dev",
        "top": TOP,
        **figures,
        "acceptance": {"rule": f"matching share >= {THRESHOLD}", "met": met},
        "seconds": round(time.perf_counter() - started, 1),
    }
    if not met:
        print(f"MISSED matching share >= {THRESHOLD}")
    print(json.dumps(summary))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
