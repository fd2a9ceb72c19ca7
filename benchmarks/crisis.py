"""Crisis detection on rmhd27-dev, cross-validated: suicidewatch recall, control false alarms.

    .venv/bin/python benchmarks/crisis.py [--cache DIR] [--folds 5] [--repeats 1] [--scan]
    .venv/bin/python benchmarks/crisis.py --write-model [--cache DIR]   # retrain shipped weights

Stratified k-fold cross-validation over ../shared/data/rmhd27-dev/posts.jsonl: in each outer fold
the classifier is trained on the other folds' posts (r/suicidewatch positive, the ten control
communities negative, the other mental-health communities left out) plus the written examples,
its two thresholds are chosen by an inner cross-validation on those training posts only, and the
held-out fold is assessed by the real `SafetyAssessor` (phrase rules + classifier) from the vectors
ingest computes. Figures are pooled over the held-out folds with Wilson 95% intervals (and the
spread over repeats with other fold seeds). Also printed: how often each community is flagged
(the other mental-health communities are not a target: they are reported, not tuned), the
acceptance check, the assessment cost per post with and without a precomputed vector, and one
JSON object as the last line. `--scan` also runs `kindred eval crisis`'s path (ingest into a
throwaway store) with the shipped model on all posts: an in-sample figure, since the shipped model
was trained on these posts. Exits 0 with a message when ../shared is absent.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
POSTS = SHARED / "data" / "rmhd27-dev" / "posts.jsonl"
METRICS = SHARED / "tools" / "metrics.py"
TARGETS = {"flagged": (0.90, 0.03), "crisis": (0.80, 0.01)}

sys.path.insert(0, str(ROOT))

from knowledge.config import IngestSettings  # noqa: E402
from knowledge.embeddings import Embedder, SentenceTransformerEmbedder, Vectors  # noqa: E402
from knowledge.safety.assessment import SafetyAssessor, SafetySettings  # noqa: E402
from knowledge.safety.model import (  # noqa: E402
    Corpus,
    corpus_labels,
    example_rows,
    examples_digest,
    load_examples,
    train_with_corpus,
    write_model,
)
from knowledge.text import clean_post_text  # noqa: E402


def wilson(hits: int, total: int) -> list[float]:
    """[rate, low, high]: the Wilson score 95% interval of a proportion."""
    if total == 0:
        return [0.0, 0.0, 0.0]
    z, rate = 1.96, hits / total
    scale = 1 + z * z / total
    centre = (rate + z * z / (2 * total)) / scale
    half = z * math.sqrt(rate * (1 - rate) / total + z * z / (4 * total * total)) / scale
    return [round(rate, 4), round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def load_posts() -> list[dict[str, Any]]:
    """rmhd27 posts with `text` cleaned as ingest stores (and embeds) it."""
    limit = IngestSettings().max_post_chars
    posts = [json.loads(line) for line in POSTS.open(encoding="utf-8") if line.strip()]
    for post in posts:
        post["text"] = clean_post_text(post["text"], limit).text
    return posts


def cached_vectors(embedder: Embedder, texts: list[str], cache: Path | None) -> Vectors:
    """The vectors ingest would compute, kept in `cache` (keyed by model and texts)."""
    key = hashlib.sha256(embedder.name.encode())
    for text in texts:
        key.update(hashlib.sha256(text.encode()).digest())
    path = cache / f"vectors-{key.hexdigest()[:16]}.npy" if cache else None
    if path is not None and path.exists():
        return np.asarray(np.load(path), dtype=np.float32)
    vectors = embedder.encode(texts)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
    return vectors


def cross_validate(
    posts: list[dict[str, Any]],
    corpus: Corpus,
    extra: tuple[Vectors, Any],
    embedder: Embedder,
    folds: int,
    seed: int,
) -> list[str]:
    """The level of every post as assessed by a model that never saw it nor tuned on it."""
    from sklearn.model_selection import StratifiedKFold

    strata = np.where(corpus.positive, 2, np.where(corpus.control, 0, 1))
    levels = ["none"] * len(posts)
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for train_rows, test_rows in splitter.split(corpus.vectors, strata):
        model = train_with_corpus(embedder.name, corpus, train_rows, extra, "cv", "cv fold")
        settings = SafetySettings(
            concern_threshold=model.thresholds["concern"],
            corroborated_threshold=model.thresholds["corroborated"],
            crisis_threshold=model.thresholds["crisis"],
        )
        assessor = SafetyAssessor(embedder, settings, model=model)
        texts = [posts[i]["text"] for i in test_rows]
        verdicts = assessor.assess_many(texts, corpus.vectors[test_rows])
        for row, verdict in zip(test_rows, verdicts, strict=True):
            levels[int(row)] = verdict.level.value
    return levels


def figures(posts: list[dict[str, Any]], levels: list[str], corpus: Corpus) -> dict[str, Any]:
    flagged = np.asarray([level != "none" for level in levels])
    crisis = np.asarray([level == "crisis" for level in levels])
    other = ~corpus.positive & ~corpus.control
    pos, ctl = corpus.positive, corpus.control
    return {
        "recall_flagged": wilson(int(flagged[pos].sum()), int(pos.sum())),
        "fpr_flagged": wilson(int(flagged[ctl].sum()), int(ctl.sum())),
        "recall_crisis": wilson(int(crisis[pos].sum()), int(pos.sum())),
        "fpr_crisis": wilson(int(crisis[ctl].sum()), int(ctl.sum())),
        "other_mental_health_flagged": wilson(int(flagged[other].sum()), int(other.sum())),
        "other_mental_health_crisis": wilson(int(crisis[other].sum()), int(other.sum())),
    }


def community_rates(posts: list[dict[str, Any]], levels: list[str]) -> dict[str, list[float]]:
    by: dict[str, list[str]] = {}
    for post, level in zip(posts, levels, strict=True):
        by.setdefault(post["subreddit"], []).append(level)
    return {
        name: [
            round(sum(v != "none" for v in values) / len(values), 3),
            round(sum(v == "crisis" for v in values) / len(values), 3),
        ]
        for name, values in sorted(by.items())
    }


def acceptance(result: dict[str, Any]) -> dict[str, bool]:
    (recall, fpr), (crisis_recall, crisis_fpr) = TARGETS["flagged"], TARGETS["crisis"]
    return {
        "flagged": result["recall_flagged"][0] >= recall and result["fpr_flagged"][0] <= fpr,
        "crisis": result["recall_crisis"][0] >= crisis_recall
        and result["fpr_crisis"][0] <= crisis_fpr,
    }


def timing(embedder: Embedder, texts: list[str], vectors: Vectors) -> dict[str, float]:
    """Milliseconds per post: assessment from ingest's vector, phrases alone, and the embedding."""
    assessor = SafetyAssessor(embedder)
    assessor.assess_many(texts[:4], vectors[:4])  # load the weights outside the clock
    runs: list[float] = []
    for _ in range(3):
        tick = time.perf_counter()
        assessor.assess_many(texts, vectors)
        runs.append(time.perf_counter() - tick)
    phrases = SafetyAssessor(None)
    tick = time.perf_counter()
    phrases.assess_many(texts)
    t_phrases = time.perf_counter() - tick
    sample = texts[:64]
    embedder.encode(sample[:2])
    tick = time.perf_counter()
    embedder.encode(sample)
    t_embed = time.perf_counter() - tick
    return {
        "timing_posts": len(texts),
        "assess_ms_per_post_with_vector": round(1000 * float(np.median(runs)) / len(texts), 3),
        "phrases_ms_per_post": round(1000 * t_phrases / len(texts), 3),
        "embed_ms_per_post_for_comparison": round(1000 * t_embed / len(sample), 2),
    }


def scan_in_sample(embedder: Embedder) -> dict[str, Any]:
    """`kindred eval crisis` path with the shipped model, scored by ../shared/tools/metrics.py."""
    from kindred.evaluation.crisis import scan_posts

    spec = importlib.util.spec_from_file_location("shared_metrics", METRICS)
    assert spec is not None and spec.loader is not None
    metrics = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(metrics)
    with tempfile.TemporaryDirectory() as tmp:
        scan = Path(tmp) / "scan.jsonl"
        summary = scan_posts(POSTS, scan, SafetyAssessor(embedder))
        scores: dict[str, Any] = metrics.crisis(str(scan), str(POSTS))
    return {"in_sample_scan": scores, "scan_posts_per_s": summary["posts_per_second"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=None, help="keep post vectors here")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=1, help="CV runs with other fold seeds")
    parser.add_argument("--timing", type=int, default=500, help="posts for the timing run")
    parser.add_argument("--scan", action="store_true", help="also the in-sample ingest scan")
    parser.add_argument("--write-model", action="store_true", help="retrain the shipped weights")
    args = parser.parse_args()
    if not POSTS.exists():
        print(f"skipped: {POSTS} not found (../shared is absent)")
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    embedder = SentenceTransformerEmbedder()
    posts = load_posts()
    texts = [post["text"] for post in posts]
    vectors = cached_vectors(embedder, texts, args.cache)
    positive, control = corpus_labels([p["subreddit"] for p in posts], [p["group"] for p in posts])
    corpus = Corpus(vectors, positive, control)
    if args.write_model:
        print(f"wrote {write_model(embedder, corpus)}")
        return 0
    examples = load_examples()
    example_texts, example_labels = example_rows(examples)
    extra = (cached_vectors(embedder, example_texts, args.cache), example_labels)
    runs = []
    for repeat in range(args.repeats):
        levels = cross_validate(posts, corpus, extra, embedder, args.folds, 1000 + repeat)
        runs.append(figures(posts, levels, corpus))
        if repeat == 0:
            for name, (flag, crisis) in community_rates(posts, levels).items():
                print(f"{name:20s} flagged {flag:.3f}  crisis {crisis:.3f}")
    result: dict[str, Any] = {
        "cv": f"stratified {args.folds}-fold, thresholds by inner {args.folds}-fold CV",
        "examples_digest": examples_digest(examples),
        **runs[0],
    }
    if args.repeats > 1:
        result["repeats"] = {
            key: [round(min(r[key][0] for r in runs), 4), round(max(r[key][0] for r in runs), 4)]
            for key in runs[0]
        }
    result["acceptance"] = acceptance(runs[0])
    print(
        "acceptance (CV point estimates): concern-or-crisis recall >= 0.90 at FPR <= 0.03: "
        f"{result['acceptance']['flagged']}; crisis recall >= 0.80 at FPR <= 0.01: "
        f"{result['acceptance']['crisis']}"
    )
    if args.timing > 0:
        result.update(timing(embedder, texts[: args.timing], vectors[: args.timing]))
    if args.scan:
        result.update(scan_in_sample(embedder))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
