"""Backfill progress as text, and keeping an enable reply up to date while a backfill runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import aiohttp
import discord

from bot.backfill import ChannelJob
from bot.formatting import edit_original, progress_line
from knowledge.store.checkpoints import Checkpoint

log = logging.getLogger(__name__)

FOLLOW_FOR_SECONDS = 14 * 60  # interaction tokens last 15 minutes


def job_text(job: ChannelJob) -> str:
    """One line for a running, queued or finished backfill."""
    if job.state == "queued":
        return f"#{job.name}: history backfill queued"
    line = progress_line(job.name, job.fetched, job.rate, job.fraction, job.eta_seconds)
    if job.state == "done":
        return f"{line} · history backfill done"
    if job.state == "failed":
        return f"{line} · {job.error or 'backfill failed'}"
    if job.state == "cancelled":
        return f"{line} · backfill stopped"
    current = min(job.sources_done + 1, job.sources_total)
    threads = f" · source {current}/{job.sources_total}" if job.sources_total else ""
    return f"{line}{threads}"


def checkpoint_text(checkpoints: list[Checkpoint], channel_id: int) -> str:
    """Backfill state from stored checkpoints (when no job runs in this process)."""
    if not checkpoints:
        return "history backfill not started"
    fetched = sum(c.fetched for c in checkpoints)
    main = [c for c in checkpoints if c.source_id == channel_id]
    unfinished = [c for c in checkpoints if not c.complete]
    if unfinished or (main and not main[0].complete):
        return f"{fetched:,} messages read; backfill unfinished (it resumes on restart)"
    return f"{fetched:,} messages read; history backfill complete"


async def follow(
    interaction: discord.Interaction[Any], job: ChannelJob, interval: float, header: str
) -> None:
    """Edit the (deferred) reply with the job's progress until it ends or the token runs out."""
    client = interaction.client
    deadline = time.monotonic() + FOLLOW_FOR_SECONDS
    while not job.done.is_set():
        if client.is_closed():
            return
        await _show(interaction, f"{header}\n{job_text(job)}")
        if time.monotonic() > deadline:
            await _show(interaction, f"{header}\n{job_text(job)}\nSee `/kindred status` for more.")
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(job.done.wait(), interval)
    if not client.is_closed():
        await _show(interaction, f"{header}\n{job_text(job)}")


async def _show(interaction: discord.Interaction[Any], text: str) -> None:
    if interaction.client.is_closed():
        return
    try:
        await edit_original(interaction, text)
    except (discord.HTTPException, aiohttp.ClientError, RuntimeError) as exc:
        log.info("progress update failed: %s", type(exc).__name__)
