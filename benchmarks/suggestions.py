"""Similar-thread suggestions: how often the reply holds a relevant thread, and how often nothing
is posted, with the packaged model.

    python benchmarks/suggestions.py [--dataset NAME ...] [--limit N] [--floor F] [--cache DIR]

Each query goes through the code the bot runs for a new question (`service.suggestions`,
`on_demand`: the crisis check, `similar_to_text` under the read policy, one entry per thread, the
relevance floor, at most `suggestions.max_items`), on a store built by the real ingest path
(`kindred.evaluation.retrieval.eval_store`), every member searchable (opt-out mode), every
channel allowed:

- ``mqp-dev`` (../shared/data/mqp-dev): short patient questions against the corpus of doctors'
  same-intent rewrites (relevant) and hard negatives sharing their key words. Also measured:
  with the rewrite removed (nothing relevant left), the share where nothing is posted.
- ``rmhd27-dev`` (../shared/data/rmhd27-dev): each query is a whole post (left out of its own
  results); relevant = the other posts of its community.

Reported per dataset, with 95% bootstrap intervals over queries: ``hit`` (the share of queries
whose suggestions contain a relevant item), ``nothing`` (the share where nothing is posted:
nothing cleared the floor, or the question read as a crisis, which the crisis path answers
instead), ``precision`` (relevant items among those posted), ``items`` (mean items posted), and
``hit`` and ``nothing`` again over the questions not read as a crisis.
``--limit`` draws that many queries per dataset (seed 0); ``--floor`` sets
`suggestions.relevance_floor` (by default the search floor applies). The last line is one JSON
object. Skips with a message (exit 0) when ../shared is absent.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlmodel import col, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.retrieval import CachingEmbedder, bootstrap  # noqa: E402
from kindred.evaluation.retrieval import EVAL_GUILD, eval_store, read_queries  # noqa: E402
from knowledge.config import KindredSettings  # noqa: E402
from knowledge.embeddings import Embedder, SentenceTransformerEmbedder  # noqa: E402
from knowledge.store.models import Post  # noqa: E402

SHARED = ROOT.parent / "shared"
ASKER = 0  # nobody in the files: the asker of every question


@dataclass(frozen=True)
class Dataset:
    name: str
    posts: Path
    queries: Path
    qrels: Path
    hide_relevant: bool  # also measure with the relevant items removed


def shared_datasets() -> dict[str, Dataset]:
    rmhd, mqp = SHARED / "data/rmhd27-dev", SHARED / "data/mqp-dev"
    return {
        "mqp-dev": Dataset(
            "mqp-dev", mqp / "corpus.jsonl", mqp / "queries_dev.tsv", mqp / "qrels_dev.tsv", True
        ),
        "rmhd27-dev": Dataset(
            "rmhd27-dev",
            rmhd / "posts.jsonl",
            rmhd / "queries_dev.tsv",
            rmhd / "qrels_dev.tsv",
            False,
        ),
    }


def read_qrels(path: Path) -> dict[str, set[str]]:
    """query id -> relevant doc ids (relevance > 0)."""
    relevant: dict[str, set[str]] = defaultdict(set)
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if int(row["relevance"]) > 0:
                relevant[row["query_id"]].add(row["doc_id"])
    return relevant


def interval(values: Sequence[float], rounds: int) -> dict[str, Any]:
    if not values:
        return {"mean": None, "ci95": None, "n": 0}
    mean, low, high = bootstrap(np.asarray(values, dtype=np.float64), rounds)
    return {"mean": round(mean, 4), "ci95": [round(low, 4), round(high, 4)], "n": len(values)}


def evaluate(
    data: Dataset,
    embedder: Embedder,
    rounds: int,
    limit: int | None = None,
    settings: KindredSettings | None = None,
) -> dict[str, Any]:
    """The suggestion figures of one dataset (see the module doc)."""
    queries = read_queries(data.queries)
    if limit is not None and limit < len(queries):
        queries = random.Random(0).sample(queries, limit)
    relevant = read_qrels(data.qrels)
    hit: list[float] = []
    nothing: list[float] = []
    precision: list[float] = []
    items: list[float] = []
    hidden_nothing: list[float] = []
    hit_calm: list[float] = []  # the same, over questions not read as a crisis
    nothing_calm: list[float] = []
    crisis = 0
    started = time.perf_counter()
    with eval_store(data.posts, embedder=embedder, settings=settings) as store:
        service = store.service
        service.privacy.set_search_mode(EVAL_GUILD, "opt_out", by=ASKER)
        with service.store.session() as session:
            channels = set(
                session.exec(
                    select(Post.channel_id).where(col(Post.guild_id) == EVAL_GUILD).distinct()
                ).all()
            )
        suggestions = service.suggestions

        def suggest(text: str, exclude: set[str]) -> tuple[bool, list[str]]:
            outcome = suggestions.on_demand(
                EVAL_GUILD,
                text,
                asker_id=ASKER,
                allowed_channel_ids=channels,
                exclude_keys=exclude,
            )
            return outcome.crisis, [h.external_id for h in outcome.threads]

        for query in queries:
            own = store.posts.get(query.query_id)
            text = query.text if query.text is not None else (own[1] if own else None)
            if not text:
                continue
            exclude = {query.query_id} if query.text is None else set()
            wanted = relevant.get(query.query_id, set())
            in_crisis, posted = suggest(text, exclude)
            crisis += in_crisis
            hit.append(float(bool(set(posted) & wanted)))
            nothing.append(float(not posted))
            if not in_crisis:
                hit_calm.append(hit[-1])
                nothing_calm.append(nothing[-1])
            items.append(float(len(posted)))
            if posted:
                precision.append(sum(p in wanted for p in posted) / len(posted))
            if data.hide_relevant and not in_crisis:
                _, without = suggest(text, exclude | wanted)
                hidden_nothing.append(float(not without))
        floor = suggestions.floor
        posts = len(store.posts)
    figures: dict[str, Any] = {
        "posts": posts,
        "queries": len(hit),
        "crisis_queries": crisis,
        "floor": floor,
        "max_items": suggestions.settings.max_items,
        "hit": interval(hit, rounds),
        "nothing": interval(nothing, rounds),
        "precision": interval(precision, rounds),
        "items": interval(items, rounds),
        "hit_not_crisis": interval(hit_calm, rounds),
        "nothing_not_crisis": interval(nothing_calm, rounds),
        "seconds": round(time.perf_counter() - started, 1),
    }
    if data.hide_relevant:
        figures["relevant_removed_nothing"] = interval(hidden_nothing, rounds)
    return figures


def show(name: str, f: dict[str, Any]) -> None:
    def line(label: str, key: str) -> str:
        v = f[key]
        if v["mean"] is None:
            return f"  {label:34} n/a"
        return f"  {label:34} {v['mean']:.3f}  95% [{v['ci95'][0]:.3f}, {v['ci95'][1]:.3f}]"

    print(
        f"{name}: {f['queries']} queries ({f['crisis_queries']} read as crisis), {f['posts']} "
        f"posts, floor {f['floor']}, up to {f['max_items']} items, {f['seconds']} s"
    )
    print(line("suggestions hold a relevant item", "hit"))
    print(line("nothing posted", "nothing"))
    print(line("relevant share of posted items", "precision"))
    print(line("items posted (mean)", "items"))
    print(line("not crisis: hold a relevant item", "hit_not_crisis"))
    print(line("not crisis: nothing posted", "nothing_not_crisis"))
    if "relevant_removed_nothing" in f:
        print(line("relevant removed: nothing posted", "relevant_removed_nothing"))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dataset", action="append", help="run only these (repeatable)")
    parser.add_argument("--limit", type=int, help="queries drawn per dataset (seed 0)")
    parser.add_argument("--cache", type=Path, help="keep embeddings by text hash in this folder")
    parser.add_argument("--boot", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument(
        "--floor", type=float, help="suggestions.relevance_floor (default: search.relevance_floor)"
    )
    args = parser.parse_args()
    settings = KindredSettings()
    if args.floor is not None:
        tuned = settings.suggestions.model_copy(update={"relevance_floor": args.floor})
        settings = settings.model_copy(update={"suggestions": tuned})
    datasets = shared_datasets()
    chosen = args.dataset or list(datasets)
    missing = [n for n in chosen if not datasets[n].posts.exists()]
    summary: dict[str, Any] = {"benchmark": "suggestions", "limit": args.limit, "floor": args.floor}
    for name in missing:
        print(f"skipped {name}: {datasets[name].posts.parent} is absent")
        summary[name] = {"skipped": "data absent"}
    inner = SentenceTransformerEmbedder() if len(missing) < len(chosen) else None
    embedder: Embedder | None = inner
    if inner is not None and args.cache:
        embedder = CachingEmbedder(inner, args.cache)
    started = time.perf_counter()
    for name in chosen:
        if name in missing or embedder is None:
            continue
        figures = evaluate(datasets[name], embedder, args.boot, args.limit, settings)
        if isinstance(embedder, CachingEmbedder):
            embedder.save()
        show(name, figures)
        summary[name] = figures
    summary["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
