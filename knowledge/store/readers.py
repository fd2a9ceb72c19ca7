"""Searches before bulk writes: a writer pauses between steps while any search is running.

Kindred runs searches and bulk ingest (a backfill, an import) in one process. Much of an ingest is
Python holding the GIL, so a search running beside it gets about half of it and takes two to
several times as long. The writer therefore steps aside: at points where it holds no lock, it
waits while searches are in flight, for at most `max_pause` seconds at a time, so an ingest is
slowed by searches but never stopped by them. An urgent write (a live message, whose crisis
check must not wait behind a paused batch) ends every pause while it runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

POLL_SECONDS = 0.0005


class ReaderPriority:
    """Counts searches in flight; `pause_writer` waits (bounded) while there are any."""

    def __init__(self, max_pause: float = 0.05) -> None:
        self.max_pause = max_pause
        self._active = 0
        self._urgent = 0
        self._count_lock = threading.Lock()
        self._local = threading.local()  # the current writing unit's budget, per thread

    @property
    def active(self) -> int:
        """Searches running now."""
        return self._active

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Mark a search as running for the duration of the block (nesting is fine)."""
        with self._count_lock:
            self._active += 1
        try:
            yield
        finally:
            with self._count_lock:
                self._active -= 1

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """Mark urgent writing (a live message, whose crisis check must not wait): while any
        runs, bulk writers stop pausing, so they release the writer lock as soon as they can."""
        with self._count_lock:
            self._urgent += 1
        try:
            yield
        finally:
            with self._count_lock:
                self._urgent -= 1

    @contextmanager
    def writing(self, budget: float) -> Iterator[None]:
        """A unit of bulk writing (an ingest batch): its pauses add up to at most `budget`
        seconds, so a writer holding a lock inside the unit holds it at most that much longer."""
        self._local.budget = budget
        try:
            yield
        finally:
            self._local.budget = None

    def pause_writer(self) -> float:
        """Wait while any search runs, at most `max_pause` seconds (and what is left of the
        unit's budget); returns the time waited."""
        if self._active == 0 or self._urgent > 0:
            return 0.0
        budget: float | None = getattr(self._local, "budget", None)
        limit = self.max_pause if budget is None else min(self.max_pause, budget)
        if limit <= 0:
            return 0.0
        started = time.monotonic()
        deadline = started + limit
        while self._active > 0 and self._urgent == 0 and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
        waited = time.monotonic() - started
        if budget is not None:
            self._local.budget = budget - waited
        return waited
