"""Members' signals about answers: "this helped" (once per member) and "solved" on a question.

Both are raw material for moderators: `most_helpful_uncurated` lists the replies members found
most helpful that no knowledge-base entry was built from yet (what `/kb suggest` shows), and
insights count solved questions. Neither changes ranking (no boost was measured on dev yet).
Rows hold ids and times only, never text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import col, select

from knowledge.errors import InvalidInput, NotFound
from knowledge.store.models import (
    EXTERNAL_ID_CHARS,
    HelpedMark,
    KnowledgeEntry,
    Post,
    Question,
)
from knowledge.store.store import Store

log = logging.getLogger(__name__)

NOT_ASKER = "Only the member who asked, or a moderator, can mark this thread solved."
NO_QUESTION = (
    "Kindred has no question recorded for this thread (it tracks forum posts in channels "
    "where it is enabled)."
)


@dataclass(frozen=True)
class HelpfulReply:
    """A message members said helped, with how many of them did (ids only)."""

    external_id: str
    post_id: int
    channel_id: int
    thread_id: int | None
    author_id: int
    helped: int


@dataclass(frozen=True)
class Solved:
    """The outcome of marking a question solved."""

    question_id: int
    first: bool  # False when it was already marked solved (the pointer may have changed)


@dataclass(frozen=True)
class ThreadQuestion:
    """What the bot knows of a forum thread when Kindred holds no question row for it yet."""

    channel_id: int  # the forum
    asker_id: int  # the thread's owner (the forum post's author)
    asked_at: datetime


class Signals:
    """ "This helped" marks and "solved" questions of every guild, in SQL."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- this helped -------------------------------------------------------------------------------

    def mark_helped(
        self, guild_id: int, user_id: int, external_id: str, now: datetime | None = None
    ) -> bool:
        """Count a member's "this helped" on a message; True when it is newly counted (a second
        mark by the same member, or a mark on their own post, counts nothing)."""
        if not external_id or len(external_id) > EXTERNAL_ID_CHARS:
            raise InvalidInput("bad_message", "That message can't be marked.")
        post = self.store.find_post(guild_id, external_id)
        if post is not None and post.author_id == user_id:
            return False
        with self.store.write() as session:
            if session.get(HelpedMark, (guild_id, user_id, external_id)) is not None:
                return False
            session.add(
                HelpedMark(
                    guild_id=guild_id,
                    user_id=user_id,
                    external_id=external_id,
                    channel_id=post.channel_id if post else None,
                    thread_id=post.thread_id if post else None,
                    created_at=now or datetime.now(UTC),
                )
            )
        log.info("guild %s: helped mark on message %s", guild_id, external_id)
        return True

    def helped_count(self, guild_id: int, external_id: str) -> int:
        """How many members said this message helped."""
        return self.helped_counts(guild_id, [external_id]).get(external_id, 0)

    def helped_counts(self, guild_id: int, external_ids: Iterable[str]) -> dict[str, int]:
        """external id -> members who said it helped (ids without marks are left out)."""
        wanted = sorted(set(external_ids))
        if not wanted:
            return {}
        query = (
            select(HelpedMark.external_id, sa.func.count())
            .where(HelpedMark.guild_id == guild_id, col(HelpedMark.external_id).in_(wanted))
            .group_by(col(HelpedMark.external_id))
        )
        with self.store.session() as session:
            return {str(e): int(n) for e, n in session.exec(query).all()}

    def most_helpful_uncurated(self, guild_id: int, limit: int = 10) -> list[HelpfulReply]:
        """Replies members marked helpful that no live knowledge-base entry was built from,
        most marks first (then newest). Only messages Kindred still holds, visible and not
        crisis posts; curated entries themselves are left out."""
        helped = sa.func.count().label("helped")
        curated = select(KnowledgeEntry.source_external_id).where(
            KnowledgeEntry.guild_id == guild_id,
            col(KnowledgeEntry.retired).is_(False),
            col(KnowledgeEntry.source_external_id).is_not(None),
        )
        query = (
            sa.select(
                col(Post.external_id),
                col(Post.id),
                col(Post.channel_id),
                col(Post.thread_id),
                col(Post.author_id),
                helped,
            )
            .join(
                HelpedMark,
                sa.and_(
                    col(HelpedMark.guild_id) == col(Post.guild_id),
                    col(HelpedMark.external_id) == col(Post.external_id),
                ),
            )
            .where(
                col(Post.guild_id) == guild_id,
                col(Post.hidden).is_(False),
                col(Post.curated).is_(False),
                col(Post.crisis_level) != "crisis",
                col(Post.external_id).not_in(curated),
            )
            .group_by(
                col(Post.id),
                col(Post.external_id),
                col(Post.channel_id),
                col(Post.thread_id),
                col(Post.author_id),
            )
            .order_by(helped.desc(), col(Post.id).desc())
            .limit(max(1, limit))
        )
        with self.store.session() as session:
            rows = session.execute(query).all()
        return [
            HelpfulReply(str(e), int(pid), int(ch), th, int(a), int(n))
            for e, pid, ch, th, a, n in rows
        ]

    # -- solved ------------------------------------------------------------------------------------

    def question_for_thread(self, guild_id: int, thread_id: int) -> Question | None:
        """The question asked in a thread (a forum post), if Kindred recorded one."""
        query = select(Question).where(
            Question.guild_id == guild_id,
            sa.or_(
                col(Question.thread_id) == thread_id, col(Question.external_id) == str(thread_id)
            ),
        )
        with self.store.session() as session:
            return session.exec(query.order_by(col(Question.id))).first()

    def mark_solved(
        self,
        guild_id: int,
        thread_id: int,
        by: int,
        *,
        moderator: bool,
        solution_message_id: int | None = None,
        seed: ThreadQuestion | None = None,
        now: datetime | None = None,
    ) -> Solved:
        """Mark the question of a thread solved, by its asker or a moderator only, with an
        optional pointer to the reply that solved it.

        Without a question row, `seed` (the forum post's owner and forum) records one, only
        when that forum is enabled for Kindred; otherwise NotFound."""
        now = now or datetime.now(UTC)
        with self.store.write() as session:
            question = session.exec(
                select(Question).where(
                    Question.guild_id == guild_id,
                    sa.or_(
                        col(Question.thread_id) == thread_id,
                        col(Question.external_id) == str(thread_id),
                    ),
                )
            ).first()
            if question is None:
                if seed is None or seed.channel_id not in self.store.enabled_channel_ids(guild_id):
                    raise NotFound(NO_QUESTION)
                question = Question(
                    guild_id=guild_id,
                    channel_id=seed.channel_id,
                    thread_id=thread_id,
                    external_id=str(thread_id),
                    author_id=seed.asker_id,
                    asked_at=seed.asked_at,
                )
            if not moderator and by != question.author_id:
                raise InvalidInput("not_asker", NOT_ASKER)
            first = question.solved_at is None
            if first:
                question.solved_at = now
            question.solved_by = by
            if solution_message_id is not None:
                question.solution_message_id = solution_message_id
            session.add(question)
            session.flush()
            assert question.id is not None
            question_id = question.id
        log.info("guild %s: question %s marked solved (first=%s)", guild_id, question_id, first)
        return Solved(question_id, first)
