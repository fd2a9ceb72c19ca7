"""Reading member posts from JSON Lines files: one object a line; bad lines reported, not fatal.

Ids people recognise: an `author`, `channel` or `thread` given as a number (or a string of digits,
such as a Discord snowflake) is kept as the id, so a later live sync, an edit or a deletion request
by that id meets the same rows. A name gets an id derived from the guild and the name (the same
file loads into two guilds side by side) and the name is stored with it (the member's handle, the
channel's or thread's name), so commands accept either.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from knowledge.records import PostRecord, Skip
from knowledge.store.models import PostKind
from knowledge.text import SkipReason

DEFAULT_CHANNEL = "general"
DEFAULT_AUTHOR = "anonymous"
EPOCH_DEFAULT = datetime(2020, 1, 1, tzinfo=UTC)
MAX_ID = 2**63 - 1
MAX_LINE_BYTES = 8 * 1024 * 1024  # longer lines are skipped, read in pieces, never held whole


def stable_id(kind: str, name: str, guild_id: int) -> int:
    """A stable positive 62-bit id for a channel, thread or author named in a file, per guild."""
    digest = hashlib.blake2b(f"{guild_id}:{kind}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 2


def numeric_id(value: object) -> int | None:
    """The id a file value stands for when it is a number or a string of digits, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
    else:
        return None
    return number if 0 < number <= MAX_ID else None


def channel_id_for(value: str | int, guild_id: int) -> int:
    """The id Kindred gives the channel a file calls `value` in this guild."""
    return numeric_id(value) or stable_id("channel", str(value), guild_id)


def author_id_for(value: str | int, guild_id: int) -> int:
    """The id Kindred gives the author a file calls `value` in this guild."""
    return numeric_id(value) or stable_id("author", str(value), guild_id)


def thread_id_for(channel: str | int, thread: str | int, guild_id: int) -> int:
    """The id of a thread named in a file (names are scoped by their channel)."""
    return numeric_id(thread) or stable_id("thread", f"{channel}/{thread}", guild_id)


@dataclass(frozen=True)
class FilePost:
    """A post read from a file, with the names it gave its channel and thread (None for ids)."""

    line: int
    record: PostRecord
    channel_name: str | None
    thread_name: str | None


def parse_time(value: Any) -> datetime:
    if value in (None, ""):
        return EPOCH_DEFAULT
    if not isinstance(value, str):
        raise ValueError("created_at must be an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("/", "-"))
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError) as exc:  # e.g. 9999-12-31T23:59:59-12:00 is past year 9999
        raise LineError(SkipReason.BAD_DATE, f"created_at is not a usable date: {exc}") from None


def _value(obj: dict[str, Any], key: str, default: str | None) -> str | int | None:
    value = obj.get(key)
    if value in (None, ""):
        return default
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{key} must be a name or an id")
    return value


def _name(value: str | int) -> str | None:
    return None if numeric_id(value) is not None else str(value)


def parse_post(obj: Any, guild_id: int, line: int) -> FilePost:
    """Turn one decoded JSON object into a record; raise ValueError saying what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError("line is not a JSON object")
    post_id = obj.get("id")
    if not isinstance(post_id, str | int) or isinstance(post_id, bool) or str(post_id) == "":
        raise ValueError("missing or invalid 'id'")
    if "text" not in obj:
        raise ValueError("missing 'text'")
    channel = _value(obj, "channel", DEFAULT_CHANNEL) or DEFAULT_CHANNEL
    author = _value(obj, "author", DEFAULT_AUTHOR) or DEFAULT_AUTHOR
    thread = _value(obj, "thread", None)
    record = PostRecord(
        guild_id=guild_id,
        external_id=str(post_id),  # too long is rejected by ingest, never cut into a merge
        channel_id=channel_id_for(channel, guild_id),
        author_id=author_id_for(author, guild_id),
        author_handle=_name(author),
        text=obj["text"],
        created_at=parse_time(obj.get("created_at")),
        thread_id=None if thread is None else thread_id_for(channel, thread, guild_id),
        kind=PostKind.MESSAGE,
    )
    return FilePost(line, record, _name(channel), None if thread is None else _name(thread))


def read_posts(path: Path, guild_id: int) -> Iterator[FilePost | Skip]:
    """Yield a FilePost per good line and a Skip (with its line number) per bad one."""
    with path.open("rb") as handle:
        for number, raw in enumerate(_lines(handle), start=1):
            if raw is None:
                detail = f"line longer than {MAX_LINE_BYTES:,} bytes"
                yield Skip(f"line {number}", SkipReason.BAD_RECORD, number, detail)
                continue
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
                yield parse_post(obj, guild_id, number)
            except UnicodeDecodeError:
                yield Skip(f"line {number}", SkipReason.INVALID_UTF8, number, "not valid UTF-8")
            except LineError as exc:
                yield Skip(f"line {number}", exc.reason, number, _short(exc))
            except RecursionError:
                yield Skip(f"line {number}", SkipReason.BAD_RECORD, number, "nested too deeply")
            except (json.JSONDecodeError, ValueError) as exc:
                yield Skip(f"line {number}", SkipReason.BAD_RECORD, number, _short(exc))


def _lines(handle: BinaryIO) -> Iterator[bytes | None]:
    """Lines of a file read in bounded pieces; None for a line over `MAX_LINE_BYTES` (its rest
    is read and dropped in pieces, so one huge line never has to fit in memory)."""
    while True:
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if len(raw) <= MAX_LINE_BYTES or raw.endswith(b"\n"):
            yield raw
            continue
        while raw and not raw.endswith(b"\n"):
            raw = handle.readline(MAX_LINE_BYTES)
        yield None


class LineError(ValueError):
    """A line that cannot become a post, with the typed skip reason it gets."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
