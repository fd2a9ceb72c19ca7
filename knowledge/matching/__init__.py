"""Matching members: rank fellow members whose experiences are closest to an asker's.

Opt-in (`matchable`) only, never the asker, never across guilds, never a member with a recent
crisis-level post; an asker at crisis level gets `OfferResources` instead of matches.
"""

from knowledge.matching.matcher import MemberMatcher
from knowledge.matching.results import Matches, MatchOutcome, MemberMatch, OfferResources
from knowledge.matching.scoring import MatchSettings

__all__ = [
    "MatchOutcome",
    "MatchSettings",
    "Matches",
    "MemberMatch",
    "MemberMatcher",
    "OfferResources",
]
