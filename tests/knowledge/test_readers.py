"""Searches before bulk writes: a writer steps aside, bounded, while searches run."""

from __future__ import annotations

import threading
import time

from knowledge.config import IngestSettings
from knowledge.ingest import Ingestor
from knowledge.scope import SearchScope
from knowledge.service import KnowledgeService
from knowledge.store.readers import ReaderPriority
from tests.conftest import GUILD, enable_open, post


def test_a_writer_does_not_wait_when_nobody_searches() -> None:
    readers = ReaderPriority(max_pause=1.0)
    started = time.monotonic()
    assert readers.pause_writer() == 0.0
    assert time.monotonic() - started < 0.05


def test_a_writer_waits_until_the_search_ends() -> None:
    readers = ReaderPriority(max_pause=5.0)
    searching = threading.Event()
    release = threading.Event()

    def search() -> None:
        with readers.reading():
            searching.set()
            release.wait(5)

    thread = threading.Thread(target=search)
    thread.start()
    searching.wait(5)
    threading.Timer(0.2, release.set).start()
    waited = readers.pause_writer()
    thread.join()
    assert 0.15 <= waited < 2.0  # it waited for the search, and no longer
    assert readers.active == 0


def test_pauses_are_bounded_per_call_and_per_unit() -> None:
    readers = ReaderPriority(max_pause=0.1)
    with readers.reading():  # a search that never ends
        assert 0.09 <= readers.pause_writer() < 0.5
        with readers.writing(budget=0.15):
            total = sum(readers.pause_writer() for _ in range(5))
        assert 0.14 <= total < 0.4  # the unit's budget, not 5 x 0.1
        with readers.writing(budget=0.0):
            assert readers.pause_writer() == 0.0


def _ingest_seconds(service: KnowledgeService, budget: float, start: int) -> float:
    ingestor = Ingestor(
        service.store,
        service.embedder,
        IngestSettings(batch_size=32, yield_budget_seconds=budget),
    )
    records = [post(f"p{start + i}", f"post number {start + i} about sleep") for i in range(64)]
    with service.store.readers.reading():  # a search in flight for the whole ingest
        started = time.monotonic()
        report = ingestor.ingest(records)
        seconds = time.monotonic() - started
    assert report.inserted == 64
    return seconds


def test_an_ingest_steps_aside_for_searches_within_its_budget(service: KnowledgeService) -> None:
    enable_open(service, GUILD, 1)
    service.store.readers.max_pause = 0.05
    assert _ingest_seconds(service, budget=0.0, start=0) < 1.0  # 0: never pauses in a batch
    slowed = _ingest_seconds(service, budget=0.2, start=100)
    # Two batches: up to 0.05 s before each (outside any lock) plus a 0.2 s budget inside each.
    assert 0.4 <= slowed < 3.0
    hits = service.search("sleep", SearchScope(guild_id=GUILD), limit=50)
    assert len(hits) == 50


def test_a_live_message_never_waits_for_searches(service: KnowledgeService) -> None:
    enable_open(service, GUILD, 1)
    service.store.readers.max_pause = 0.5
    with service.store.readers.reading():  # a search in flight
        started = time.monotonic()
        report = service.ingest([post("live", "a message posted right now about sleep")])
        seconds = time.monotonic() - started
    assert report.inserted == 1
    assert seconds < 0.5  # not one pause: the crisis check of a live message is never delayed


def test_an_urgent_write_ends_a_bulk_writers_pauses() -> None:
    readers = ReaderPriority(max_pause=5.0)
    with readers.reading():  # a search that never ends
        with readers.urgent():  # a live message waits for the writer lock
            started = time.monotonic()
            assert readers.pause_writer() == 0.0
            assert time.monotonic() - started < 0.05
        waiting = threading.Event()

        def live_message() -> None:
            waiting.wait(5)
            with readers.urgent():
                time.sleep(0.5)

        thread = threading.Thread(target=live_message)
        thread.start()
        threading.Timer(0.1, waiting.set).start()
        waited = readers.pause_writer()  # would wait 5 s for the search; stops at the urgent write
        thread.join()
    assert 0.05 <= waited < 1.0
