"""`kindred eval matching`: rank fellow members through the code `/connect` uses, on files.

POSTS.jsonl has `id`, `text` and `author` (every author a member who agreed to be matched: each
is marked `matchable` in the throwaway store). QUERIES.tsv has a header with `query_id`, a post
id: its author is the asker, left out of the ranking. RUN.tsv gets
`query_id, member_id, rank, score`, ranks from 1, up to k per query; `member_id` is the author
exactly as POSTS gives it. A query whose asker posted at crisis level recently gets no ranking
(members are offered resources instead) and is counted as `offered_resources`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kindred.evaluation.retrieval import (
    EVAL_GUILD,
    EvalStore,
    Query,
    ServiceFactory,
    eval_store,
    read_queries,
)
from kindred.files.jsonl import DEFAULT_AUTHOR, author_id_for
from kindred.files.loading import FILE_ADMIN_ID
from knowledge.config import KindredSettings
from knowledge.embeddings import Embedder
from knowledge.matching import Matches


def given_authors(posts_path: Path) -> dict[int, str]:
    """Kindred's author id -> the author as the file gives it (names and numbers alike)."""
    out: dict[int, str] = {}
    with posts_path.open(encoding="utf-8-sig", errors="replace") as handle:
        for line in handle:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if not isinstance(obj, dict):
                continue
            author = obj.get("author")
            if author in (None, ""):
                author = DEFAULT_AUTHOR  # as the loader reads a post without one
            if isinstance(author, str | int) and not isinstance(author, bool):
                out.setdefault(author_id_for(author, EVAL_GUILD), str(author))
    return out


@dataclass
class MatchingStore:
    """POSTS in a throwaway store, every author matchable; answers queries as `/connect` does."""

    store: EvalStore
    authors: dict[int, str]  # author id -> as given
    post_authors: dict[str, int]  # post id -> author id

    def rank(self, query_id: str, k: int) -> list[tuple[str, float]] | None:
        """Top-k (member as given, score) for the author of post `query_id`; None when the
        asker is offered resources instead; [] for an unknown post."""
        asker = self.post_authors.get(query_id)
        if asker is None:
            return []
        outcome = self.store.service.matching.rank_members(
            EVAL_GUILD, asker, post_external_id=query_id, limit=k
        )
        if not isinstance(outcome, Matches):
            return None
        return [(self.authors.get(m.member_id, str(m.member_id)), m.score) for m in outcome.members]

    def run(self, queries: list[Query], k: int) -> tuple[list[str], int, float]:
        """RUN.tsv lines for every query, how many askers were offered resources, seconds."""
        started = time.perf_counter()
        lines: list[str] = []
        offered = 0
        for query in queries:
            ranked = self.rank(query.query_id, k)
            if ranked is None:
                offered += 1
                continue
            lines += [
                f"{query.query_id}\t{member}\t{rank}\t{score:.6f}\n"
                for rank, (member, score) in enumerate(ranked, start=1)
            ]
        return lines, offered, time.perf_counter() - started


@contextmanager
def matching_store(
    posts_path: Path,
    *,
    embedder: Embedder | None = None,
    settings: KindredSettings | None = None,
    progress: Callable[[int], None] | None = None,
    make_service: ServiceFactory | None = None,
) -> Iterator[MatchingStore]:
    """Index POSTS into a temporary store (deleted afterwards) through the real ingest path and
    mark every author matchable. `make_service` builds the service (the CLI's factory, so its
    tests can use the fake model); by default it is built with `embedder`."""
    with eval_store(
        posts_path,
        embedder=embedder,
        settings=settings,
        progress=progress,
        make_service=make_service,
    ) as store:
        for author in sorted(set(store.authors.values())):
            store.service.privacy.set_consent(EVAL_GUILD, author, matchable=True, by=FILE_ADMIN_ID)
        yield MatchingStore(store, given_authors(posts_path), store.authors)


def write_run(path: Path, lines: list[str]) -> None:
    path.write_text("query_id\tmember_id\trank\tscore\n" + "".join(lines), encoding="utf-8")


def run_matching_eval(
    posts_path: Path,
    queries_path: Path,
    out_path: Path,
    *,
    k: int = 10,
    embedder: Embedder | None = None,
    settings: KindredSettings | None = None,
    progress: Callable[[int], None] | None = None,
    make_service: ServiceFactory | None = None,
) -> dict[str, Any]:
    """Index POSTS, rank members for each query, write RUN.tsv; return counts and timings."""
    queries = read_queries(queries_path)
    with matching_store(
        posts_path,
        embedder=embedder,
        settings=settings,
        progress=progress,
        make_service=make_service,
    ) as matching:
        report, ingest_seconds = matching.store.report, matching.store.ingest_seconds
        members = len(set(matching.post_authors.values()))
        unknown = sum(q.query_id not in matching.post_authors for q in queries)
        lines, offered, seconds = matching.run(queries, k)
    write_run(out_path, lines)
    return {
        "posts": report.received,
        "indexed": report.inserted + report.updated + report.unchanged,
        "skipped": len(report.skipped),
        "members": members,
        "queries": len(queries),
        "answered": len({line.split("\t", 1)[0] for line in lines}),
        "offered_resources": offered,
        "unknown_queries": unknown,
        "k": k,
        "ingest_seconds": round(ingest_seconds, 3),
        "match_seconds": round(seconds, 3),
        "ms_per_query": round(1000 * seconds / max(1, len(queries)), 2),
    }
