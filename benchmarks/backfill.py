"""Backfill throughput: enable a channel holding N messages served by the fake Discord and time
it until the backfill is done, against `service.ingest` of the same N records alone (same run,
same embedder). Prints the figures and a final JSON line.

    .venv/bin/python benchmarks/backfill.py                      # 100k messages, hashing embedder
    .venv/bin/python benchmarks/backfill.py --real-model --n 3000

The default embedder is the fast HashingEmbedder so the figure measures the bot's own overhead
(history paging, message parsing, batching) rather than the model; `--real-model` uses the
packaged all-MiniLM-L6-v2 on fewer messages.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.client import KindredBot  # noqa: E402
from bot.config import BotSettings, DiscordSettings  # noqa: E402
from knowledge.embeddings import Embedder, HashingEmbedder, SentenceTransformerEmbedder  # noqa: E402
from knowledge.records import ChannelRecord, PostRecord  # noqa: E402
from knowledge.service import KnowledgeService  # noqa: E402
from tests.bot.fake_discord import ApiError, FakeDiscord, RestCall  # noqa: E402
from tests.bot.payloads import (  # noqa: E402
    DISCORD_EPOCH_MS,
    FakeChannel,
    Json,
    World,
    message_payload,
)

WORDS = [
    "sleep",
    "tired",
    "pain",
    "knee",
    "back",
    "migraine",
    "anxiety",
    "panic",
    "calm",
    "doctor",
    "nurse",
    "pills",
    "dose",
    "week",
    "night",
    "morning",
    "walk",
    "rest",
    "diet",
    "sugar",
    "insulin",
    "pump",
    "scan",
    "result",
    "wait",
    "hope",
    "worried",
    "better",
    "worse",
    "family",
    "work",
    "school",
    "breath",
    "heart",
    "rhythm",
    "fatigue",
    "fog",
    "memory",
    "skin",
    "rash",
    "itch",
    "flare",
    "joint",
    "stiff",
    "swim",
]


class QuickBot(KindredBot):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """No 5 s politeness pause against a local fake."""


class IndexedFake(FakeDiscord):
    """The fake with a sorted id list per channel, so serving a page does not cost O(N)."""

    def __init__(self, world: World) -> None:
        super().__init__(world)
        self._sorted: dict[int, list[int]] = {}

    def _history(self, call: RestCall, p: dict[str, str]) -> tuple[int, Any]:
        channel = self._channel(p["c"])
        ids = self._sorted.get(channel.id)
        if ids is None or len(ids) != len(channel.messages):
            ids = self._sorted[channel.id] = sorted(channel.messages)
        limit = int(call.query.get("limit", 50))
        if not 1 <= limit <= 100:
            raise ApiError(400, 50035, "Invalid Form Body: limit must be 1..100")
        if "after" in call.query:
            start = bisect.bisect_right(ids, int(call.query["after"]))
            chosen = ids[start : start + limit]
        elif "before" in call.query:
            end = bisect.bisect_left(ids, int(call.query["before"]))
            chosen = ids[max(0, end - limit) : end]
        else:
            chosen = ids[-limit:]
        return 200, [channel.messages[i] for i in reversed(chosen)]


def texts(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(6, 40))) + f" #{i}" for i in range(n)]


def build_world(n: int) -> tuple[World, FakeChannel, Any, list[Json]]:
    """A guild with one channel of `n` messages, one a minute over the past (fast: no per-message
    member payloads; REST history carries none either)."""
    world = World()
    guild = world.add_guild("Bench")
    channel = world.add_channel(guild, "history")
    admin = world.add_member(guild, "admin", [world.add_role(guild, "admins", 1 << 5)])
    author = world.add_member(guild, "member")
    start_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS - (n + 10) * 60_000
    messages = []
    for i, text in enumerate(texts(n)):
        mid = (start_ms + i * 60_000) << 22
        message = message_payload(message_id=mid, channel=channel, author=author.user, content=text)
        channel.messages[mid] = message
        messages.append(message)
    return world, channel, admin, messages


def make_embedder(real: bool) -> Embedder:
    return SentenceTransformerEmbedder() if real else HashingEmbedder()


def settings_for(data_dir: Path, batch: int) -> BotSettings:
    discord = DiscordSettings(backfill_batch_size=batch, progress_interval_seconds=2.0)
    return BotSettings(discord=discord).with_data_dir(data_dir)


def pipeline_alone(
    messages: list[Json], guild_id: int, channel_id: int, settings: BotSettings, embedder: Embedder
) -> float:
    """Seconds for service.ingest of the same records (built from the same payloads)."""
    from datetime import datetime

    service = KnowledgeService(settings, embedder=embedder)
    service.register_guild(guild_id)
    service.enable_channel(guild_id, ChannelRecord(channel_id, guild_id, "history"), 1)
    records = [
        PostRecord(
            guild_id=guild_id,
            external_id=m["id"],
            channel_id=channel_id,
            author_id=int(m["author"]["id"]),
            text=m["content"],
            created_at=datetime.fromisoformat(m["timestamp"]),
        )
        for m in messages
    ]
    # In a worker thread, as the bot runs it: torch encodes measurably slower on the main thread
    # here, which would flatter the bot.
    with ThreadPoolExecutor(1) as pool:
        started = time.perf_counter()
        report = pool.submit(service.ingest, records).result()
        pool.submit(service.flush, force=True).result()
        elapsed = time.perf_counter() - started
    assert report.inserted == len(records), report
    assert service.stats(guild_id).vectors == len(records)
    service.close()
    return elapsed


async def end_to_end(
    world: World, channel: FakeChannel, admin: Any, settings: BotSettings, embedder: Embedder
) -> tuple[float, int]:
    """Seconds from `/kindred enable` to the backfill being done, and posts stored."""
    service = KnowledgeService(settings, embedder=embedder)
    fake = IndexedFake(world)
    bot = QuickBot(service, settings, guild_ready_timeout=0.05, chunk_guilds_at_startup=False)
    async with fake, fake.running(bot, timeout=30):
        started = time.perf_counter()
        ix = await fake.slash_command(
            "kindred enable", user=admin, channel=channel, options={"channel": channel}
        )
        await ix.wait_response(timeout=30)
        while channel.id not in bot.backfill.jobs:
            await asyncio.sleep(0.001)
        job = bot.backfill.jobs[channel.id]
        await job.done.wait()
        elapsed = time.perf_counter() - started
        assert job.state == "done", job.state
        await fake.wait_for_call(
            lambda c: c.method == "PATCH" and "done" in str((c.json or {}).get("content")), 10
        )
    stats = service.stats(channel.guild_id)
    assert stats.vectors == stats.posts, stats
    stored = stats.posts
    service.close()
    return elapsed, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=None, help="messages (100k; 3k with the model)")
    parser.add_argument("--real-model", action="store_true", help="packaged all-MiniLM-L6-v2")
    parser.add_argument("--batch", type=int, default=500, help="backfill batch size")
    parser.add_argument("--repeat", type=int, default=1, help="alternating runs (median)")
    args = parser.parse_args()
    n = args.n or (3_000 if args.real_model else 100_000)
    logging.basicConfig(level=logging.WARNING)
    embedder = make_embedder(args.real_model)
    print(
        f"embedder: {embedder.name} ({'packaged model' if args.real_model else 'HashingEmbedder'})"
    )
    t0 = time.perf_counter()
    world, channel, admin, messages = build_world(n)
    print(f"built {n:,} messages in the fake in {time.perf_counter() - t0:.1f} s")
    if args.real_model:
        embedder.encode(["warm up"])
    pipe_times, e2e_times = [], []
    with tempfile.TemporaryDirectory(prefix="kindred-bench-") as tmp:
        for run in range(args.repeat):
            settings = settings_for(Path(tmp) / f"pipe{run}", args.batch)
            pipe_times.append(
                pipeline_alone(messages, channel.guild_id or 0, channel.id, settings, embedder)
            )
            settings = settings_for(Path(tmp) / f"e2e{run}", args.batch)
            elapsed, stored = asyncio.run(end_to_end(world, channel, admin, settings, embedder))
            assert stored == n, (stored, n)
            e2e_times.append(elapsed)
            print(
                f"run {run + 1}: ingest alone {n / pipe_times[-1]:,.0f} msg/s, "
                f"enable→backfill done {n / elapsed:,.0f} msg/s"
            )
    pipe, e2e = statistics.median(pipe_times), statistics.median(e2e_times)
    ratio = (n / e2e) / (n / pipe)
    print(f"ingest pipeline alone: {n / pipe:,.0f} messages/s ({pipe:.1f} s)")
    print(f"end to end backfill:   {n / e2e:,.0f} messages/s ({e2e:.1f} s)")
    print(f"ratio: {ratio:.2f}x (target >= 0.8x)")
    print(
        json.dumps(
            {
                "messages": n,
                "embedder": embedder.name,
                "batch": args.batch,
                "pipeline_msgs_per_s": round(n / pipe, 1),
                "backfill_msgs_per_s": round(n / e2e, 1),
                "ratio": round(ratio, 3),
                "runs": args.repeat,
            }
        )
    )


if __name__ == "__main__":
    main()
