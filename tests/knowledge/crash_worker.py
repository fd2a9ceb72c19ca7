"""Ingests N synthetic posts in batches, printing a line per batch (killed by test_crash.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from knowledge.embeddings import HashingEmbedder
from knowledge.service import KnowledgeService
from tests.conftest import GUILD, enable, make_settings, post

WORDS = [
    "pain",
    "fatigue",
    "insulin",
    "sleep",
    "panic",
    "flare",
    "nausea",
    "migraine",
    "joints",
    "fog",
]


def records(n: int) -> list:  # type: ignore[type-arg]
    return [
        post(f"m{i}", f"post {i}: {WORDS[i % 10]} {WORDS[(i * 7) % 10]} day {i % 31}", minutes=i)
        for i in range(n)
    ]


def main(data_dir: str, n: int) -> None:
    settings = make_settings(Path(data_dir))
    settings = settings.model_copy(
        update={"ingest": settings.ingest.model_copy(update={"batch_size": 200})}
    )
    service = KnowledgeService(settings, embedder=HashingEmbedder())
    service.start()
    enable(service, GUILD, 1)

    def tick(count: int) -> None:
        service.flush()
        print("batch", count, flush=True)

    service.ingest(records(n), tick)
    service.close()
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
