"""`kindred eval crisis --posts P --out S`: each post's safety level, through the bot's own path.

The posts are ingested into a throwaway store exactly as live messages are (cleaned, embedded, then
assessed with the vector ingest computed), and the level ingest recorded for each post is written.
POSTS.jsonl has one JSON object a line with at least `id` and `text`; SCAN.jsonl gets one line per
readable post, `{"id": ..., "level": "none" | "concern" | "crisis"}`, in input order (a post ingest
skips, such as an empty one, is `none`). A malformed line is counted and skipped, never logged.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from kindred.evaluation.retrieval import EVAL_GUILD, eval_store
from kindred.files.jsonl import read_posts
from knowledge.config import KindredSettings
from knowledge.embeddings import HashingEmbedder
from knowledge.records import Skip
from knowledge.safety.assessment import SafetyAssessor, SafetyLevel


def scan_posts(
    posts_path: str | Path,
    out_path: str | Path,
    assessor: SafetyAssessor,
    settings: KindredSettings | None = None,
) -> dict[str, Any]:
    """Assess every post via ingest and write SCAN.jsonl; return counts by level and timings."""
    source, target = Path(posts_path), Path(out_path)
    order: list[str] = []
    malformed: list[int] = []
    for item in read_posts(source, 1):
        if isinstance(item, Skip):
            malformed.append(item.line or 0)
        else:
            order.append(item.record.external_id)
    # Without a model the assessor ignores vectors, so a cheap embedder is enough to ingest.
    embedder = assessor.embedder or HashingEmbedder()
    started = time.perf_counter()
    with eval_store(source, embedder=embedder, safety=assessor, settings=settings) as store:
        stored = store.service.stored_posts(EVAL_GUILD)
        levels = {post.external_id: post.crisis_level for post in stored}
    seconds = time.perf_counter() - started
    counts: Counter[str] = Counter({level.value: 0 for level in SafetyLevel})
    with target.open("w", encoding="utf-8") as out:
        for external_id in dict.fromkeys(order):
            level = levels.get(external_id, SafetyLevel.NONE.value)
            counts[level] += 1
            out.write(json.dumps({"id": external_id, "level": level}) + "\n")
    total = sum(counts.values())
    return {
        "posts": total,
        "levels": dict(counts),
        "malformed_lines": len(malformed),
        "malformed_line_numbers": malformed[:100],
        "seconds": round(seconds, 3),
        "posts_per_second": round(total / seconds, 2) if seconds else None,
    }
