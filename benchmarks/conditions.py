"""Condition tagging precision and recall on the project's labelled sample.

    python benchmarks/conditions.py [--sample benchmarks/data/conditions_sample.jsonl] [--errors]

The sample (written for Kindred, no text copied from anywhere) holds sentences with the tags a
careful reader would give: ``member`` (the writer's own conditions) and ``carer`` (conditions of
someone the writer cares about). Negated, uncertain and general mentions ("people with BPD") and
weak evidence (shared symptoms) must make no tag; another person's condition must make a
``carer`` tag, never a ``member`` one.

A predicted tag is correct when a gold tag of the same role names the same condition, its parent
or its child (the vocabulary's "type 1 diabetes" for a gold "diabetes" counts). Precision and
recall are over (sentence, condition, role) tags, overall and per kind of sentence. The last line
is one JSON object; the exit code is 1 when precision < 0.90 or recall < 0.85.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge.conditions import ConditionTagger, default_tagger  # noqa: E402

SAMPLE = ROOT / "benchmarks" / "data" / "conditions_sample.jsonl"
MIN_PRECISION = 0.90
MIN_RECALL = 0.85


def related(tagger: ConditionTagger, a: str, b: str) -> bool:
    """Same condition, or one is an ancestor of the other in the vocabulary."""
    if a == b:
        return True

    def chain(cid: str) -> set[str]:
        out = set()
        parent = tagger.get(cid).parent
        while parent is not None and parent not in out:
            out.add(parent)
            parent = tagger.get(parent).parent
        return out

    return a in chain(b) or b in chain(a)


def score(tagger: ConditionTagger, rows: list[dict[str, Any]]) -> dict[str, Any]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # tp_p, pred, tp_g, gold
    errors: list[str] = []
    for row in rows:
        gold = [(c, "member") for c in row["member"]] + [(c, "carer") for c in row["carer"]]
        pred = [(t.condition_id, t.role) for t in tagger.tags(row["text"])]
        good_pred = [
            p for p in pred if any(p[1] == g[1] and related(tagger, p[0], g[0]) for g in gold)
        ]
        found = [g for g in gold if any(p[1] == g[1] and related(tagger, p[0], g[0]) for p in pred)]
        for key in ("all", row.get("kind", "other")):
            c = counts[key]
            c[0] += len(good_pred)
            c[1] += len(pred)
            c[2] += len(found)
            c[3] += len(gold)
        if len(good_pred) < len(pred) or len(found) < len(gold):
            errors.append(f"{row['id']}: {row['text']!r} gold={gold} predicted={pred}")
    figures: dict[str, Any] = {}
    for key, (tp_p, n_pred, tp_g, n_gold) in sorted(counts.items()):
        figures[key] = {
            "precision": round(tp_p / n_pred, 4) if n_pred else 1.0,
            "recall": round(tp_g / n_gold, 4) if n_gold else 1.0,
            "predicted": n_pred,
            "gold": n_gold,
        }
    figures["errors"] = errors
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=SAMPLE)
    parser.add_argument("--errors", action="store_true", help="list the sentences tagged wrong")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.sample.read_text("utf-8").splitlines() if line]
    tagger = default_tagger()
    started = time.perf_counter()
    figures = score(tagger, rows)
    seconds = time.perf_counter() - started
    errors = figures.pop("errors")
    print(f"{len(rows)} sentences, {figures['all']['gold']} gold tags")
    for key, f in figures.items():
        print(
            f"  {key:30} precision {f['precision']:.3f} ({f['predicted']} predicted)  "
            f"recall {f['recall']:.3f} ({f['gold']} gold)"
        )
    if args.errors:
        print("\n".join(errors))
    overall = figures["all"]
    ok = overall["precision"] >= MIN_PRECISION and overall["recall"] >= MIN_RECALL
    summary = {
        "benchmark": "conditions",
        "sentences": len(rows),
        "precision": overall["precision"],
        "recall": overall["recall"],
        "by_kind": {k: v for k, v in figures.items() if k != "all"},
        "wrong_sentences": len(errors),
        "thresholds": {"precision": MIN_PRECISION, "recall": MIN_RECALL},
        "passed": ok,
        "seconds": round(seconds, 3),
    }
    print(json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
