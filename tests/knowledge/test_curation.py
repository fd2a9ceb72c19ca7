"""Curation in the knowledge layer: curated entries rank first when they match and not at all
when they do not, hiding is immediate and outlives re-ingest, every action is audited without
content, and a source author's delete leaves only the moderator's words."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from knowledge.config import KindredSettings
from knowledge.curation import CURATED_LABEL, EntryDraft, EntrySource
from knowledge.embeddings import HashingEmbedder
from knowledge.errors import ChannelNotEnabled, InvalidInput, NotFound
from knowledge.privacy.tables import member_columns, spec_for
from knowledge.scope import SearchScope
from knowledge.search.retrieval import curated_first
from knowledge.service import KnowledgeService
from knowledge.store.models import Member
from tests.conftest import GUILD, PHRASES_ONLY, enable, enable_open, post

MOD, AUTHOR, ASKER, OTHER = 5, 10, 11, 12
QUERY = "how do I cope with panic attacks at night"
REPLY = "Slow breathing in for four and out for six got me through my panic attacks."


pytestmark = pytest.mark.both_backends  # SQLite and a real PostgreSQL


def low_floor(settings: KindredSettings) -> KindredSettings:
    """The fake embedder's cosines are low: a floor it can clear (the rule is what is tested)."""
    search = settings.search.model_copy(update={"relevance_floor": 0.2})
    return settings.model_copy(update={"search": search})


@pytest.fixture
def kb(settings: KindredSettings) -> Iterator[KnowledgeService]:
    service = KnowledgeService(low_floor(settings), embedder=HashingEmbedder(), safety=PHRASES_ONLY)
    enable_open(service, GUILD, 1)
    service.ingest(
        [
            post("q1", "Does anyone else get panic attacks at night?", author=ASKER),
            post("r1", REPLY, author=AUTHOR, minutes=1),
            post("close", "how do I cope with panic attacks at night", author=OTHER, minutes=2),
            post("far", "my new knee brace arrived today", author=OTHER, minutes=3),
        ]
    )
    yield service
    service.close()


def everyone(**kw: object) -> SearchScope:
    return SearchScope(guild_id=GUILD, **kw)  # type: ignore[arg-type]


def add_entry(service: KnowledgeService, **kw: object) -> int:
    draft = EntryDraft(
        title=str(kw.get("title", "Breathing through night-time panic")),
        question=str(kw.get("question", "How to cope with panic at night?")),
        answer=str(kw.get("answer", "Members found slow breathing helps with panic attacks.")),
        conditions=tuple(kw.get("conditions", ("panic_disorder",))),  # type: ignore[arg-type]
    )
    source = EntrySource(channel_id=1, external_id="r1", author_id=AUTHOR, quote=REPLY)
    return service.curation.add_entry(GUILD, draft, source, by=MOD).id


def audit_rows(service: KnowledgeService) -> list[dict[str, object]]:
    with service.store.engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(sa.text("SELECT * FROM modaction")).all()]


# -- curated entries rank first, and only when they match ---------------------------------------


def test_a_curated_entry_ranks_first_even_when_a_member_post_is_closer(
    kb: KnowledgeService,
) -> None:
    entry_id = add_entry(kb)
    ranked = kb.searcher.ranked(QUERY, kb.enforce(everyone()), 10)
    names = ("close", f"kb:{entry_id}")
    by_id = {kb.store.find_post(GUILD, e).id: e for e in names}  # type: ignore[union-attr]
    similarity = {by_id[r.post_id]: r.similarity or 0.0 for r in ranked if r.post_id in by_id}
    assert similarity["close"] > similarity[f"kb:{entry_id}"]  # the member post is closer

    hits = kb.search(QUERY, everyone())
    assert hits[0].external_id == f"kb:{entry_id}" and hits[0].curated and hits[0].close
    assert hits[1].external_id == "close"
    similar = kb.similar_to_text(QUERY, everyone())
    assert similar[0].external_id == f"kb:{entry_id}"  # suggestions get it first too


def test_a_curated_entry_that_does_not_match_is_not_shown(kb: KnowledgeService) -> None:
    entry_id = add_entry(
        kb,
        title="Choosing a knee brace",
        question="Which brace for a sore knee?",
        answer="A hinged brace arrived quickly for several members.",
        conditions=(),
    )
    hits = kb.search(QUERY, everyone())
    assert f"kb:{entry_id}" not in {h.external_id for h in hits}
    assert hits and not any(h.curated for h in hits)
    knee = kb.search("knee brace arrived", everyone())
    assert knee[0].external_id == f"kb:{entry_id}"


def test_curated_first_only_moves_curated_hits(kb: KnowledgeService) -> None:
    """By construction: with no curated hit the ranking is returned unchanged (the benchmark's
    nDCG cannot move when no entry exists)."""
    hits = kb.search(QUERY, everyone())
    assert not any(h.curated for h in hits)
    assert curated_first(hits) == hits
    ranked = kb.searcher.ranked(QUERY, kb.enforce(everyone()), 50)  # what the benchmark ranks
    assert [h.post_id for h in hits] == [r.post_id for r in ranked]


def test_curated_entries_are_shown_without_member_consent(settings: KindredSettings) -> None:
    service = KnowledgeService(low_floor(settings), embedder=HashingEmbedder(), safety=PHRASES_ONLY)
    try:
        enable(service, GUILD, 1)  # opt-in: nobody said yes, so no member post is shown
        service.ingest([post("r1", REPLY, author=AUTHOR)])
        assert service.search(QUERY, everyone(asker_id=ASKER)) == []
        entry_id = add_entry(service)
        hits = service.search(QUERY, everyone(asker_id=ASKER))
        assert [h.external_id for h in hits] == [f"kb:{entry_id}"]
        readable = everyone(asker_id=ASKER, readable_channel_ids=frozenset({2}))
        assert service.search(QUERY, readable) == []  # channel permissions still apply
    finally:
        service.close()


def test_entries_carry_the_label_and_are_edited_and_retired(kb: KnowledgeService) -> None:
    entry_id = add_entry(kb)
    entry = kb.curation.entries.get(GUILD, entry_id)
    assert entry.label == CURATED_LABEL and entry.quote == REPLY and not entry.credit
    assert entry.credited_author_id is None  # no credit without the author's consent
    with pytest.raises(InvalidInput):
        kb.curation.entries.set_credit(GUILD, entry_id, MOD, True)  # only the author may
    credited = kb.curation.entries.set_credit(GUILD, entry_id, AUTHOR, True)
    assert credited.credited_author_id == AUTHOR

    kb.curation.edit_entry(GUILD, entry_id, MOD, answer="Members suggest a warm shower.")
    assert "shower" in kb.store.find_post(GUILD, f"kb:{entry_id}").content  # type: ignore[union-attr]
    assert kb.curation.entries.titles(GUILD, "night") == [(entry_id, entry.title)]

    assert kb.curation.retire_entry(GUILD, entry_id, MOD) is True
    assert kb.curation.retire_entry(GUILD, entry_id, MOD) is False
    assert f"kb:{entry_id}" not in {h.external_id for h in kb.search(QUERY, everyone())}
    assert kb.store.find_post(GUILD, f"kb:{entry_id}") is None
    assert kb.curation.entries.list_entries(GUILD) == []
    actions = [(r["action"], r["target"], r["done_by"]) for r in audit_rows(kb)]
    assert actions == [
        ("kb.create", f"kb:{entry_id}", MOD),
        ("kb.edit", f"kb:{entry_id}", MOD),
        ("kb.retire", f"kb:{entry_id}", MOD),
    ]


def test_bad_entries_are_refused(kb: KnowledgeService) -> None:
    with pytest.raises(InvalidInput):
        add_entry(kb, title=" ")
    with pytest.raises(InvalidInput):
        add_entry(kb, conditions=("not-a-condition",))
    with pytest.raises(ChannelNotEnabled):
        kb.curation.add_entry(GUILD, EntryDraft("t", "a"), EntrySource(channel_id=99), by=MOD)
    with pytest.raises(NotFound):
        kb.curation.entries.get(GUILD + 1, 1)


# -- hide, unhide, audit ------------------------------------------------------------------------


def test_hide_removes_a_message_from_search_and_suggestions_at_once(kb: KnowledgeService) -> None:
    assert "close" in {h.external_id for h in kb.search(QUERY, everyone())}
    assert kb.curation.hide_message(GUILD, "close", by=MOD) is True
    assert kb.curation.hide_message(GUILD, "close", by=MOD) is False
    for mode in ("hybrid", "dense", "bm25"):
        assert "close" not in {h.external_id for h in kb.search(QUERY, everyone(), mode=mode)}
    assert "close" not in {h.external_id for h in kb.similar_to_text(QUERY, everyone())}
    assert "close" not in {h.external_id for h in kb.similar_to_post(GUILD, "q1", everyone())}

    kb.ingest([post("close", "how do I cope with panic attacks at night!", author=OTHER)])
    assert "close" not in {h.external_id for h in kb.search(QUERY, everyone())}  # an edit

    assert kb.curation.unhide_message(GUILD, "close", by=MOD) is True
    assert kb.curation.unhide_message(GUILD, "close", by=MOD) is False
    assert "close" in {h.external_id for h in kb.search(QUERY, everyone())}
    assert [(r["action"], r["target"], r["done_by"]) for r in audit_rows(kb)] == [
        ("hide", "close", MOD),
        ("unhide", "close", MOD),
    ]


def test_a_hidden_message_stays_hidden_when_stored_again(kb: KnowledgeService) -> None:
    kb.curation.hide_message(GUILD, "later", by=MOD)  # hidden before Kindred stored it
    kb.ingest([post("later", "panic attacks at night again", author=OTHER, minutes=9)])
    assert "later" not in {h.external_id for h in kb.search(QUERY, everyone())}
    moderators = everyone(moderator_view=True)
    assert "later" in {h.external_id for h in kb.search(QUERY, moderators)}


def test_the_audit_holds_ids_never_content(kb: KnowledgeService) -> None:
    entry_id = add_entry(kb)
    kb.curation.hide_message(GUILD, "r1", by=MOD)
    kb.curation.record_action(GUILD, MOD, "report.claim", "12345")
    rows = audit_rows(kb)
    assert {str(r["action"]) for r in rows} == {"kb.create", "hide", "report.claim"}
    assert set(rows[0]) == {"id", "guild_id", "action", "target", "done_by", "created_at"}
    words = ("breathing", "panic", "night", "slow")
    assert not any(w in str(v).lower() for r in rows for v in r.values() for w in words)
    log = kb.curation.audit_log(GUILD)
    assert [e.action for e in log] == ["report.claim", "hide", "kb.create"]
    assert log[-1].target == f"kb:{entry_id}"
    assert kb.curation.audit_log(GUILD + 1) == []


# -- erase: the quote goes with its author or message, the moderator's words stay ---------------


def test_the_authors_delete_keeps_only_the_moderators_words(kb: KnowledgeService) -> None:
    entry_id = add_entry(kb)
    kb.curation.entries.set_credit(GUILD, entry_id, AUTHOR, True)
    exported = kb.privacy.export(GUILD, AUTHOR)
    (row,) = exported["tables"]["knowledgeentry"]  # the member's export holds the quote
    assert row["quote"] == REPLY and row["credit"] in (True, 1)

    kb.privacy.delete_member(GUILD, AUTHOR)

    entry = kb.curation.entries.get(GUILD, entry_id)
    assert entry.quote is None and entry.source_author_id is None
    assert entry.source_external_id is None and not entry.credit
    assert entry.answer.startswith("Members found slow breathing")
    post_row = kb.store.find_post(GUILD, f"kb:{entry_id}")
    assert post_row is not None and "four and out for six" not in post_row.content
    assert kb.search(QUERY, everyone())[0].external_id == f"kb:{entry_id}"


def test_deleting_the_source_message_drops_the_quote(kb: KnowledgeService) -> None:
    entry_id = add_entry(kb)
    kb.delete_messages(GUILD, ["r1"])
    entry = kb.curation.entries.get(GUILD, entry_id)
    assert entry.quote is None and entry.source_external_id is None
    assert entry.source_author_id is None and entry.title


def test_an_exclusion_drops_the_quote_too(kb: KnowledgeService) -> None:
    entry_id = add_entry(kb)
    kb.privacy.set_consent(GUILD, AUTHOR, excluded=True, by=AUTHOR)
    assert kb.curation.entries.get(GUILD, entry_id).quote is None


def test_retention_never_removes_a_curated_entry(kb: KnowledgeService) -> None:
    from datetime import UTC, datetime, timedelta

    entry_id = add_entry(kb)
    kb.privacy.set_retention(GUILD, 1, by=MOD)
    kb.maintain(datetime.now(UTC) + timedelta(days=30))
    assert kb.store.find_post(GUILD, "r1") is None
    assert kb.store.find_post(GUILD, f"kb:{entry_id}") is not None


def test_a_file_cannot_overwrite_a_curated_entry(kb: KnowledgeService) -> None:
    entry_id = add_entry(kb)
    report = kb.ingest([post(f"kb:{entry_id}", "a member's words posing as curated", author=10)])
    assert report.skip_counts() == {"bad_id": 1}
    stored = kb.store.find_post(GUILD, f"kb:{entry_id}")
    assert stored is not None and "posing" not in stored.content
    with kb.store.session() as session:  # no Member row: the curated post has no member author
        assert session.get(Member, (GUILD, 0)) is None


def test_crisis_words_are_never_curated_or_shown(kb: KnowledgeService) -> None:
    crisis = "I am going to kill myself tonight, I have the pills ready"
    kb.ingest([post("c1", crisis, author=OTHER, minutes=5)])
    assert kb.curation.entries.source_is_crisis(GUILD, "c1")
    assert not kb.curation.entries.source_is_crisis(GUILD, "r1")
    entry_id = add_entry(kb, answer=crisis, title="Night panic", conditions=())
    entry = kb.curation.entries.get(GUILD, entry_id)
    assert kb.curation.entries.withheld(entry) == "crisis"
    assert f"kb:{entry_id}" not in {h.external_id for h in kb.search("pills tonight", everyone())}
    fixed = kb.curation.edit_entry(GUILD, entry_id, MOD, answer="Slow breathing helps at night.")
    assert kb.curation.entries.withheld(fixed) is None


def test_the_registry_declares_the_scrub_role() -> None:
    """The erase and export paths read the quote's columns from the registry (`Scrub`), and the
    schema-walking tests in test_erase.py check them as member and message columns."""
    spec = spec_for("knowledgeentry")
    assert spec is not None
    declared = spec.declared()
    assert declared["source_author_id"] == "member"
    assert declared["source_external_id"] == "message"
    assert declared["source_channel_id"] == "place"
    assert member_columns(spec) == ("source_author_id",)
    for scrub in spec.scrub:
        assert "quote" in scrub.also and dict(scrub.reset) == {"credit": False}
