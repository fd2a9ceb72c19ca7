"""Similar threads when someone asks: up to three prior threads for a new question.

An admin turns suggestions on per channel (`SuggestionChannel`). For a new forum post, thread or
question there, `Suggestions.ask` records the question (for routing and insights, see
`knowledge.matching.routing`), and, unless the question reads as a crisis (the crisis path
answers it instead), picks prior threads through the service's read path (`similar_to_text`,
so consent, hidden and crisis-level posts are enforced there) and then keeps, best first:

- only hits whose cosine similarity clears the floor (nothing is posted when none does);
- never the asker's own posts, never the question's own thread;
- one hit per thread (a forum post or thread appears once, as its best-matching post);
- never a thread that holds a crisis-level post anywhere in it;
- curated posts first (the searcher ranks them first already; kept stable here);
- only from `allowed_channel_ids`, which the bot computes (channels every reader of the
  question's channel can also read, for a public reply; the asker's readable channels for a
  private `/similar`).

Nothing here stores question text: `Question` keeps ids, condition tags and timestamps, and
`Suggestion` ids and a count.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import col, select

from knowledge.config import SuggestionSettings
from knowledge.matching.routing import AskedQuestion, HelperRouting, HelpersFor
from knowledge.records import SearchHit
from knowledge.scope import SearchScope
from knowledge.store.models import Post, Suggestion, SuggestionChannel, SuggestionFeedback
from knowledge.store.store import Store

SimilarToText = Callable[[str, SearchScope, int], list[SearchHit]]
IsCrisis = Callable[[str], bool]
IsExcluded = Callable[[int, int], bool]

CANDIDATES_PER_ITEM = 10
"""Hits fetched per suggested thread: room for one thread's many posts and the exclusions."""

QUESTION_WORDS = frozenset(
    [
        *("how", "what", "why", "when", "where", "who", "which"),
        *("is", "are", "do", "does", "did", "can", "could", "should", "would", "has", "have"),
        *("anyone", "anybody", "advice"),
    ]
)
_WORD = re.compile(r"[^\W\d_]+")
_TRAILING = re.compile(r"[\s\W_]+$")
_ASKS = re.compile(r"\?(\s|$)")


def is_question(text: str, min_chars: int) -> bool:
    """The documented heuristic for text channels: at least `min_chars` characters, and a `?`
    ending a sentence (trailing emoji and punctuation ignored) or a first word that asks
    (how, what, does, anyone, advice...)."""
    stripped = text.strip()
    if len(stripped) < min_chars:
        return False
    tail = _TRAILING.search(stripped)
    if (tail is not None and "?" in tail.group(0)) or _ASKS.search(stripped):
        return True
    first = _WORD.search(stripped)
    return first is not None and first.group(0).lower() in QUESTION_WORDS


def thread_key(hit: SearchHit) -> str:
    """What makes two hits the same thread: the thread id, else the message itself (a thread
    started from a message has the message's id, so the two agree)."""
    return str(hit.thread_id) if hit.thread_id is not None else hit.external_id


def choose_threads(
    hits: Sequence[SearchHit],
    *,
    asker_id: int,
    exclude_keys: Iterable[str],
    floor: float,
    limit: int,
) -> list[SearchHit]:
    """Up to `limit` hits, one per thread, curated first, each clearing `floor`, none the
    asker's and none from the excluded threads (the question's own)."""
    excluded = set(exclude_keys)
    seen: set[str] = set()
    chosen: list[SearchHit] = []
    for hit in sorted(hits, key=lambda h: not h.curated):  # stable: rank order otherwise
        if hit.author_id == asker_id or hit.similarity is None or hit.similarity < floor:
            continue
        key = thread_key(hit)
        if key in excluded or key in seen:
            continue
        seen.add(key)
        chosen.append(hit)
        if len(chosen) >= limit:
            break
    return chosen


@dataclass(frozen=True)
class QuestionOutcome:
    """What to do about a new question: nothing (crisis: the crisis path answers), or post the
    `threads` (possibly none: then nothing is posted)."""

    question_id: int | None
    crisis: bool
    threads: tuple[SearchHit, ...]


@dataclass(frozen=True)
class Feedback:
    """A "not helpful" click: whether it was newly counted and whether the reply is now hidden."""

    counted: bool
    hidden: bool
    author_id: int | None


class Suggestions:
    """Suggestion channels, prior threads for a question, the replies posted and feedback."""

    def __init__(
        self,
        store: Store,
        settings: SuggestionSettings,
        *,
        search_floor: float,
        similar_to_text: SimilarToText,
        is_crisis: IsCrisis,
        helpers_for: HelpersFor,
        is_excluded: IsExcluded = lambda guild_id, member_id: False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.settings = settings
        own_floor = settings.relevance_floor
        self.floor = own_floor if own_floor is not None else search_floor
        self._similar = similar_to_text
        self._is_crisis = is_crisis
        self._is_excluded = is_excluded
        self.clock = clock
        self.routing = HelperRouting(store, settings, helpers_for, clock=clock)

    # -- channels --------------------------------------------------------------------------------

    def enable_channel(self, guild_id: int, channel_id: int, by: int) -> bool:
        """Turn suggestions (and helper routing) on in a channel; False if already on."""
        with self.store.write() as session:
            row = session.get(SuggestionChannel, channel_id)
            if row is not None and row.guild_id == guild_id:
                return False
            if row is not None:
                session.delete(row)
                session.flush()
            session.add(SuggestionChannel(channel_id=channel_id, guild_id=guild_id, enabled_by=by))
        return True

    def disable_channel(self, guild_id: int, channel_id: int) -> bool:
        """Turn suggestions off in a channel; False if they were not on."""
        with self.store.write() as session:
            row = session.get(SuggestionChannel, channel_id)
            if row is None or row.guild_id != guild_id:
                return False
            session.delete(row)
        return True

    def enabled_channel_ids(self, guild_id: int) -> frozenset[int]:
        with self.store.session() as session:
            rows = session.exec(
                select(SuggestionChannel.channel_id).where(SuggestionChannel.guild_id == guild_id)
            ).all()
        return frozenset(int(r) for r in rows)

    def is_enabled(self, guild_id: int, channel_id: int) -> bool:
        return channel_id in self.enabled_channel_ids(guild_id)

    # -- questions and prior threads ----------------------------------------------------------

    def ask(self, question: AskedQuestion, allowed_channel_ids: Iterable[int]) -> QuestionOutcome:
        """Record a new question and choose its prior threads (none for a crisis-level one, and
        none when the question or its thread was recorded before: one reply per question). A
        member who chose to be excluded from Kindred is neither recorded nor answered."""
        if self._is_excluded(question.guild_id, question.author_id):
            return QuestionOutcome(None, False, ())  # "never keep my posts": nothing at all
        crisis = self._is_crisis(question.text)
        question_id = self.routing.record_question(question, crisis=crisis)
        if crisis or question_id is None:  # crisis: the crisis path answers; None: answered
            return QuestionOutcome(question_id, crisis, ())
        threads = self.similar_threads(
            question.guild_id,
            question.text,
            asker_id=question.author_id,
            allowed_channel_ids=allowed_channel_ids,
            exclude_keys=question.keys(),
        )
        return QuestionOutcome(question_id, False, tuple(threads))

    def on_demand(
        self,
        guild_id: int,
        text: str,
        *,
        asker_id: int,
        allowed_channel_ids: Iterable[int],
        exclude_keys: Iterable[str] = (),
    ) -> QuestionOutcome:
        """`/similar`: the same choice for a member, privately, with nothing recorded (a
        crisis-level text gets no threads: the caller offers resources instead)."""
        if self._is_crisis(text):
            return QuestionOutcome(None, True, ())
        threads = self.similar_threads(
            guild_id,
            text,
            asker_id=asker_id,
            allowed_channel_ids=allowed_channel_ids,
            exclude_keys=exclude_keys,
        )
        return QuestionOutcome(None, False, tuple(threads))

    def similar_threads(
        self,
        guild_id: int,
        text: str,
        *,
        asker_id: int,
        allowed_channel_ids: Iterable[int],
        exclude_keys: Iterable[str] = (),
        limit: int | None = None,
    ) -> list[SearchHit]:
        """Up to `max_items` prior threads like `text` (see the module doc for the rules)."""
        allowed = frozenset(allowed_channel_ids)
        limit = min(limit or self.settings.max_items, self.settings.max_items)
        if not allowed or not text.strip():
            return []
        # asker_id stays unset: the asker's own posts get no exception (they are withheld
        # here, and their crisis-level posts stay out like anyone's).
        scope = SearchScope(
            guild_id=guild_id,
            readable_channel_ids=allowed,
            withheld_author_ids=frozenset({asker_id}),
        )
        hits = self._similar(text, scope, limit * CANDIDATES_PER_ITEM)
        candidates = choose_threads(
            hits, asker_id=asker_id, exclude_keys=exclude_keys, floor=self.floor, limit=len(hits)
        )
        unsafe = self._threads_with_crisis(guild_id, [thread_key(h) for h in candidates])
        return [h for h in candidates if thread_key(h) not in unsafe][:limit]

    def _threads_with_crisis(self, guild_id: int, keys: Sequence[str]) -> set[str]:
        """The thread keys among `keys` whose thread holds a crisis-level post."""
        thread_ids = [int(k) for k in keys if k.isdigit()]
        if not keys:
            return set()
        crisis = col(Post.crisis_level) == "crisis"
        with self.store.session() as session:
            in_threads = session.exec(
                select(Post.thread_id).where(
                    Post.guild_id == guild_id, col(Post.thread_id).in_(thread_ids), crisis
                )
            ).all()
            starters = session.exec(
                select(Post.external_id).where(
                    Post.guild_id == guild_id, col(Post.external_id).in_(list(keys)), crisis
                )
            ).all()
        return {str(t) for t in in_threads if t is not None} | set(starters)

    # -- the posted reply ------------------------------------------------------------------------

    def record_reply(
        self,
        question: AskedQuestion,
        items: int,
    ) -> int | None:
        """A suggestion reply about to be posted: its id, or None when this question already
        has one (one reply per question, whatever the events)."""
        with self.store.write() as session:
            exists = session.exec(
                select(Suggestion.id).where(
                    Suggestion.guild_id == question.guild_id,
                    Suggestion.external_id == question.external_id,
                )
            ).first()
            if exists is not None:
                return None
            row = Suggestion(
                guild_id=question.guild_id,
                channel_id=question.channel_id,
                thread_id=question.thread_id,
                external_id=question.external_id,
                author_id=question.author_id,
                items=items,
            )
            session.add(row)
            session.flush()
            assert row.id is not None
            return row.id

    def set_reply_message(self, suggestion_id: int, message_id: int | None) -> None:
        """Remember the bot's reply message (None: it could not be posted; the row goes)."""
        with self.store.write() as session:
            row = session.get(Suggestion, suggestion_id)
            if row is None:
                return
            if message_id is None:
                session.delete(row)
            else:
                row.reply_message_id = message_id
                session.add(row)

    def get(self, suggestion_id: int) -> Suggestion | None:
        with self.store.session() as session:
            return session.get(Suggestion, suggestion_id)

    def not_helpful(self, suggestion_id: int, user_id: int, *, may_hide: bool) -> Feedback:
        """Count a member's "not helpful" (once per member); hide the reply when the member is
        its asker or `may_hide` (a moderator)."""
        with self.store.write() as session:
            row = session.get(Suggestion, suggestion_id)
            if row is None:
                return Feedback(False, False, None)
            counted = session.get(SuggestionFeedback, (suggestion_id, user_id)) is None
            if counted:
                session.add(
                    SuggestionFeedback(
                        suggestion_id=suggestion_id, user_id=user_id, guild_id=row.guild_id
                    )
                )
            hide = may_hide or user_id == row.author_id
            if hide and row.hidden_at is None:
                row.hidden_at = self.clock()
                session.add(row)
            return Feedback(counted, row.hidden_at is not None, row.author_id)

    def feedback_counts(self, guild_id: int, since: datetime | None = None) -> tuple[int, int]:
        """(suggestion replies posted, "not helpful" clicks) in a guild, since a moment."""
        with self.store.session() as session:
            posted = select(sa.func.count()).select_from(Suggestion)
            posted = posted.where(
                Suggestion.guild_id == guild_id, col(Suggestion.reply_message_id).is_not(None)
            )
            clicks = select(sa.func.count()).select_from(SuggestionFeedback)
            clicks = clicks.where(SuggestionFeedback.guild_id == guild_id)
            if since is not None:
                posted = posted.where(col(Suggestion.created_at) >= since)
                clicks = clicks.where(col(SuggestionFeedback.created_at) >= since)
            return int(session.exec(posted).one()), int(session.exec(clicks).one())
