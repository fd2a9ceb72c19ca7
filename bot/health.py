"""A small JSON health file for process supervisors, rewritten every few seconds by the bot.

It says whether the process is alive and connected, never what members wrote: pid, start and
update times, status (`starting`, `ready`, `stopping`, `stopped`), guild and shard counts, the
backfill queue and the change-log mark followed. A supervisor treats an `updated_at` older than
three intervals as a hung or killed bot (`kindred health` does exactly this). Each write goes to a
temporary file beside it and is renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from bot.backfill import Backfiller
from bot.offload import Offloader
from knowledge.service import KnowledgeService
from knowledge.store.db import PRIVATE_FILE_MODE

log = logging.getLogger(__name__)
FINAL = ("stopped", "failed")


class Watched(Protocol):
    """What the health file reads from the bot (`bot.client.KindredBot`)."""

    backfill: Backfiller
    offload: Offloader
    service: KnowledgeService
    shard_count: int | None

    @property
    def guilds(self) -> Sequence[Any]: ...

    def is_ready(self) -> bool: ...

    def is_closed(self) -> bool: ...


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_atomically(path: Path, payload: dict[str, Any]) -> None:
    """Write `payload` as JSON to `path` (mode 0600) via a temporary file and a rename."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=1)
        handle.write("\n")
    os.replace(partial, path)


class HealthReporter:
    """Keeps the bot's health file current (`start`), and marks it on the way out."""

    def __init__(self, bot: Watched, path: Path, interval: float) -> None:
        self.bot = bot
        self.path = path
        self.interval = interval
        self.started_at = now_iso()
        self.status = "starting"
        self._task: asyncio.Task[None] | None = None
        self._failed = False

    @property
    def enabled(self) -> bool:
        return self.interval > 0

    def snapshot(self) -> dict[str, Any]:
        """What the file holds now: counts and states only, no names and no content."""
        bot = self.bot
        jobs = bot.backfill.jobs.values()
        shards: dict[int, Any] | None = getattr(bot, "shards", None)
        shard_ids = sorted(shards) if shards else None
        ready = bot.is_ready() and not bot.is_closed() and self.status in ("starting", "ready")
        if self.status == "starting" and ready:
            self.status = "ready"
        return {
            "pid": os.getpid(),
            "status": self.status,
            "ready": ready,
            "started_at": self.started_at,
            "updated_at": now_iso(),
            "interval_seconds": self.interval,
            "guilds": len(bot.guilds),
            "shards": {"ids": shard_ids, "count": bot.shard_count} if shard_ids else None,
            "backfill_queue": sum(1 for job in jobs if job.active),
            "knowledge_calls_running": bot.offload.running,
            "change_log_mark": bot.service.change_mark,
        }

    def write(self) -> None:
        """Write the file now; a failure is logged once, and never stops the bot."""
        if not self.enabled:
            return
        try:
            write_atomically(self.path, self.snapshot())
            self._failed = False
        except OSError as exc:
            if not self._failed:
                log.warning("cannot write the health file %s: %s", self.path, exc.strerror or exc)
            self._failed = True

    def start(self) -> None:
        if self.enabled and self._task is None:
            self.write()
            self._task = asyncio.create_task(self._beat(), name="kindred-health")

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.write()

    def set_status(self, status: str) -> None:
        """Move to `status` and write it now; a final state (stopped, failed) is kept."""
        if self.status not in FINAL:
            self.status = status
            self.write()

    async def stop(self, status: str = "stopping") -> None:
        """Stop rewriting the file and leave it saying `status`."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.set_status(status)
