"""`kindred eval retrieval`: the real ingest and search paths on a throwaway store."""

from __future__ import annotations

import csv
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kindred.files.loading import load_file
from knowledge.config import KindredSettings
from knowledge.embeddings import Embedder
from knowledge.errors import InvalidInput
from knowledge.records import IngestReport
from knowledge.safety.assessment import SafetyAssessor
from knowledge.scope import SearchScope
from knowledge.search.fusion import Mode
from knowledge.service import KnowledgeService
from knowledge.text import clean_query

EVAL_GUILD = 1
csv.field_size_limit(sys.maxsize)


@dataclass(frozen=True)
class Query:
    query_id: str
    text: str | None


ServiceFactory = Callable[[KindredSettings], KnowledgeService]


@dataclass
class EvalStore:
    """A throwaway store holding POSTS, with the map from file ids to post rows."""

    service: KnowledgeService
    report: IngestReport
    posts: dict[str, tuple[int, str]]
    ingest_seconds: float
    authors: dict[str, int]  # file post id -> the author id Kindred stored

    def answer(self, query: Query, k: int, mode: Mode) -> list[tuple[str, float]]:
        """Top-k (doc id, score); a query without text is its post, excluded from its results."""
        exclude: frozenset[int] = frozenset()
        text = query.text
        if text is None:
            found = self.posts.get(query.query_id)
            if found is None:
                return []
            exclude, text = frozenset({found[0]}), found[1]
        try:
            cleaned = clean_query(text, len(text) + 1)
        except InvalidInput:
            return []
        # Ranking is measured over every post (a moderator's view): hiding crisis posts from
        # other members is a visibility rule with its own tests, not part of retrieval quality.
        scope = SearchScope(guild_id=EVAL_GUILD, exclude_post_ids=exclude, moderator_view=True)
        ranked = self.service.searcher.ranked_ids(cleaned, scope, k, mode)
        ids = {pid: ext for ext, (pid, _) in self.posts.items()}
        return [(ids[pid], score) for pid, score in ranked if pid in ids]

    def run(self, queries: list[Query], k: int, mode: Mode) -> tuple[list[str], float]:
        """RUN.tsv lines for every query, and the seconds it took."""
        started = time.perf_counter()
        lines = [
            f"{query.query_id}\t{doc_id}\t{rank}\t{score:.6f}\n"
            for query in queries
            for rank, (doc_id, score) in enumerate(self.answer(query, k, mode), start=1)
        ]
        return lines, time.perf_counter() - started


def read_queries(path: Path) -> list[Query]:
    """QUERIES.tsv: a header with `query_id` and optionally `text`."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        if reader.fieldnames is None or "query_id" not in reader.fieldnames:
            raise ValueError(f"{path}: the header needs a query_id column")
        return [
            Query(row["query_id"], (row.get("text") or "").strip() or None)
            for row in reader
            if row.get("query_id")
        ]


@contextmanager
def eval_store(
    posts_path: Path,
    *,
    embedder: Embedder | None = None,
    settings: KindredSettings | None = None,
    progress: Callable[[int], None] | None = None,
    safety: SafetyAssessor | None = None,
    make_service: ServiceFactory | None = None,
) -> Iterator[EvalStore]:
    """Index POSTS into a temporary store (deleted afterwards) through the real ingest path.
    `make_service` builds the service (the CLI's factory, so its tests can use the fake model);
    by default it is built with `embedder` and `safety`."""
    base = settings or KindredSettings()
    with tempfile.TemporaryDirectory(prefix="kindred-eval-") as tmp:
        scoped = base.with_data_dir(Path(tmp))
        if make_service is None:
            service = KnowledgeService(scoped, embedder=embedder, safety=safety)
        else:
            service = make_service(scoped)
        try:
            started = time.perf_counter()
            loaded = load_file(service, posts_path, EVAL_GUILD, progress)
            seconds = time.perf_counter() - started
            stored = service.stored_posts(EVAL_GUILD)
            posts = {p.external_id: (int(p.id or 0), p.content) for p in stored}
            authors = {p.external_id: int(p.author_id) for p in stored}
            yield EvalStore(service, loaded.report, posts, seconds, authors)
        finally:
            service.close()


def write_run(path: Path, lines: list[str]) -> None:
    path.write_text("query_id\tdoc_id\trank\tscore\n" + "".join(lines), encoding="utf-8")


def run_retrieval_eval(
    posts_path: Path,
    queries_path: Path,
    out_path: Path,
    *,
    k: int = 10,
    mode: Mode = "hybrid",
    embedder: Embedder | None = None,
    settings: KindredSettings | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Index POSTS, answer QUERIES, write RUN.tsv; return counts and timings."""
    queries = read_queries(queries_path)
    with eval_store(posts_path, embedder=embedder, settings=settings, progress=progress) as store:
        lines, search_seconds = store.run(queries, k, mode)
        answered = len({line.split("\t", 1)[0] for line in lines})
        report, ingest_seconds = store.report, store.ingest_seconds
    write_run(out_path, lines)
    return {
        "posts": report.received,
        "indexed": report.inserted + report.updated + report.unchanged,
        "skipped": len(report.skipped),
        "queries": len(queries),
        "answered": answered,
        "k": k,
        "mode": mode,
        "ingest_seconds": round(ingest_seconds, 3),
        "search_seconds": round(search_seconds, 3),
        "ms_per_query": round(1000 * search_seconds / max(1, len(queries)), 2),
    }
