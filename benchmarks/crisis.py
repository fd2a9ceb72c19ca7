"""Crisis detection on rmhd27-dev: recall on suicidewatch, false alarms on the control communities.

    .venv/bin/python benchmarks/crisis.py [--phrases-only] [--sample N]

Runs `scan_posts` (the bot's path, packaged MiniLM model) on ../shared/data/rmhd27-dev/posts.jsonl,
scores the scan with the `crisis` logic of ../shared/tools/metrics.py, adds how often the hard
negative communities (depression, lonely, ...) are flagged, times `assess_many` with and without
precomputed vectors, and prints one JSON object as the last line. Exits 0 with a message when
../shared is absent.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
POSTS = SHARED / "data" / "rmhd27-dev" / "posts.jsonl"
METRICS = SHARED / "tools" / "metrics.py"
HARD_NEGATIVES = ("depression", "lonely", "ForeverAlone", "mentalhealth", "bpd")

sys.path.insert(0, str(ROOT))

from kindred.evaluation.crisis import scan_posts  # noqa: E402
from knowledge.embeddings import SentenceTransformerEmbedder  # noqa: E402
from knowledge.safety.assessment import SafetyAssessor  # noqa: E402


def _metrics_module() -> Any:
    spec = importlib.util.spec_from_file_location("shared_metrics", METRICS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _community_rates(scan: Path) -> dict[str, dict[str, float]]:
    levels = {}
    for line in scan.open(encoding="utf-8"):
        record = json.loads(line)
        levels[str(record["id"])] = record["level"]
    by_community: dict[str, list[str]] = defaultdict(list)
    for line in POSTS.open(encoding="utf-8"):
        post = json.loads(line)
        by_community[post["subreddit"]].append(levels.get(post["id"], "none"))
    return {
        name: {
            "flagged": round(sum(v != "none" for v in values) / len(values), 4),
            "crisis": round(sum(v == "crisis" for v in values) / len(values), 4),
        }
        for name, values in sorted(by_community.items())
    }


def _timing(sample: int) -> dict[str, float]:
    """posts/s of assess_many on the same posts, with and without precomputed vectors."""
    texts = [json.loads(line)["text"] for line in POSTS.open(encoding="utf-8")][:sample]
    embedder = SentenceTransformerEmbedder()
    assessor = SafetyAssessor(embedder)
    assessor.assess_many(texts[:8])  # load model and weights outside the clock
    tick = time.perf_counter()
    without = assessor.assess_many(texts)
    t_without = time.perf_counter() - tick
    vectors = embedder.encode(texts)
    tick = time.perf_counter()
    with_vectors = assessor.assess_many(texts, vectors)
    t_with = time.perf_counter() - tick
    same = sum(a.level == b.level for a, b in zip(without, with_vectors, strict=True))
    phrases_only = SafetyAssessor(None)
    tick = time.perf_counter()
    phrases_only.assess_many(texts)
    t_phrases = time.perf_counter() - tick
    return {
        "timing_posts": len(texts),
        "posts_per_s_without_vectors": round(len(texts) / t_without, 1),
        "posts_per_s_with_vectors": round(len(texts) / t_with, 1),
        "posts_per_s_phrases_only": round(len(texts) / t_phrases, 1),
        "same_level_with_and_without_vectors": round(same / len(texts), 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phrases-only", action="store_true", help="embedder=None")
    parser.add_argument("--sample", type=int, default=300, help="posts for the timing runs")
    args = parser.parse_args()
    if not POSTS.exists() or not METRICS.exists():
        print(f"skipped: {POSTS} or {METRICS} not found (../shared is absent)")
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    assessor = SafetyAssessor(None if args.phrases_only else SentenceTransformerEmbedder())
    with tempfile.TemporaryDirectory() as tmp:
        scan = Path(tmp) / "scan.jsonl"
        summary = scan_posts(POSTS, scan, assessor)
        scores = _metrics_module().crisis(str(scan), str(POSTS))
        communities = _community_rates(scan)
    print(json.dumps({"scan": summary}))
    for name, rates in communities.items():
        print(f"{name:20s} flagged {rates['flagged']:.3f}  crisis {rates['crisis']:.3f}")
    result: dict[str, Any] = {
        "mode": "phrases-only" if args.phrases_only else "phrases+similarity",
        "recall_suicidewatch_flagged": scores["recall_suicidewatch"],
        "fpr_control_flagged": scores["fpr_control"],
        "recall_suicidewatch_crisis": scores["recall_suicidewatch_crisis_level"],
        "fpr_control_crisis": scores["fpr_control_crisis_level"],
        "depression_flagged": communities["depression"]["flagged"],
        "depression_crisis": communities["depression"]["crisis"],
        "hard_negatives_flagged": {n: communities[n]["flagged"] for n in HARD_NEGATIVES},
        "scanned": scores["scanned"],
        "posts": scores["posts"],
        "scan_posts_per_s": summary["posts_per_second"],
    }
    if not args.phrases_only and args.sample > 0:
        result.update(_timing(args.sample))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
