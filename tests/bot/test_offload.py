"""Offloading blocking knowledge calls: off the event loop, not abandoned when the caller is
cancelled, and waited for on close."""

from __future__ import annotations

import asyncio
import threading
import time

from bot.offload import Offloader


async def test_run_happens_in_a_worker_thread() -> None:
    offload = Offloader()
    loop_thread = threading.get_ident()
    worker = await offload.run(threading.get_ident)
    assert worker != loop_thread
    assert offload.running == 0


async def test_a_cancelled_caller_does_not_abandon_the_call() -> None:
    offload = Offloader()
    started, finished = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        time.sleep(0.2)
        finished.set()
        return "committed"

    caller = asyncio.create_task(offload.run(slow))
    await asyncio.to_thread(started.wait, 2.0)
    caller.cancel()
    await asyncio.gather(caller, return_exceptions=True)
    assert caller.cancelled() and offload.running == 1 and not finished.is_set()
    assert await offload.wait_idle(5.0)
    assert finished.is_set() and offload.running == 0


async def test_wait_idle_gives_up_after_the_timeout() -> None:
    offload = Offloader()
    release = threading.Event()
    task = offload.spawn(release.wait, 5.0)
    assert not await offload.wait_idle(0.05)
    release.set()
    assert await offload.wait_idle(5.0)
    assert task.done() and task.result() is True
