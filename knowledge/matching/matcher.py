"""Ranking fellow members for an asker (what `/connect` shows), from stored vectors only.

Nothing is re-embedded: a stored post's vector and condition vector come from the store; only a
new text (not stored) is embedded. Consent, crisis and the asker's readable channels decide who
may appear (`candidates`); closeness is computed by `scoring`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlmodel import col, select

from knowledge.embeddings import Embedder
from knowledge.errors import InvalidInput, NotFound
from knowledge.matching.candidates import Candidates, select_candidates
from knowledge.matching.results import Matches, MatchOutcome, MemberMatch, OfferResources
from knowledge.matching.scoring import (
    FloatArray,
    IdArray,
    MatchSettings,
    member_scores,
    post_scores,
)
from knowledge.privacy.consent import PrivacyManager
from knowledge.scope import epoch_seconds
from knowledge.store.condition_vectors import CARER_PREFIX
from knowledge.store.models import PostCondition
from knowledge.store.store import Store
from knowledge.text import clean_query

MIN_POOL_PER_RESULT = 20


@dataclass(frozen=True)
class MatchQuery:
    """What the asker's experience looks like: an embedding, a condition vector, strong tags."""

    vector: FloatArray
    conditions: FloatArray
    tags: tuple[str, ...]
    in_crisis: bool


class MemberMatcher:
    """Ranks a guild's matchable members by how close their experiences are to an asker's."""

    def __init__(
        self,
        store: Store,
        privacy: PrivacyManager,
        embedder: Embedder,
        is_crisis_text: Callable[[str], bool],
        settings: MatchSettings | None = None,
        *,
        max_query_chars: int = 4000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.privacy = privacy
        self.embedder = embedder
        self.is_crisis_text = is_crisis_text
        self.settings = settings or MatchSettings()
        self.max_query_chars = max_query_chars
        self.clock = clock

    def rank_members(
        self,
        guild_id: int,
        asker_id: int,
        *,
        post_external_id: str | None = None,
        text: str | None = None,
        limit: int = 10,
        readable_channel_ids: frozenset[int] | None = None,
    ) -> MatchOutcome:
        """Fellow members closest to the asker's post (or text), best first, or OfferResources
        when the asker (or this text) is at crisis level. Never the asker, never a member who
        did not agree to be matched or posted at crisis level recently, never another guild."""
        if (post_external_id is None) == (text is None):
            raise InvalidInput("give either a stored post or a text to match on")
        since = epoch_seconds(self.clock() - timedelta(days=self.settings.crisis_days))
        if post_external_id is not None:
            query = self._post_query(guild_id, post_external_id, since)
        else:
            query = self._text_query(text or "")
        candidates = select_candidates(
            self.store.catalog(guild_id).columns(),
            asker_id=asker_id,
            matchable=self.privacy.matchable_member_ids(guild_id),
            crisis_since=since,
            readable_channel_ids=readable_channel_ids,
        )
        if query.in_crisis or candidates.asker_in_crisis:
            return OfferResources()
        if limit <= 0 or len(candidates.post_ids) == 0:
            return Matches((), query.tags)
        return Matches(self._ranked(guild_id, query, candidates, limit), query.tags)

    # -- the query ----------------------------------------------------------------------------

    def _post_query(self, guild_id: int, external_id: str, since: int) -> MatchQuery:
        post = self.store.find_post(guild_id, external_id)
        if post is None or post.id is None:
            raise NotFound("that message is not indexed")
        ids = np.asarray([post.id], dtype=np.int64)
        vector = self.store.stored_vectors(guild_id, ids)[0]
        if not vector.any():  # not embedded yet (a crash, a new model): its text is used
            vector = self.embedder.encode([post.content])[0]
        crisis = post.crisis_level == "crisis" and epoch_seconds(post.created_at) >= since
        return MatchQuery(
            vector=vector,
            conditions=self.store.condition_vectors(guild_id).matrix(ids)[0],
            tags=tuple(sorted(self._strong_tags([post.id]).get(post.id, ()))),
            in_crisis=crisis,
        )

    def _text_query(self, text: str) -> MatchQuery:
        cleaned = clean_query(text[: self.max_query_chars], self.max_query_chars)
        tagger = self.store.tagger
        tags = sorted(
            t.condition_id if t.role == "member" else CARER_PREFIX + t.condition_id
            for t in tagger.tags(cleaned)
        )
        return MatchQuery(
            vector=self.embedder.encode([cleaned])[0],
            conditions=tagger.vector(cleaned),
            tags=tuple(tags),
            in_crisis=self.is_crisis_text(cleaned),
        )

    # -- ranking ----------------------------------------------------------------------------------

    def _ranked(
        self, guild_id: int, query: MatchQuery, candidates: Candidates, limit: int
    ) -> tuple[MemberMatch, ...]:
        settings = self.settings
        pool = max(settings.pool_posts, MIN_POOL_PER_RESULT * limit)
        allowed = np.sort(candidates.post_ids)
        found, _ = self.store.search_vectors(guild_id, query.vector, pool, allowed)
        author_of = dict(
            zip(candidates.post_ids.tolist(), candidates.authors.tolist(), strict=True)
        )
        pooled = np.fromiter({author_of[i] for i in found.tolist() if i in author_of}, np.int64)
        rows = np.isin(candidates.authors, pooled)  # every usable post of a pooled member
        post_ids, authors = candidates.post_ids[rows], candidates.authors[rows]
        vectors = self.store.stored_vectors(guild_id, post_ids)
        has_vector = vectors.any(axis=1)  # a post not embedded yet waits for its vector
        post_ids, authors = post_ids[has_vector], authors[has_vector]
        scores = post_scores(
            query.vector,
            query.conditions,
            vectors[has_vector],
            self.store.condition_vectors(guild_id).matrix(post_ids),
            settings.condition_weight,
        )
        ranked = member_scores(scores, authors, settings.top_posts)
        order = np.lexsort((ranked.members, -ranked.closeness))[:limit]
        members = ranked.members[order]
        mine = np.isin(authors, members)
        shared = self._shared(post_ids[mine], authors[mine], query.tags)
        return tuple(
            MemberMatch(
                member_id=int(member),
                score=float(ranked.closeness[at]),
                shared_conditions=shared.get(int(member), ()),
                best_post_id=int(post_ids[ranked.best_row[at]]),
                last_active=_last_active(candidates, int(member)),
            )
            for member, at in zip(members.tolist(), order.tolist(), strict=True)
        )

    def _shared(
        self, post_ids: IdArray, authors: IdArray, asker_tags: tuple[str, ...]
    ) -> dict[int, tuple[str, ...]]:
        """member -> the asker's strong tags that the member's posts name too (roles apart)."""
        tags = self._strong_tags(post_ids.tolist())
        shared: dict[int, set[str]] = {}
        for post_id, author in zip(post_ids.tolist(), authors.tolist(), strict=True):
            shared.setdefault(author, set()).update(set(tags.get(post_id, ())) & set(asker_tags))
        return {member: tuple(sorted(found)) for member, found in shared.items()}

    def _strong_tags(self, post_ids: list[int]) -> dict[int, list[str]]:
        """post id -> its strong tags (the writer's own conditions; `carer:` ones)."""
        out: dict[int, list[str]] = {}
        if not post_ids:
            return out
        with self.store.session() as session:
            for start in range(0, len(post_ids), 900):
                chunk = post_ids[start : start + 900]
                rows = session.exec(
                    select(PostCondition.post_id, PostCondition.condition_id).where(
                        col(PostCondition.post_id).in_(chunk), col(PostCondition.weight) > 0
                    )
                ).all()
                for post_id, condition_id in rows:
                    out.setdefault(int(post_id), []).append(condition_id)
        return out


def _last_active(candidates: Candidates, member: int) -> int:
    return int(candidates.created[candidates.authors == member].max())
