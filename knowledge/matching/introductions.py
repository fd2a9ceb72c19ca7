"""Introductions: match cards for `/connect`, requests, answers, expiry; identities kept apart.

A thin layer around `MemberMatcher.rank_members` (the one ranker): it keeps members who share
one of the asker's condition keys (same condition, same role: see `profiles`), drops blocks
(either way), pairs in a cooldown after a decline or expiry, pairs already pending or
introduced, and stores one `MatchCard` per member shown, whose opaque token is all the asker's
buttons carry. A request becomes an `Introduction`; only when the target accepts does the bot
open a private thread for both. Declines and expiries are never reported to the requester
beyond "no answer yet". A member with a recent crisis-level post is offered resources, never
matches or introductions. Everything is per guild; moderators can turn introductions off.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from knowledge.config import IntroductionSettings
from knowledge.errors import InvalidInput, NotFound
from knowledge.matching.cards import Card, activity_bucket, cut, dump_keys, load_keys, role_words
from knowledge.matching.matcher import MemberMatcher
from knowledge.matching.profiles import ProfileManager, split_key
from knowledge.matching.results import Matches, OfferResources
from knowledge.privacy.consent import PrivacyManager
from knowledge.store.models import (
    GuildMatching,
    Introduction,
    MatchCard,
    MemberBlock,
    Post,
)
from knowledge.store.store import Store

PENDING, ACCEPTED, DECLINED, EXPIRED, CANCELLED = (
    "pending",
    "accepted",
    "declined",
    "expired",
    "cancelled",
)
POOL = 100
UNAVAILABLE = "This member can't be introduced right now."
OFF = "Introductions are turned off in this server."


@dataclass(frozen=True)
class GuildIntroductions:
    enabled: bool
    thread_channel_id: int | None


@dataclass(frozen=True)
class CardsFound:
    """Match cards stored for one `/connect`: page through them by `batch` and position."""

    batch: str
    total: int
    waiting: int
    """The asker's own requests with no answer yet (declines and expiries count as that)."""


@dataclass(frozen=True)
class NeedsConditions:
    """The asker declared no conditions (nor agreed to use inferred ones): nothing to share."""


ConnectOutcome = CardsFound | NeedsConditions | OfferResources


@dataclass(frozen=True)
class Requested:
    """A new introduction request; the bot prompts `target_id` (never shown to the asker)."""

    intro_id: int
    guild_id: int
    target_id: int


@dataclass(frozen=True)
class Accepted:
    """Both agreed: the bot opens a private thread for the two and records it (`opened`)."""

    intro_id: int
    guild_id: int
    requester_id: int
    target_id: int
    conditions: tuple[str, ...]
    thread_channel_id: int | None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Introductions:
    """Cards, requests and answers for introductions (one guild at a time)."""

    def __init__(
        self,
        store: Store,
        privacy: PrivacyManager,
        matcher: MemberMatcher,
        profiles: ProfileManager,
        settings: IntroductionSettings | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.privacy = privacy
        self.matcher = matcher
        self.profiles = profiles
        self.settings = settings or IntroductionSettings()
        self.clock = clock

    # -- guild settings -------------------------------------------------------------------------

    def guild_settings(self, guild_id: int) -> GuildIntroductions:
        with self.store.session() as session:
            row = session.get(GuildMatching, guild_id)
        if row is None:
            return GuildIntroductions(True, None)
        return GuildIntroductions(row.introductions_enabled, row.thread_channel_id)

    def configure(
        self, guild_id: int, by: int, *, enabled: bool, thread_channel_id: int | None = None
    ) -> GuildIntroductions:
        """Turn introductions on or off (Manage Server); `thread_channel_id` None keeps it."""
        with self.store.write() as session:
            row = session.get(GuildMatching, guild_id) or GuildMatching(guild_id=guild_id)
            row.introductions_enabled = enabled
            if thread_channel_id is not None:
                row.thread_channel_id = thread_channel_id
            row.updated_by, row.updated_at = by, self.clock()
            session.add(row)
        return self.guild_settings(guild_id)

    def _require_on(self, guild_id: int) -> None:
        if not self.guild_settings(guild_id).enabled:
            raise InvalidInput("introductions_off", OFF)

    # -- crisis ---------------------------------------------------------------------------------

    def in_recent_crisis(self, guild_id: int, member_id: int) -> bool:
        """A crisis-level post by the member within the matcher's crisis window."""
        since = self.clock() - timedelta(days=self.matcher.settings.crisis_days)
        query = (
            select(sa.func.count())
            .select_from(Post)
            .where(Post.guild_id == guild_id, Post.author_id == member_id)
            .where(Post.crisis_level == "crisis", col(Post.created_at) >= since)
        )
        with self.store.session() as session:
            return int(session.exec(query).one()) > 0

    # -- finding --------------------------------------------------------------------------------

    def find(
        self,
        guild_id: int,
        asker_id: int,
        *,
        text: str | None = None,
        readable_channel_ids: frozenset[int] | None = None,
    ) -> ConnectOutcome:
        """Rank fellow members for the asker and store their cards (at most `settings.cards`)."""
        self._require_on(guild_id)
        mine = self.profiles.condition_keys(guild_id, [asker_id]).get(asker_id, frozenset())
        if not mine:
            return NeedsConditions()
        if self.in_recent_crisis(guild_id, asker_id):
            return OfferResources()
        outcome = self._rank(guild_id, asker_id, mine, text, readable_channel_ids)
        if isinstance(outcome, OfferResources):
            return outcome
        members = [m.member_id for m in outcome.members]
        keys = self.profiles.condition_keys(guild_id, members)
        kept_out = self._kept_apart(guild_id, asker_id)
        chosen: list[tuple[int, frozenset[str]]] = []
        for member in members:
            shared = mine & keys.get(member, frozenset())
            if shared and member not in kept_out:
                chosen.append((member, shared))
            if len(chosen) >= self.settings.cards:
                break
        batch = secrets.token_hex(16)
        now = self.clock()
        expires = now + timedelta(hours=self.settings.card_hours)
        with self.store.write() as session:
            for position, (member, shared) in enumerate(chosen):
                session.add(
                    MatchCard(
                        token=secrets.token_hex(16),
                        batch=batch,
                        position=position,
                        guild_id=guild_id,
                        user_id=asker_id,
                        target_id=member,
                        conditions=dump_keys(shared),
                        created_at=now,
                        expires_at=expires,
                    )
                )
        return CardsFound(batch, len(chosen), self.waiting(guild_id, asker_id))

    def _rank(
        self,
        guild_id: int,
        asker_id: int,
        mine: frozenset[str],
        text: str | None,
        readable: frozenset[int] | None,
    ) -> Matches | OfferResources:
        """The one ranker, on the asker's text, else their sample post, else their conditions."""
        matcher = self.matcher
        if text and text.strip():
            return matcher.rank_members(
                guild_id, asker_id, text=text, limit=POOL, readable_channel_ids=readable
            )
        sample = self._usable_sample(guild_id, asker_id, None)
        if sample is not None:
            return matcher.rank_members(
                guild_id,
                asker_id,
                post_external_id=sample.external_id,
                limit=POOL,
                readable_channel_ids=readable,
            )
        return matcher.rank_members(
            guild_id, asker_id, text=self._describe(mine), limit=POOL, readable_channel_ids=readable
        )

    def _describe(self, keys: frozenset[str]) -> str:
        """A plain sentence naming the asker's conditions (what to match on without a text)."""
        parts = []
        for key in sorted(keys):
            condition_id, role = split_key(key)
            try:
                name = self.store.tagger.name(condition_id)
            except KeyError:
                continue
            parts.append(f"my son has {name}" if role == "carer" else f"I have {name}")
        return ". ".join(parts) or "living with a long-term condition"

    def _kept_apart(self, guild_id: int, member_id: int) -> set[int]:
        """Members never shown to (nor introduced to) `member_id`: blocks either way, pairs
        pending or introduced, pairs in a cooldown after a decline or expiry."""
        cooldown = self.clock() - timedelta(days=self.settings.cooldown_days)
        out: set[int] = set()
        with self.store.session() as session:
            blocks = session.exec(
                select(MemberBlock).where(
                    MemberBlock.guild_id == guild_id,
                    (col(MemberBlock.user_id) == member_id)
                    | (col(MemberBlock.blocked_id) == member_id),
                )
            ).all()
            intros = session.exec(
                select(Introduction).where(
                    Introduction.guild_id == guild_id,
                    (col(Introduction.requester_id) == member_id)
                    | (col(Introduction.target_id) == member_id),
                )
            ).all()
        for block in blocks:
            out.add(block.blocked_id if block.user_id == member_id else block.user_id)
        for intro in intros:
            other = intro.target_id if intro.requester_id == member_id else intro.requester_id
            ended = _aware(intro.answered_at or intro.expires_at)
            if intro.status in (PENDING, ACCEPTED) or ended >= cooldown:
                out.add(other)
        return out

    # -- cards ----------------------------------------------------------------------------------

    def _live_card(self, session: Session, card: MatchCard | None, viewer_id: int) -> MatchCard:
        if card is None or card.user_id != viewer_id:
            raise NotFound("That match card is not yours or no longer exists.")
        if _aware(card.expires_at) < self.clock():
            raise NotFound("These match cards have expired: run /connect again.")
        return card

    def card(
        self,
        batch: str,
        position: int,
        viewer_id: int,
        readable_channel_ids: frozenset[int] | None = None,
    ) -> Card:
        """Card `position` of a `/connect` answer, drawn now (consent, crisis, sample)."""
        with self.store.session() as session:
            rows = session.exec(
                select(MatchCard).where(MatchCard.batch == batch).order_by(col(MatchCard.position))
            ).all()
            if not rows:
                raise NotFound("These match cards have expired: run /connect again.")
            at = min(max(position, 0), len(rows) - 1)
            card = self._live_card(session, rows[at], viewer_id)
        keys = load_keys(card.conditions)
        return self._draw(
            card.guild_id, card.target_id, keys, readable_channel_ids, card.token, at, len(rows)
        )

    def _draw(
        self,
        guild_id: int,
        member_id: int,
        keys: Sequence[str],
        readable: frozenset[int] | None,
        token: str = "",
        position: int = 0,
        total: int = 1,
    ) -> Card:
        available = member_id in self.privacy.matchable_member_ids(guild_id)
        sample = self._usable_sample(guild_id, member_id, readable) if available else None
        return Card(
            conditions=tuple(self.profiles.label(k) for k in keys),
            role=role_words(keys),
            activity=activity_bucket(self._last_active(guild_id, member_id), self.clock()),
            sample=cut(sample.content, self.settings.sample_chars) if sample else None,
            token=token,
            position=position,
            total=total,
        )

    def _usable_sample(
        self, guild_id: int, member_id: int, readable: frozenset[int] | None
    ) -> Post | None:
        """The member's chosen sample post if it may be shown: theirs, in this guild, not at
        crisis level, not hidden, and (for a viewer) in a channel the viewer can read."""
        post_id = self.profiles.sample_post_id(guild_id, member_id)
        if post_id is None:
            return None
        with self.store.session() as session:
            post = session.get(Post, post_id)
        if post is None or post.guild_id != guild_id or post.author_id != member_id:
            return None
        if post.crisis_level == "crisis" or post.hidden:
            return None
        if readable is not None and post.channel_id not in readable:
            return None
        return post

    def _last_active(self, guild_id: int, member_id: int) -> datetime | None:
        query = (
            select(sa.func.max(Post.created_at))
            .where(Post.guild_id == guild_id, Post.author_id == member_id)
            .where(Post.crisis_level != "crisis", col(Post.hidden).is_(False))
        )
        with self.store.session() as session:
            found = session.exec(query).one()
        return _aware(found) if isinstance(found, datetime) else None

    def hide_member(self, token: str, viewer_id: int) -> None:
        """ "Never suggest this member to me (nor me to them)", from a card: a block."""
        with self.store.session() as session:
            card = self._live_card(session, session.get(MatchCard, token), viewer_id)
        self.block(card.guild_id, viewer_id, card.target_id)

    def block(self, guild_id: int, member_id: int, blocked_id: int) -> None:
        with self.store.write() as session:
            if session.get(MemberBlock, (guild_id, member_id, blocked_id)) is None:
                session.add(
                    MemberBlock(
                        guild_id=guild_id,
                        user_id=member_id,
                        blocked_id=blocked_id,
                        created_at=self.clock(),
                    )
                )
            pending = session.exec(
                select(Introduction).where(
                    Introduction.guild_id == guild_id,
                    Introduction.status == PENDING,
                    (
                        (col(Introduction.requester_id) == member_id)
                        & (col(Introduction.target_id) == blocked_id)
                    )
                    | (
                        (col(Introduction.requester_id) == blocked_id)
                        & (col(Introduction.target_id) == member_id)
                    ),
                )
            ).all()
            for intro in pending:  # a block withdraws any request between the two, silently
                intro.status, intro.answered_at = CANCELLED, self.clock()
                session.add(intro)

    def blocks(self, guild_id: int, member_id: int) -> int:
        query = (
            select(sa.func.count())
            .select_from(MemberBlock)
            .where(MemberBlock.guild_id == guild_id, MemberBlock.user_id == member_id)
        )
        with self.store.session() as session:
            return int(session.exec(query).one())

    def clear_blocks(self, guild_id: int, member_id: int) -> int:
        with self.store.write() as session:
            rows = session.exec(
                select(MemberBlock).where(
                    MemberBlock.guild_id == guild_id, MemberBlock.user_id == member_id
                )
            ).all()
            for row in rows:
                session.delete(row)
        return len(rows)

    # -- requests -------------------------------------------------------------------------------

    def request(self, token: str, requester_id: int) -> Requested | OfferResources:
        """Ask for an introduction to the member on a card (limits, blocks, cooldown, crisis)."""
        with self.store.session() as session:
            card = self._live_card(session, session.get(MatchCard, token), requester_id)
        guild_id, target_id = card.guild_id, card.target_id
        self._require_on(guild_id)
        if self.in_recent_crisis(guild_id, requester_id):
            return OfferResources()
        now = self.clock()
        if self.sent_today(guild_id, requester_id) >= self.settings.requests_per_day:
            raise InvalidInput(
                "request_limit",
                f"You can send {self.settings.requests_per_day} introduction requests a day: "
                "try again tomorrow.",
            )
        if (
            target_id in self._kept_apart(guild_id, requester_id)
            or target_id not in self.privacy.matchable_member_ids(guild_id)
            or self.in_recent_crisis(guild_id, target_id)
        ):
            raise InvalidInput("unavailable", UNAVAILABLE)
        intro = Introduction(
            guild_id=guild_id,
            requester_id=requester_id,
            target_id=target_id,
            conditions=card.conditions,
            created_at=now,
            expires_at=now + timedelta(hours=self.settings.expire_hours),
        )
        with self.store.write() as session:
            session.add(intro)
            session.flush()
            assert intro.id is not None
            intro_id = intro.id
        return Requested(intro_id, guild_id, target_id)

    def sent_today(self, guild_id: int, member_id: int) -> int:
        since = self.clock() - timedelta(days=1)
        query = (
            select(sa.func.count())
            .select_from(Introduction)
            .where(Introduction.guild_id == guild_id, Introduction.requester_id == member_id)
            .where(col(Introduction.created_at) >= since)
        )
        with self.store.session() as session:
            return int(session.exec(query).one())

    def waiting(self, guild_id: int, member_id: int) -> int:
        """The member's requests "with no answer yet": pending, declined or expired within the
        cooldown (a decline is never told apart from silence)."""
        since = self.clock() - timedelta(days=max(self.settings.cooldown_days, 1))
        query = (
            select(sa.func.count())
            .select_from(Introduction)
            .where(Introduction.guild_id == guild_id, Introduction.requester_id == member_id)
            .where(col(Introduction.status) != ACCEPTED, col(Introduction.created_at) >= since)
        )
        with self.store.session() as session:
            return int(session.exec(query).one())

    def get(self, intro_id: int) -> Introduction:
        with self.store.session() as session:
            intro = session.get(Introduction, intro_id)
        if intro is None:
            raise NotFound("That introduction no longer exists.")
        return intro

    def prompt_card(self, intro_id: int, readable_channel_ids: frozenset[int] | None) -> Card:
        """The requester as the target may see them before answering."""
        intro = self.get(intro_id)
        keys = load_keys(intro.conditions)
        return self._draw(intro.guild_id, intro.requester_id, keys, readable_channel_ids)

    def mark_prompted(self, intro_id: int, message_id: int | None) -> None:
        with self.store.write() as session:
            intro = session.get(Introduction, intro_id)
            if intro is None:
                return
            intro.prompted_at, intro.prompt_message_id = self.clock(), message_id
            session.add(intro)

    def unprompted(self, guild_id: int, target_id: int) -> list[int]:
        """Pending requests whose target has not been shown a prompt yet (DMs were closed)."""
        query = (
            select(Introduction.id)
            .where(Introduction.guild_id == guild_id, Introduction.target_id == target_id)
            .where(Introduction.status == PENDING, col(Introduction.prompted_at).is_(None))
            .where(col(Introduction.expires_at) > self.clock())
            .order_by(col(Introduction.id))
        )
        with self.store.session() as session:
            return [int(i) for i in session.exec(query).all() if i is not None]

    # -- answers --------------------------------------------------------------------------------

    def _pending_for(self, session: Session, intro_id: int, member_id: int) -> Introduction:
        intro = session.get(Introduction, intro_id)
        if intro is None or intro.target_id != member_id:
            raise NotFound("That introduction request is not for you.")
        if intro.status == PENDING and _aware(intro.expires_at) <= self.clock():
            intro.status, intro.answered_at = EXPIRED, self.clock()
            session.add(intro)
        if intro.status != PENDING:
            raise InvalidInput("not_pending", "This request has already ended.")
        return intro

    def accept(self, intro_id: int, member_id: int) -> Accepted | OfferResources:
        """The target agrees. Crisis on either side stops it (the target gets resources; a
        requester in crisis cancels it silently); otherwise it is marked accepted."""
        with self.store.write() as session:
            intro = self._pending_for(session, intro_id, member_id)
            guild_id, requester = intro.guild_id, intro.requester_id
        self._require_on(guild_id)
        if self.in_recent_crisis(guild_id, member_id):
            return OfferResources()
        cancel = self.in_recent_crisis(guild_id, requester) or requester in self._blocked_either(
            guild_id, member_id
        )
        with self.store.write() as session:
            intro = self._pending_for(session, intro_id, member_id)
            intro.status = CANCELLED if cancel else ACCEPTED
            intro.answered_at = self.clock()
            session.add(intro)
        if cancel:
            raise InvalidInput("unavailable", "This introduction can't go ahead right now.")
        return Accepted(
            intro_id,
            guild_id,
            requester,
            member_id,
            tuple(self.profiles.label(k) for k in load_keys(intro.conditions)),
            self.guild_settings(guild_id).thread_channel_id,
        )

    def _blocked_either(self, guild_id: int, member_id: int) -> set[int]:
        with self.store.session() as session:
            blocks = session.exec(
                select(MemberBlock).where(
                    MemberBlock.guild_id == guild_id,
                    (col(MemberBlock.user_id) == member_id)
                    | (col(MemberBlock.blocked_id) == member_id),
                )
            ).all()
        return {b.blocked_id if b.user_id == member_id else b.user_id for b in blocks}

    def opened(self, intro_id: int, thread_id: int) -> None:
        """The private thread Kindred opened for an accepted introduction."""
        with self.store.write() as session:
            intro = session.get(Introduction, intro_id)
            if intro is not None:
                intro.thread_id = thread_id
                session.add(intro)

    def reopen(self, intro_id: int) -> None:
        """Opening the thread failed: the request is pending again (it can be accepted later)."""
        with self.store.write() as session:
            intro = session.get(Introduction, intro_id)
            if intro is not None and intro.status == ACCEPTED and intro.thread_id is None:
                intro.status, intro.answered_at = PENDING, None
                session.add(intro)

    def decline(self, intro_id: int, member_id: int, *, block: bool = False) -> None:
        """The target says no (never told to the requester); `block` also means "never
        suggest me to this member"."""
        with self.store.write() as session:
            intro = self._pending_for(session, intro_id, member_id)
            intro.status, intro.answered_at = DECLINED, self.clock()
            session.add(intro)
            guild_id, requester = intro.guild_id, intro.requester_id
        if block:
            self.block(guild_id, member_id, requester)

    def expire(self) -> int:
        """Pending requests past their time become expired; expired cards go. Returns the
        number of requests expired."""
        now = self.clock()
        with self.store.write() as session:
            due = session.exec(
                select(Introduction).where(
                    Introduction.status == PENDING, col(Introduction.expires_at) <= now
                )
            ).all()
            for intro in due:
                intro.status, intro.answered_at = EXPIRED, intro.expires_at
                session.add(intro)
            cards = session.exec(select(MatchCard).where(col(MatchCard.expires_at) <= now)).all()
            for card in cards:
                session.delete(card)
        return len(due)
