"""`kindred eval retrieval`: the real ingest and search paths on a throwaway store."""

from __future__ import annotations

import csv
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import select

from knowledge.config import KindredSettings
from knowledge.embeddings import Embedder
from knowledge.errors import InvalidInput
from knowledge.loading import load_file
from knowledge.models import Post
from knowledge.retrieval import Mode
from knowledge.scope import SearchScope
from knowledge.service import KnowledgeService
from knowledge.text import clean_query

EVAL_GUILD = 1
csv.field_size_limit(sys.maxsize)


@dataclass(frozen=True)
class Query:
    query_id: str
    text: str | None


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
    """Index POSTS into a temporary store, answer QUERIES, write RUN.tsv; return counts, timings."""
    queries = read_queries(queries_path)
    base = settings or KindredSettings()
    with tempfile.TemporaryDirectory(prefix="kindred-eval-") as tmp:
        service = KnowledgeService(base.with_data_dir(Path(tmp)), embedder=embedder)
        try:
            started = time.perf_counter()
            loaded = load_file(service, posts_path, EVAL_GUILD, progress)
            ingest_seconds = time.perf_counter() - started
            with service.store.session() as session:
                rows = session.exec(
                    select(Post.id, Post.external_id, Post.content).where(
                        Post.guild_id == EVAL_GUILD
                    )
                ).all()
            by_external = {ext: (int(pid or 0), text) for pid, ext, text in rows}
            started = time.perf_counter()
            answered, lines = 0, []
            for query in queries:
                ranked = _answer(service, query, by_external, k, mode)
                answered += bool(ranked)
                for rank, (doc_id, score) in enumerate(ranked, start=1):
                    lines.append(f"{query.query_id}\t{doc_id}\t{rank}\t{score:.6f}\n")
            search_seconds = time.perf_counter() - started
        finally:
            service.close()
    out_path.write_text("query_id\tdoc_id\trank\tscore\n" + "".join(lines), encoding="utf-8")
    report = loaded.report
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


def _answer(
    service: KnowledgeService,
    query: Query,
    by_external: dict[str, tuple[int, str]],
    k: int,
    mode: Mode,
) -> list[tuple[str, float]]:
    exclude: frozenset[int] = frozenset()
    text = query.text
    if text is None:
        found = by_external.get(query.query_id)
        if found is None:
            return []
        exclude = frozenset({found[0]})
        text = found[1]
    scope = SearchScope(guild_id=EVAL_GUILD, exclude_post_ids=exclude)
    try:
        cleaned = clean_query(text, max(len(text), 1) + 1)
    except InvalidInput:
        return []
    ranked = service.searcher.ranked_ids(cleaned, scope, k, mode)
    ids = {pid: ext for ext, (pid, _) in by_external.items()}
    return [(ids[pid], score) for pid, score in ranked if pid in ids]
