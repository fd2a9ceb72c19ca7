"""What ranking members returns: matches, or (for an asker in crisis) an offer of resources."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MemberMatch:
    """One fellow member, best first. `score` is their closeness (`matching.scoring`);
    `shared_conditions` are condition ids (strong tags, with
    ``carer:`` for a carer's experience) that both the asker's text and the member's posts name;
    `best_post_id` is the member's post closest to the asker's (never shown without approval)."""

    member_id: int
    score: float
    shared_conditions: tuple[str, ...]
    best_post_id: int
    last_active: int  # epoch seconds of the member's newest matchable post


@dataclass(frozen=True)
class Matches:
    """Fellow members ranked for an asker (possibly none: nobody matchable is close)."""

    members: tuple[MemberMatch, ...]
    asker_conditions: tuple[str, ...] = ()


@dataclass(frozen=True)
class OfferResources:
    """The asker posted at crisis level recently (or just now): offer resources and moderators,
    never matches."""

    reason: str = "recent_crisis"


MatchOutcome = Matches | OfferResources
