"""History backfill: one worker reads enabled channels (and their public threads) oldest first.

Pages come from discord.py's paginated history (its HTTP client waits out 429s); each batch is
ingested off the event loop and then checkpointed, so a restart continues where it stopped. The
next page is fetched while the previous batch is being ingested. Live messages never wait for
this worker: they are ingested directly by the live-index cog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import aiohttp
import discord

from bot.adapters import IndexableChannel, Place, channel_record, is_indexable_author, post_record
from bot.config import DiscordSettings
from bot.offload import Offloader
from knowledge.records import PostRecord
from knowledge.service import KnowledgeService
from knowledge.store.checkpoints import Checkpoint

log = logging.getLogger(__name__)

State = Literal["queued", "running", "done", "failed", "cancelled"]
Source = discord.TextChannel | discord.Thread
ChannelLookup = Callable[[int, int], IndexableChannel | None]  # (guild id, channel id)
ThreadsSeen = Callable[[Iterable[discord.Thread]], None]
RETRIES = 6


def snowflake_seconds(snowflake: int) -> float:
    return discord.utils.snowflake_time(snowflake).timestamp() if snowflake else 0.0


@dataclass
class SourceSpan:
    """A source's lifetime for the ETA: its creation, newest message, and the cursor."""

    created: float
    latest: float
    latest_id: int = 0
    cursor: float = 0.0
    done: bool = False

    @property
    def length(self) -> float:
        return max(self.latest - self.created, 1.0)

    @property
    def covered(self) -> float:
        if self.done:
            return self.length
        return min(max(self.cursor - self.created, 0.0), self.length)


@dataclass
class ChannelJob:
    """Progress of one enabled channel's backfill (this run), shared with the commands."""

    guild_id: int
    channel_id: int
    name: str
    state: State = "queued"
    fetched: int = 0
    ingested: int = 0
    sources_total: int = 0
    sources_done: int = 0
    error: str | None = None
    started: float | None = None
    finished: float | None = None
    spans: dict[int, SourceSpan] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    @property
    def rate(self) -> float:
        return self.fetched / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def fraction(self) -> float | None:
        """How much of the sources' lifetimes the cursors have covered (snowflake times)."""
        if self.state == "done":
            return 1.0
        total = sum(s.length for s in self.spans.values())
        if not total:
            return None
        return sum(s.covered for s in self.spans.values()) / total

    @property
    def eta_seconds(self) -> float | None:
        fraction = self.fraction
        if self.state != "running" or not fraction or fraction >= 1.0 or self.elapsed < 0.5:
            return None
        return self.elapsed * (1.0 - fraction) / fraction

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")


class Backfiller:
    """A queue of channel jobs and the single worker task that runs them.

    `find_channel` looks an enabled channel up in the client's cache (None: gone);
    `threads_seen` is told which threads the service now holds a record of.
    """

    def __init__(
        self,
        offload: Offloader,
        service: KnowledgeService,
        settings: DiscordSettings,
        *,
        find_channel: ChannelLookup,
        threads_seen: ThreadsSeen,
    ) -> None:
        self.offload = offload
        self.service = service
        self.settings = settings
        self.find_channel = find_channel
        self.threads_seen = threads_seen
        self.checkpoints = service.checkpoints
        self.jobs: dict[int, ChannelJob] = {}
        self._queue: asyncio.Queue[ChannelJob] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._current: tuple[ChannelJob, asyncio.Task[None]] | None = None

    # -- control -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name="kindred-backfill")

    async def stop(self) -> None:
        """Cancel the worker; an ingest already running finishes and is checkpointed first."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        for job in self.jobs.values():
            if job.active:
                self._finish(job, "cancelled")

    def enqueue(self, channel: IndexableChannel) -> ChannelJob:
        """Queue a backfill (or catch-up) of `channel`; an active job for it is returned as is."""
        job = self.jobs.get(channel.id)
        if job is not None and job.active:
            return job
        job = ChannelJob(channel.guild.id, channel.id, channel.name)
        self.jobs[channel.id] = job
        self._queue.put_nowait(job)
        return job

    async def cancel(self, channel_id: int) -> None:
        """Stop the backfill of a channel (queued or running) and wait until it has stopped."""
        job = self.jobs.pop(channel_id, None)
        if job is None:
            return
        if job.state == "queued":
            self._finish(job, "cancelled")
        current = self._current
        if current is not None and current[0] is job:
            current[1].cancel()
            await asyncio.wait({current[1]})

    async def cancel_guild(self, guild_id: int) -> None:
        for channel_id in [c for c, j in self.jobs.items() if j.guild_id == guild_id]:
            await self.cancel(channel_id)

    # -- worker ------------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            if job.state != "queued":
                continue
            task = asyncio.create_task(self._run(job), name=f"kindred-backfill-{job.channel_id}")
            self._current = (job, task)
            try:
                await asyncio.wait({task})
            except asyncio.CancelledError:
                task.cancel()
                await asyncio.wait({task})
                raise
            finally:
                self._current = None
            if task.cancelled():
                self._finish(job, "cancelled")
            elif task.exception() is not None:
                exc = task.exception()
                log.error("backfill of channel %s failed: %s", job.channel_id, type(exc).__name__)
                job.error = "Kindred could not finish reading this channel's history."
                self._finish(job, "failed")

    def _finish(self, job: ChannelJob, state: State) -> None:
        job.state = state
        job.finished = time.monotonic()
        job.done.set()

    async def _run(self, job: ChannelJob) -> None:
        channel = self.find_channel(job.guild_id, job.channel_id)
        if channel is None:
            self._finish(job, "cancelled")
            return
        job.state, job.started = "running", time.monotonic()
        sources = await self._sources(channel)
        job.sources_total = len(sources)
        plans = [(s, await self._start_cursor(s, channel.id)) for s in sources]
        for source, (cursor, _) in plans:
            latest = source.last_message_id or discord.utils.time_snowflake(discord.utils.utcnow())
            newest = max(latest, cursor)
            job.spans[source.id] = SourceSpan(
                snowflake_seconds(source.id), snowflake_seconds(newest), newest
            )
        for source, (cursor, skip) in plans:
            if not skip:
                await self._page(job, source, channel.id, cursor)
            job.spans[source.id].done = True
            job.sources_done += 1
        await self.offload.run(self.service.flush)
        log.info(
            "backfill of channel %s done: %d messages read, %d sources",
            job.channel_id,
            job.fetched,
            job.sources_total,
        )
        self._finish(job, "done")

    async def _sources(self, channel: IndexableChannel) -> list[Source]:
        """The channel itself (text channels) and its public threads, active and archived."""
        sources: list[Source] = [channel] if isinstance(channel, discord.TextChannel) else []
        threads = {
            t.id: t
            for t in channel.guild.threads
            if t.parent_id == channel.id and t.type is not discord.ChannelType.private_thread
        }
        for thread in await self._archived(channel):
            threads.setdefault(thread.id, thread)
        if threads:
            records = [channel_record(t) for t in threads.values()]
            await self.offload.run(self.service.upsert_channels, records)
            self.threads_seen(threads.values())
        return [*sources, *sorted(threads.values(), key=lambda t: t.id)]

    async def _start_cursor(self, source: Source, channel_id: int) -> tuple[int, bool]:
        """Where to continue reading `source`, and whether it can be skipped entirely."""
        found: Checkpoint | None = await self.offload.run(self.checkpoints.get, source.id)
        if found is None:
            return 0, False
        if not found.complete:
            return found.cursor, False
        if isinstance(source, discord.Thread) and source.archived:
            return found.cursor, True  # an archived thread gets no messages until unarchived
        thread_id = source.id if isinstance(source, discord.Thread) else None
        newest = await self.offload.run(
            self.checkpoints.newest_post_id, source.guild.id, channel_id, thread_id
        )
        return max(found.cursor, newest), False

    async def _page(self, job: ChannelJob, source: Source, channel_id: int, cursor: int) -> None:
        place = Place(source.guild.id, channel_id, source.id if source.id != channel_id else None)
        page_size = self.settings.backfill_page_size
        batch: list[PostRecord] = []
        read = 0
        pending: asyncio.Task[None] | None = None
        span = job.spans[source.id]
        try:
            while True:
                messages = await self._fetch(source, cursor, page_size)
                if messages is None:
                    break
                finished = len(messages) < page_size
                if messages:
                    cursor = messages[-1].id
                    span.cursor = snowflake_seconds(cursor)
                batch.extend(post_record(m, place) for m in messages if is_indexable_author(m))
                read += len(messages)
                job.fetched += len(messages)
                if finished or len(batch) >= self.settings.backfill_batch_size:
                    if pending is not None:
                        await asyncio.shield(pending)  # a cancel must not orphan the thread
                    pending = self.offload.spawn(
                        self._ingest, job, place, source.id, batch, cursor, read, finished
                    )
                    batch, read = [], 0
                if finished:
                    break
            if pending is not None:
                await asyncio.shield(pending)
        except asyncio.CancelledError:
            if pending is not None:  # let the running ingest commit and checkpoint
                await asyncio.wait({pending})
            raise

    def _ingest(
        self,
        job: ChannelJob,
        place: Place,
        source_id: int,
        records: Sequence[PostRecord],
        cursor: int,
        read: int,
        complete: bool,
    ) -> None:
        """Ingest one batch and then move the checkpoint (runs in a worker thread)."""
        if records:
            report = self.service.ingest(records)
            job.ingested += report.inserted + report.updated + report.unchanged
        latest = max(job.spans[source_id].latest_id, cursor)
        self.checkpoints.advance(
            place.guild_id,
            place.channel_id,
            source_id,
            cursor=cursor,
            added=read,
            latest_id=latest,
            complete=complete,
        )

    async def _archived(self, channel: IndexableChannel) -> list[discord.Thread]:
        """Archived public threads (a forum's older posts), retried like history pages."""
        for attempt in range(RETRIES):
            try:
                return [t async for t in channel.archived_threads(limit=None)]
            except discord.Forbidden:
                return []
            except discord.HTTPException as exc:
                if (exc.status != 429 and exc.status < 500) or attempt == RETRIES - 1:
                    raise
            await asyncio.sleep(2.0**attempt)
        return []

    async def _fetch(self, source: Source, after: int, limit: int) -> list[discord.Message] | None:
        """One page, oldest first (None: no access); 429s and 5xx are waited out, not fatal."""
        delay = 1.0
        for attempt in range(RETRIES):
            try:
                history = source.history(
                    limit=limit, after=discord.Object(after), oldest_first=True
                )
                return [m async for m in history]
            except discord.Forbidden:
                log.warning("backfill: no access to history of %s", source.id)
                return None
            except discord.HTTPException as exc:
                if (exc.status != 429 and exc.status < 500) or attempt == RETRIES - 1:
                    raise
            except (aiohttp.ClientError, TimeoutError):
                if attempt == RETRIES - 1:
                    raise
            log.info("backfill: retrying history of %s in %.0f s", source.id, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
        return []
