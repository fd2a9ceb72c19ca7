"""Text preparation for the safety assessor: cleaning hostile input and splitting sentences."""

from __future__ import annotations

import re
import unicodedata

MAX_CHARS = 20_000
"""Text beyond this many characters is not assessed (a Discord message is at most 4,000)."""

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n\s*")


def clean(text: str, max_chars: int = MAX_CHARS) -> str:
    """Make any string safe to assess: drop NULs, control characters and lone surrogates, fold
    typographic apostrophes, apply NFKC and cap the length."""
    if not text:
        return ""
    text = text[:max_chars]
    text = _SURROGATE.sub(" ", text)
    text = _CONTROL.sub(" ", text)
    text = unicodedata.normalize("NFKC", text)
    return text.translate(_APOSTROPHES)


def sentences(text: str) -> list[str]:
    """Split cleaned text into rough sentences (punctuation or line breaks)."""
    parts = _SENTENCE_END.split(text)
    return [part.strip() for part in parts if part and part.strip()]
