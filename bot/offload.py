"""Blocking knowledge calls (encode, faiss, SQL) run in worker threads, never on the event loop.

Every call is remembered until it ends, so that closing the bot can wait for running ingests
and deletes to commit before the service closes the store.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class Offloader:
    """Starts blocking calls in worker threads (`asyncio.to_thread`) and keeps track of them."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[Any]] = set()

    @property
    def running(self) -> int:
        """How many offloaded calls have not ended yet."""
        return len(self._running)

    def spawn(self, fn: Callable[..., T], *args: Any) -> asyncio.Task[T]:
        """Start `fn(*args)` in a worker thread and return its task (`wait_idle` waits for it)."""
        task = asyncio.create_task(asyncio.to_thread(fn, *args))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` off the event loop; cancelling the caller does not abandon the thread
        (the call runs to its end, and `wait_idle` waits for it)."""
        return await asyncio.shield(self.spawn(fn, *args))

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no offloaded call is running (calls started meanwhile included), at most
        `timeout` seconds; True when idle."""
        deadline = time.monotonic() + timeout
        while self._running:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await asyncio.wait(set(self._running), timeout=left)
        return True
