"""Searches that found nothing close, counted per guild, UTC day and condition the query named.

Only the count is stored: never the query, never who searched. The conditions come from the
store's condition tagger, strong tags only (what a member would see as a tag); a query that
names none is counted under `NO_CONDITION`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from knowledge.conditions import ConditionTagger
from knowledge.insights.counts import NO_CONDITION
from knowledge.store.models import SearchGap
from knowledge.store.store import Store


def query_conditions(tagger: ConditionTagger, query: str) -> list[str]:
    """The condition ids a query clearly names (strong, not negated), or `[NO_CONDITION]`."""
    ids = list(dict.fromkeys(tag.condition_id for tag in tagger.tags(query)))
    return ids or [NO_CONDITION]


def record_gap(
    store: Store, tagger: ConditionTagger, guild_id: int, query: str, now: datetime | None = None
) -> list[str]:
    """Count one search of `guild_id` that found nothing close; returns the condition ids
    counted. The query text is read here and dropped."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    conditions = query_conditions(tagger, query)
    with store.write() as session:
        for condition_id in conditions:
            row = session.get(SearchGap, (guild_id, day, condition_id))
            if row is None:
                row = SearchGap(guild_id=guild_id, day=day, condition_id=condition_id, count=0)
            row.count += 1
            session.add(row)
    return conditions
