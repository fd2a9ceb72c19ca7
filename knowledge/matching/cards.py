"""What a match card (or an introduction prompt) shows about a member: never who they are.

Conditions in common, the role, how recently the member was active (a coarse bucket), and the
sample post they chose, cut short; never an id, a name, a channel or a link.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from knowledge.matching.profiles import ROLE_WORDS, split_key

ACTIVITY_BUCKETS = (
    (timedelta(days=7), "active this week"),
    (timedelta(days=31), "active this month"),
    (timedelta(days=92), "active in the last three months"),
)
EARLIER = "active some time ago"


@dataclass(frozen=True)
class Card:
    """One member as another may see them before both agreed to an introduction."""

    conditions: tuple[str, ...]
    """Labels of the conditions in common ("Crohn's disease (living with it)")."""
    role: str
    activity: str
    sample: str | None
    token: str = ""
    position: int = 0
    total: int = 1


def activity_bucket(last_active: datetime | None, now: datetime) -> str:
    """ "active this week" and the like (never an exact time)."""
    if last_active is None:
        return EARLIER
    age = now - last_active
    for limit, words in ACTIVITY_BUCKETS:
        if age <= limit:
            return words
    return EARLIER


def role_words(keys: Iterable[str]) -> str:
    """The role(s) behind condition keys in words."""
    roles = sorted({split_key(k)[1] for k in keys})
    if not roles:
        return ""
    return " and ".join(ROLE_WORDS[r] for r in roles)


def cut(text: str, limit: int) -> str:
    """Whitespace folded, cut at a word boundary to at most `limit` characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    head = flat[: limit - 1].rsplit(" ", 1)[0] or flat[: limit - 1]
    return head + "…"


def dump_keys(keys: Iterable[str]) -> str:
    return json.dumps(sorted(set(keys)))


def load_keys(raw: str) -> tuple[str, ...]:
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return ()
    return tuple(str(k) for k in value) if isinstance(value, list) else ()
