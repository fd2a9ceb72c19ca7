"""A member's consent as it applies now: read by the consent manager and by the export alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

OPT_IN = "opt_in"
OPT_OUT = "opt_out"
SEARCH_MODES = (OPT_IN, OPT_OUT)


@dataclass(frozen=True)
class ConsentState:
    """A member's consent as it applies now (`searchable` already resolves the guild's mode)."""

    guild_id: int
    member_id: int
    searchable: bool
    searchable_choice: bool | None
    matchable: bool
    excluded: bool
    search_mode: str
    updated_at: datetime | None
