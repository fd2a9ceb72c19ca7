"""Plain records that cross the boundary between the bot (or CLI) and the knowledge layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from knowledge.store.models import ChannelKind, PostKind


@dataclass(frozen=True)
class ChannelRecord:
    """A channel or thread as the adapter sees it."""

    id: int
    guild_id: int
    name: str | None = None
    kind: ChannelKind = ChannelKind.TEXT
    parent_id: int | None = None


@dataclass(frozen=True)
class PostRecord:
    """A message to ingest. `channel_id` is the text or forum channel, `thread_id` a thread."""

    guild_id: int
    external_id: str
    channel_id: int
    author_id: int
    text: object
    created_at: datetime
    thread_id: int | None = None
    kind: PostKind = PostKind.MESSAGE
    reply_to: str | None = None
    edited_at: datetime | None = None
    author_handle: str | None = None


@dataclass(frozen=True)
class Skip:
    """A post that was not indexed, and why (no text is kept)."""

    external_id: str
    reason: str
    line: int | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Flag:
    """A post the safety assessment flagged while it was ingested (no text is kept here)."""

    guild_id: int
    external_id: str
    channel_id: int
    thread_id: int | None
    author_id: int
    level: str
    reasons: tuple[str, ...]


@dataclass
class IngestReport:
    """What one ingest call did."""

    received: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    embedded: int = 0
    truncated: int = 0
    skipped: list[Skip] = field(default_factory=list)
    flagged: list[Flag] = field(default_factory=list)

    def merge(self, other: IngestReport) -> None:
        self.received += other.received
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.embedded += other.embedded
        self.truncated += other.truncated
        self.skipped.extend(other.skipped)
        self.flagged.extend(other.flagged)

    def skip_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for skip in self.skipped:
            counts[skip.reason] = counts.get(skip.reason, 0) + 1
        return counts


@dataclass(frozen=True)
class SnippetPart:
    """A piece of a result snippet; `match` marks words that matched the query."""

    text: str
    match: bool = False


@dataclass(frozen=True)
class SearchHit:
    """One result: enough to show a snippet and build a jump link."""

    post_id: int
    external_id: str
    guild_id: int
    channel_id: int
    thread_id: int | None
    author_id: int
    created_at: datetime
    score: float
    snippet: tuple[SnippetPart, ...]
    curated: bool = False
    channel_name: str | None = None
    thread_name: str | None = None
    author_handle: str | None = None
    similarity: float | None = None
    """Plain cosine similarity of the post to the query (None when ranked by full text alone)."""
    close: bool = True
    """Whether the hit clears the calibrated relevance floor (`search.relevance_floor`); a hit
    that does not is no answer: show it, if at all, under "nothing close was found"."""

    @property
    def snippet_text(self) -> str:
        return "".join(part.text for part in self.snippet)


@dataclass(frozen=True)
class SearchPage:
    """A ranked result list and the paging position within it."""

    hits: tuple[SearchHit, ...]
    total: int
    offset: int
    page_size: int
    nothing_close: bool = False
    """No hit of the whole result list clears the relevance floor (or there is no hit): say
    that nothing close was found; the hits, if shown, are only the nearest posts."""

    @property
    def has_next(self) -> bool:
        return self.offset + self.page_size < self.total
