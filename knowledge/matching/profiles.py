"""Profiles members control: declared conditions (role, helps), a sample post, helper settings.

A member's *condition keys* are what matching compares: a condition id for "living with it",
``carer:<id>`` for "caring for someone with it" (the same form as post tags). They come from
what the member declared, plus the strong tags of their own posts only when they said so
(`use_inferred`): inferred conditions are shown to the member alone and used only with consent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from knowledge.conditions import Condition
from knowledge.errors import InvalidInput, NotFound
from knowledge.store.condition_vectors import CARER_PREFIX
from knowledge.store.models import MemberProfile, Post, PostCondition, ProfileCondition, utcnow
from knowledge.store.store import Store

ROLES = ("patient", "carer")
ROLE_WORDS = {"patient": "living with it", "carer": "caring for someone"}


def condition_key(condition_id: str, role: str) -> str:
    """`crohns` (living with it) or `carer:crohns` (caring for someone with it)."""
    return CARER_PREFIX + condition_id if role == "carer" else condition_id


def split_key(key: str) -> tuple[str, str]:
    """(condition id, role) of a condition key."""
    if key.startswith(CARER_PREFIX):
        return key.removeprefix(CARER_PREFIX), "carer"
    return key, "patient"


@dataclass(frozen=True)
class DeclaredCondition:
    condition_id: str
    name: str
    role: str
    helps: bool


@dataclass(frozen=True)
class SamplePost:
    """A member's chosen sample post, as its owner sees it."""

    external_id: str
    content: str


@dataclass(frozen=True)
class ProfileView:
    """Everything a member's profile holds, for their own eyes only."""

    guild_id: int
    member_id: int
    conditions: tuple[DeclaredCondition, ...]
    inferred: tuple[str, ...]
    """Condition keys from the strong tags of their own posts (not declared)."""
    use_inferred: bool
    sample: SamplePost | None
    helper: bool
    quiet_hours: tuple[int, int] | None


def in_quiet_hours(start: int | None, end: int | None, at: datetime) -> bool:
    """Whether UTC hour `at.hour` falls in [start, end) (wrapping past midnight)."""
    if start is None or end is None or start == end:
        return False
    hour = at.hour
    return start <= hour < end if start < end else hour >= start or hour < end


class ProfileManager:
    """Reads and writes members' profiles (one guild at a time, never across guilds)."""

    def __init__(self, store: Store, *, crisis_days: float = 30.0) -> None:
        self.store = store
        self.crisis_days = crisis_days

    # -- vocabulary ---------------------------------------------------------------------------

    def suggest_conditions(self, prefix: str, limit: int = 25) -> list[Condition]:
        """Conditions of the vocabulary for autocomplete."""
        return self.store.tagger.search_names(prefix, limit)

    def label(self, key: str) -> str:
        """ "Long COVID (living with it)" / "ADHD (caring for someone)" for a condition key."""
        condition_id, role = split_key(key)
        try:
            name = self.store.tagger.name(condition_id)
        except KeyError:
            name = condition_id
        return f"{name} ({ROLE_WORDS[role]})"

    def _condition(self, condition_id: str) -> Condition:
        try:
            return self.store.tagger.get(condition_id)
        except KeyError:
            raise InvalidInput(
                "unknown_condition", "That condition is not in Kindred's list: pick one offered."
            ) from None

    # -- reading ------------------------------------------------------------------------------

    def view(self, guild_id: int, member_id: int) -> ProfileView:
        with self.store.session() as session:
            profile = session.get(MemberProfile, (guild_id, member_id))
            rows = session.exec(
                select(ProfileCondition)
                .where(ProfileCondition.guild_id == guild_id)
                .where(ProfileCondition.user_id == member_id)
                .order_by(col(ProfileCondition.condition_id))
            ).all()
            sample = None
            if profile is not None and profile.sample_post_id is not None:
                post = session.get(Post, profile.sample_post_id)
                if post is not None and post.guild_id == guild_id:
                    sample = SamplePost(post.external_id, post.content)
        declared = tuple(
            DeclaredCondition(r.condition_id, self._name(r.condition_id), r.role, r.helps)
            for r in rows
        )
        keys = {condition_key(d.condition_id, d.role) for d in declared}
        quiet = None
        if profile is not None and profile.quiet_start_hour is not None:
            quiet = (profile.quiet_start_hour, profile.quiet_end_hour or 0)
        return ProfileView(
            guild_id=guild_id,
            member_id=member_id,
            conditions=declared,
            inferred=tuple(k for k in self.inferred(guild_id, member_id) if k not in keys),
            use_inferred=bool(profile and profile.use_inferred),
            sample=sample,
            helper=bool(profile and profile.helper),
            quiet_hours=quiet,
        )

    def _name(self, condition_id: str) -> str:
        try:
            return self.store.tagger.name(condition_id)
        except KeyError:
            return condition_id

    def inferred(self, guild_id: int, member_id: int) -> tuple[str, ...]:
        """Condition keys named as their own by the member's posts (strong tags only)."""
        query = (
            select(PostCondition.condition_id)
            .join(Post, col(Post.id) == col(PostCondition.post_id))
            .where(Post.guild_id == guild_id, Post.author_id == member_id)
            .where(col(PostCondition.weight) > 0)
            .distinct()
        )
        with self.store.session() as session:
            return tuple(sorted(str(c) for c in session.exec(query).all()))

    def condition_keys(self, guild_id: int, member_ids: Iterable[int]) -> dict[int, frozenset[str]]:
        """member -> the condition keys matching may use: declared ones, plus inferred ones
        for members who agreed (`use_inferred`)."""
        members = sorted(set(member_ids))
        keys: dict[int, set[str]] = {m: set() for m in members}
        if not members:
            return {}
        with self.store.session() as session:
            for start in range(0, len(members), 500):
                chunk = members[start : start + 500]
                rows = session.exec(
                    select(ProfileCondition).where(
                        ProfileCondition.guild_id == guild_id,
                        col(ProfileCondition.user_id).in_(chunk),
                    )
                ).all()
                for row in rows:
                    keys[row.user_id].add(condition_key(row.condition_id, row.role))
                agreed = session.exec(
                    select(MemberProfile.user_id).where(
                        MemberProfile.guild_id == guild_id,
                        col(MemberProfile.user_id).in_(chunk),
                        col(MemberProfile.use_inferred).is_(True),
                    )
                ).all()
        for member in agreed:
            keys[int(member)].update(self.inferred(guild_id, int(member)))
        return {m: frozenset(k) for m, k in keys.items()}

    def sample_post_id(self, guild_id: int, member_id: int) -> int | None:
        with self.store.session() as session:
            profile = session.get(MemberProfile, (guild_id, member_id))
        return profile.sample_post_id if profile else None

    def helpers_for(
        self, guild_id: int, condition_ids: Iterable[str], *, at: datetime | None = None
    ) -> list[int]:
        """Members who help newcomers (`helper` on) with any of these conditions (either
        role), outside their quiet hours at `at` (UTC; now when None), and without a
        crisis-level post in the `crisis_days` before it (they are not asked to carry others
        then). Sorted ids."""
        wanted = sorted({split_key(c)[0] for c in condition_ids})
        if not wanted:
            return []
        moment = at or utcnow()
        query = (
            select(MemberProfile)
            .join(
                ProfileCondition,
                (col(ProfileCondition.guild_id) == col(MemberProfile.guild_id))
                & (col(ProfileCondition.user_id) == col(MemberProfile.user_id)),
            )
            .where(MemberProfile.guild_id == guild_id, col(MemberProfile.helper).is_(True))
            .where(col(ProfileCondition.helps).is_(True))
            .where(col(ProfileCondition.condition_id).in_(wanted))
        )
        with self.store.session() as session:
            profiles = session.exec(query).all()
            ready = {
                p.user_id
                for p in profiles
                if not in_quiet_hours(p.quiet_start_hour, p.quiet_end_hour, moment)
            }
            if ready:
                since = moment - timedelta(days=self.crisis_days)
                in_crisis = session.exec(
                    select(Post.author_id)
                    .where(Post.guild_id == guild_id, col(Post.author_id).in_(sorted(ready)))
                    .where(Post.crisis_level == "crisis", col(Post.created_at) >= since)
                ).all()
                ready -= {int(a) for a in in_crisis}
        return sorted(ready)

    # -- writing ------------------------------------------------------------------------------

    @staticmethod
    def _profile(session: Session, guild_id: int, member_id: int) -> MemberProfile:
        return session.get(MemberProfile, (guild_id, member_id)) or MemberProfile(
            guild_id=guild_id, user_id=member_id
        )

    def declare(
        self, guild_id: int, member_id: int, condition_id: str, role: str, *, helps: bool = False
    ) -> DeclaredCondition:
        """Add or change a declared condition (role `patient` or `carer`)."""
        condition = self._condition(condition_id)
        if role not in ROLES:
            raise InvalidInput("bad_role", "Role must be living with it or caring for someone.")
        with self.store.write() as session:
            row = session.get(
                ProfileCondition, (guild_id, member_id, condition.id)
            ) or ProfileCondition(guild_id=guild_id, user_id=member_id, condition_id=condition.id)
            row.role, row.helps, row.updated_at = role, helps, utcnow()
            session.add(row)
            profile = self._profile(session, guild_id, member_id)
            profile.updated_at = utcnow()
            session.add(profile)
        return DeclaredCondition(condition.id, condition.name, role, helps)

    def remove(self, guild_id: int, member_id: int, condition_id: str) -> bool:
        with self.store.write() as session:
            row = session.get(ProfileCondition, (guild_id, member_id, condition_id))
            if row is None:
                return False
            session.delete(row)
        return True

    def set_sample(
        self, guild_id: int, member_id: int, external_id: str | None
    ) -> SamplePost | None:
        """Choose the post shown on match cards (None: no sample). It must be the member's own
        post in this guild, not at crisis level, not hidden by moderators."""
        post_id: int | None = None
        sample: SamplePost | None = None
        if external_id is not None:
            post = self.store.find_post(guild_id, external_id)
            if post is None or post.id is None or post.author_id != member_id:
                raise NotFound("That is not one of your posts Kindred holds in this server.")
            if post.crisis_level == "crisis" or post.hidden:
                raise InvalidInput("sample_not_allowed", "That post can't be shown on match cards.")
            post_id, sample = post.id, SamplePost(post.external_id, post.content)
        with self.store.write() as session:
            profile = self._profile(session, guild_id, member_id)
            profile.sample_post_id, profile.updated_at = post_id, utcnow()
            session.add(profile)
        return sample

    def set_helper(self, guild_id: int, member_id: int, on: bool) -> None:
        self._update(guild_id, member_id, helper=on)

    def set_use_inferred(self, guild_id: int, member_id: int, on: bool) -> None:
        self._update(guild_id, member_id, use_inferred=on)

    def set_quiet_hours(
        self, guild_id: int, member_id: int, start: int | None, end: int | None
    ) -> None:
        """UTC hours [start, end) when the member is not asked to help (None: no quiet hours)."""
        if (start is None) != (end is None):
            raise InvalidInput("bad_quiet_hours", "Give both a start and an end hour, or neither.")
        for hour in (start, end):
            if hour is not None and not 0 <= hour <= 23:
                raise InvalidInput("bad_quiet_hours", "Hours go from 0 to 23 (UTC).")
        self._update(guild_id, member_id, quiet_start_hour=start, quiet_end_hour=end)

    def _update(self, guild_id: int, member_id: int, **changes: object) -> None:
        with self.store.write() as session:
            profile = self._profile(session, guild_id, member_id)
            for name, value in changes.items():
                setattr(profile, name, value)
            profile.updated_at = utcnow()
            session.add(profile)
