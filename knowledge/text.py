"""Cleaning and validation of member text before it is stored, embedded or searched."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from knowledge.errors import EmptyQuery, InvalidInput, QueryTooLong

# Control characters except tab and newline; NUL included.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_CUSTOM_EMOJI = re.compile(r"<a?:\w{1,64}:\d{1,25}>")
_MENTION = re.compile(r"<(?:@[!&]?|#)\d{1,25}>")
_WORD = re.compile(r"[^\W_]", re.UNICODE)
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class SkipReason:
    """Machine-readable reasons a post was not indexed (recorded in the ingest report)."""

    EMPTY = "empty"
    NO_TEXT = "no_text"
    INVALID_UTF8 = "invalid_utf8"
    NOT_TEXT = "not_text"
    BAD_RECORD = "bad_record"
    BAD_DATE = "bad_date"  # a date that is not a datetime, before 1970, or past year 9999 in UTC
    ID_TOO_LONG = "id_too_long"  # a message id (or reply id) longer than the store keeps
    BAD_ID = "bad_id"  # a guild, channel, thread or author id that is not a 63-bit number


@dataclass(frozen=True)
class CleanText:
    text: str
    truncated: bool


def to_text(raw: object) -> str:
    """Accept str, or bytes that are valid UTF-8; anything else is an InvalidInput."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bytes | bytearray | memoryview):
        try:
            return bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(SkipReason.INVALID_UTF8, "text is not valid UTF-8") from exc
    raise InvalidInput(SkipReason.NOT_TEXT, f"text must be a string, not {type(raw).__name__}")


def normalise(text: str) -> str:
    """Lone surrogates become U+FFFD, control characters go, Unicode is NFC, spacing is tidied."""
    text = _SURROGATE.sub("\ufffd", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = unicodedata.normalize("NFC", text)
    text = _SPACES.sub(" ", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def has_words(text: str) -> bool:
    """True when something other than links, emoji, mentions and punctuation remains."""
    stripped = _MENTION.sub(" ", _CUSTOM_EMOJI.sub(" ", _URL.sub(" ", text)))
    return _WORD.search(stripped) is not None


def clean_post_text(raw: object, max_chars: int) -> CleanText:
    """Clean a post for storage; raise InvalidInput with a SkipReason when it cannot be indexed."""
    text = normalise(to_text(raw))
    if not text:
        raise InvalidInput(SkipReason.EMPTY, "post is empty")
    if not has_words(text):
        raise InvalidInput(SkipReason.NO_TEXT, "post has no words (only links, emoji or symbols)")
    if len(text) > max_chars:
        return CleanText(text[:max_chars], truncated=True)
    return CleanText(text, truncated=False)


def clean_query(raw: object, max_chars: int) -> str:
    """Clean a member's search query; raise EmptyQuery or QueryTooLong."""
    text = normalise(to_text(raw))
    if len(text) > max_chars:
        raise QueryTooLong(max_chars)
    if not has_words(text):
        raise EmptyQuery()
    return text


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
