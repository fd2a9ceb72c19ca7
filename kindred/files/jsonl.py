"""Reading member posts from JSON Lines files: one object a line; bad lines reported, not fatal."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from knowledge.records import PostRecord, Skip
from knowledge.store.models import PostKind
from knowledge.text import SkipReason

DEFAULT_CHANNEL = "general"
DEFAULT_AUTHOR = "anonymous"
EPOCH_DEFAULT = datetime(2020, 1, 1, tzinfo=UTC)


def stable_id(kind: str, name: str) -> int:
    """A stable positive 62-bit id for a channel, thread or author named in a file."""
    digest = hashlib.blake2b(f"{kind}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 2


@dataclass(frozen=True)
class FilePost:
    """A post read from a file, with the names it used for channel, thread and author."""

    line: int
    record: PostRecord
    channel: str
    thread: str | None


def parse_time(value: Any) -> datetime:
    if value in (None, ""):
        return EPOCH_DEFAULT
    if not isinstance(value, str):
        raise ValueError("created_at must be an ISO 8601 string")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("/", "-"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _name(value: Any, default: str) -> str:
    if value in (None, ""):
        return default
    if not isinstance(value, str | int):
        raise ValueError("channel, thread and author must be strings")
    return str(value)


def parse_post(obj: Any, guild_id: int, line: int) -> FilePost:
    """Turn one decoded JSON object into a record; raise ValueError saying what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError("line is not a JSON object")
    post_id = obj.get("id")
    if not isinstance(post_id, str | int) or isinstance(post_id, bool) or str(post_id) == "":
        raise ValueError("missing or invalid 'id'")
    if "text" not in obj:
        raise ValueError("missing 'text'")
    channel = _name(obj.get("channel"), DEFAULT_CHANNEL)
    thread = obj.get("thread")
    thread_name = _name(thread, "") or None
    author = _name(obj.get("author"), DEFAULT_AUTHOR)
    thread_id = stable_id("thread", f"{channel}/{thread_name}") if thread_name else None
    record = PostRecord(
        guild_id=guild_id,
        external_id=str(post_id)[:128],
        channel_id=stable_id("channel", channel),
        author_id=stable_id("author", author),
        author_handle=author,
        text=obj["text"],
        created_at=parse_time(obj.get("created_at")),
        thread_id=thread_id,
        kind=PostKind.MESSAGE,
    )
    return FilePost(line, record, channel, thread_name)


def read_posts(path: Path, guild_id: int) -> Iterator[FilePost | Skip]:
    """Yield a FilePost per good line and a Skip (with its line number) per bad one."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
                yield parse_post(obj, guild_id, number)
            except UnicodeDecodeError:
                yield Skip(f"line {number}", SkipReason.INVALID_UTF8, number, "not valid UTF-8")
            except (json.JSONDecodeError, ValueError) as exc:
                yield Skip(f"line {number}", SkipReason.BAD_RECORD, number, _short(exc))


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
