"""Similar threads for a new question (`service.suggestions`): one per thread, at most three,
never the asker's, never crisis, never a member who did not consent, only allowed channels,
nothing below the floor; the reply row is made once; "not helpful" counts once and hides."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from knowledge.embeddings import HashingEmbedder
from knowledge.matching.routing import AskedQuestion
from knowledge.matching.suggestions import (
    QuestionOutcome,
    choose_threads,
    is_question,
    thread_key,
)
from knowledge.records import SearchHit
from knowledge.scope import SearchScope
from knowledge.service import KnowledgeService
from knowledge.store.models import Question, SuggestionFeedback
from tests.conftest import GUILD, T0, enable, post

pytestmark = pytest.mark.both_backends  # SQLite and a real PostgreSQL

ASKER, ANNA, BEN, CARL, SHY = 1, 11, 22, 33, 44
FORUM, PRIVATE = 5, 6
CRISIS = "I have the pills ready and tonight I am going to end my life. Goodbye everyone."
QUESTION = "prednisone taper wrecked my sleep during a crohn's flare, how do you cope?"
SIMILAR = "prednisone taper wrecked my sleep during my crohn's flare"


def asked(
    text: str = QUESTION, *, external_id: str = "q", thread: int | None = 90
) -> AskedQuestion:
    return AskedQuestion(GUILD, FORUM, thread, external_id, ASKER, text, T0 + timedelta(days=1))


@pytest.fixture
def community(service: KnowledgeService) -> KnowledgeService:
    enable(service, GUILD, FORUM)
    enable(service, GUILD, PRIVATE)
    service.ingest(
        [
            # thread 51: two matching posts by Anna and Ben (one entry expected)
            post("51", SIMILAR + " too", author=ANNA, channel=FORUM, thread=51),
            post("51-b", SIMILAR + " as well", author=BEN, channel=FORUM, thread=51),
            post("52", SIMILAR + " last spring", author=CARL, channel=FORUM, thread=52),
            post("53", SIMILAR + " this winter", author=BEN, channel=FORUM, thread=53),
            post("54", SIMILAR + " again", author=ANNA, channel=FORUM, thread=54),
            # the asker's own earlier thread, a member who never consented, a crisis thread
            post("55", SIMILAR + " before", author=ASKER, channel=FORUM, thread=55),
            post("56", SIMILAR + " ugh", author=SHY, channel=FORUM, thread=56),
            post("57", SIMILAR + " and", author=CARL, channel=FORUM, thread=57),
            post("57-c", CRISIS, author=BEN, channel=FORUM, thread=57),
            # a channel some readers of the forum cannot read
            post("61", SIMILAR + " hidden", author=ANNA, channel=PRIVATE),
            post("other", "my knee brace squeaks on the stairs", author=CARL, channel=FORUM),
        ]
    )
    for member in (ASKER, ANNA, BEN, CARL):
        service.privacy.set_consent(GUILD, member, searchable=True, by=member)
    return service


def test_question_heuristic() -> None:
    assert is_question("Does anyone else get night sweats on this med?", 20)
    assert is_question("How do you all manage fatigue at work", 20)
    assert is_question("night sweats on this med, normal?? 😅", 20)
    assert not is_question("night sweats on this med again", 20)
    assert not is_question("why?", 20)  # too short
    assert not is_question("I told my doctor. What a day.", 20)


def test_threads_once_each_at_most_three_and_never_the_forbidden(
    community: KnowledgeService,
) -> None:
    outcome = community.suggestions.ask(asked(), allowed_channel_ids={FORUM})
    assert not outcome.crisis and outcome.question_id is not None
    keys = [thread_key(h) for h in outcome.threads]
    assert len(keys) == 3 and len(set(keys)) == 3
    assert set(keys) <= {"51", "52", "53", "54"}
    many = community.suggestions.similar_threads(
        GUILD, QUESTION, asker_id=ASKER, allowed_channel_ids={FORUM}, limit=3
    )
    everything = community.similar_to_text(QUESTION, SearchScope(guild_id=GUILD), 50)
    assert {"56", "57-c"} & {h.external_id for h in everything} == set()  # the service's rules
    assert "55" in {h.external_id for h in everything}  # the asker's: left out here only
    assert [thread_key(h) for h in many] == keys


def test_allowed_channels_decide(community: KnowledgeService) -> None:
    def found(allowed: set[int]) -> set[str]:
        hits = community.suggestions.similar_threads(
            GUILD, QUESTION, asker_id=ASKER, allowed_channel_ids=allowed
        )
        return {h.external_id for h in hits}

    assert found({PRIVATE}) == {"61"}
    assert "61" not in found({FORUM}) and found({FORUM})
    assert found(set()) == set()


def test_a_crisis_thread_is_never_suggested(community: KnowledgeService) -> None:
    # Carl's post in thread 57 is fine by itself, but the thread holds a crisis-level post
    hits = community.suggestions.similar_threads(
        GUILD, SIMILAR + " and", asker_id=ASKER, allowed_channel_ids={FORUM}
    )
    assert "57" not in {thread_key(h) for h in hits}
    assert hits  # others still are


def test_nothing_below_the_floor(community: KnowledgeService) -> None:
    outcome = community.suggestions.ask(
        asked("what is the best sourdough starter for rye bread?", external_id="q2", thread=91),
        allowed_channel_ids={FORUM},
    )
    assert outcome.threads == ()
    assert outcome.question_id is not None  # still recorded (routing, insights)


def test_a_crisis_question_gets_no_suggestions_and_is_marked(
    community: KnowledgeService,
) -> None:
    outcome = community.suggestions.ask(
        asked(CRISIS, external_id="q3", thread=92), allowed_channel_ids={FORUM}
    )
    assert outcome.crisis and outcome.threads == ()
    with community.store.session() as session:
        row = session.exec(select(Question).where(Question.external_id == "q3")).one()
    assert row.crisis  # never routed to helpers (test_routing)


def test_question_conditions_are_stored_but_no_text(community: KnowledgeService) -> None:
    community.suggestions.ask(asked(), allowed_channel_ids={FORUM})
    again = community.suggestions.ask(asked(), allowed_channel_ids={FORUM})
    assert again.question_id is None  # recorded once
    with community.store.session() as session:
        (row,) = session.exec(select(Question)).all()
    assert row.conditions == '["crohns"]'
    assert "prednisone" not in repr(row.model_dump())


def test_one_reply_row_per_question_and_feedback(community: KnowledgeService) -> None:
    suggestions = community.suggestions
    first = suggestions.record_reply(asked(), 3)
    assert first is not None and suggestions.record_reply(asked(), 3) is None
    suggestions.set_reply_message(first, 777)
    other = suggestions.not_helpful(first, ANNA, may_hide=False)
    assert other.counted and not other.hidden
    assert not suggestions.not_helpful(first, ANNA, may_hide=False).counted
    own = suggestions.not_helpful(first, ASKER, may_hide=False)
    assert own.counted and own.hidden
    assert suggestions.feedback_counts(GUILD) == (1, 2)
    with community.store.session() as session:
        rows = session.exec(select(SuggestionFeedback)).all()
    assert sorted(r.user_id for r in rows) == [ASKER, ANNA]
    failed = suggestions.record_reply(asked(external_id="q9", thread=99), 1)
    assert failed is not None
    suggestions.set_reply_message(failed, None)  # could not be posted: the row goes
    assert suggestions.get(failed) is None


def test_channels_on_and_off(service: KnowledgeService) -> None:
    s = service.suggestions
    assert s.enable_channel(GUILD, FORUM, by=1) and not s.enable_channel(GUILD, FORUM, by=1)
    assert s.enabled_channel_ids(GUILD) == {FORUM}
    assert s.disable_channel(GUILD, FORUM) and not s.disable_channel(GUILD, FORUM)
    assert not s.is_enabled(GUILD, FORUM)


def hit(
    ext: str, author: int, thread: int | None, similarity: float, curated: bool = False
) -> SearchHit:
    return SearchHit(
        post_id=int(ext) if ext.isdigit() else 0,
        external_id=ext,
        guild_id=GUILD,
        channel_id=FORUM,
        thread_id=thread,
        author_id=author,
        created_at=T0,
        score=similarity,
        snippet=(),
        curated=curated,
        similarity=similarity,
    )


def test_choose_threads_rules() -> None:
    hits = [
        hit("1", ANNA, 10, 0.9),
        hit("2", BEN, 10, 0.85),  # same thread
        hit("3", ASKER, 11, 0.8),  # the asker's
        hit("4", BEN, 12, 0.3),  # below the floor
        hit("5", CARL, 90, 0.8),  # the question's own thread
        hit("6", CARL, None, 0.7),
        hit("7", BEN, 13, 0.6, curated=True),
        hit("8", ANNA, 14, 0.65),
    ]
    chosen = choose_threads(hits, asker_id=ASKER, exclude_keys={"90"}, floor=0.4, limit=3)
    assert [h.external_id for h in chosen] == ["7", "1", "6"]  # curated first, then rank


def test_export_and_delete_cover_questions_suggestions_and_feedback(
    community: KnowledgeService,
) -> None:
    suggestions = community.suggestions
    suggestions.ask(asked(), allowed_channel_ids={FORUM})
    reply = suggestions.record_reply(asked(), 2)
    assert reply is not None
    suggestions.not_helpful(reply, ANNA, may_hide=False)
    exported = json.dumps(community.privacy.export(GUILD, ANNA), default=str)
    assert "suggestionfeedback" in exported.lower() and str(reply) in exported
    asker_export = json.dumps(community.privacy.export(GUILD, ASKER), default=str).lower()
    assert '"question"' in asker_export and '"suggestion"' in asker_export
    community.privacy.delete_member(GUILD, ANNA)
    community.privacy.delete_member(GUILD, ASKER)
    with community.store.session() as session:
        assert session.exec(select(SuggestionFeedback)).all() == []
        assert session.exec(select(Question)).all() == []


def test_the_benchmark_runs_on_a_tiny_fixture(tmp_path: Path) -> None:
    from benchmarks.suggestions import Dataset, evaluate

    texts = {
        "d1": "prednisone taper wrecked my sleep during my crohn's flare",
        "d2": "my knee brace squeaks on the stairs",
        "d3": "sourdough starter with rye flour",
    }
    posts = tmp_path / "posts.jsonl"
    posts.write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in texts.items()))
    queries = tmp_path / "queries.tsv"
    queries.write_text(
        "query_id\ttext\nq1\tprednisone taper wrecked my sleep, crohn's flare?\n"
        "q2\twhat do owls eat at midnight in winter\n"
    )
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("query_id\tdoc_id\trelevance\nq1\td1\t1\nq1\td2\t0\nq2\td3\t1\n")
    data = Dataset("tiny", posts, queries, qrels, hide_relevant=True)
    figures = evaluate(data, HashingEmbedder(), rounds=50)
    assert figures["queries"] == 2 and figures["posts"] == 3
    assert figures["hit"]["mean"] == 0.5 and figures["nothing"]["mean"] == 0.5
    assert figures["relevant_removed_nothing"]["mean"] == 1.0


def test_an_excluded_member_is_neither_recorded_nor_answered(
    community: KnowledgeService,
) -> None:
    community.privacy.set_consent(GUILD, ASKER, excluded=True, by=ASKER)
    outcome = community.suggestions.ask(asked(), allowed_channel_ids={FORUM})
    assert outcome == QuestionOutcome(None, False, ())
    with community.store.session() as session:
        assert session.exec(select(Question)).all() == []
