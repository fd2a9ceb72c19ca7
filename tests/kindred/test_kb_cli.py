"""`kindred kb export|import`: the knowledge base as Markdown or JSON, moderators' words only,
round-tripping between servers; export never loads the model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.config import KindredSettings
from knowledge.curation import EntryDraft, EntrySource
from knowledge.curation.kb_files import dump_entries, load_entries
from knowledge.embeddings import (
    DEFAULT_DIMENSION,
    DEFAULT_MODEL_NAME,
    HashingEmbedder,
    SentenceTransformerEmbedder,
)
from knowledge.errors import InvalidInput
from knowledge.scope import SearchScope
from knowledge.service import KnowledgeService
from tests.conftest import GUILD, OTHER_GUILD, PHRASES_ONLY, enable, make_settings, post
from tests.kindred.conftest import fake_service, kindred

QUOTE = "zq-private-quote: my own words about my panic at night"
ENTRIES = [
    EntryDraft(
        "Night-time panic",
        "Members found slow breathing helps.\n\n## not a heading\nStay with it.",
        "How to cope with panic at night?",
        ("panic_disorder",),
    ),
    EntryDraft("Pacing with fatigue", "Plan rest before you need it.", "", ()),
]


def fill(service: KnowledgeService) -> None:
    enable(service, GUILD, 1)
    enable(service, OTHER_GUILD, 7, "shared")
    service.ingest([post("r1", QUOTE, author=10)])
    source = EntrySource(channel_id=1, external_id="r1", author_id=10, quote=QUOTE)
    first = service.curation.add_entry(GUILD, ENTRIES[0], source, by=5)
    service.curation.entries.set_credit(GUILD, first.id, 10, True)
    service.curation.add_entry(GUILD, ENTRIES[1], EntrySource(channel_id=1), by=5)


@pytest.fixture
def data_dir(settings: KindredSettings, fake_model: None) -> Path:
    service = fake_service(settings)
    try:
        fill(service)
    finally:
        service.close()
    return settings.storage.data_dir


@pytest.mark.parametrize("fmt", ["md", "json"])
def test_export_then_import_into_another_server(data_dir: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"kb.{fmt}"
    result = kindred(
        "kb", "export", "--guild", str(GUILD), "--format", fmt, "--out", out, "--data-dir", data_dir
    )
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "zq-private-quote" not in text and "r1" not in text  # the member's words stay home
    assert load_entries(text) == ENTRIES
    if fmt == "json":
        assert json.loads(text)["format"] == "kindred-kb/1"

    result = kindred(
        "kb", "import", out, "--guild", str(OTHER_GUILD), "--channel", "shared", "--by", "9",
        "--data-dir", data_dir,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Imported 2 entries into #shared" in result.output
    again = kindred(
        "kb", "import", out, "--guild", str(OTHER_GUILD), "--channel", "7", "--data-dir", data_dir
    )
    assert again.exit_code == 0 and "Imported 0 entries" in again.output
    assert "Skipped 2 titles" in again.output

    service = fake_service(make_settings(data_dir))
    try:
        entries = service.curation.entries.list_entries(OTHER_GUILD)
        assert [e.title for e in entries] == [d.title for d in ENTRIES]
        assert all(e.source_channel_id == 7 and e.quote is None for e in entries)
        scope = SearchScope(guild_id=OTHER_GUILD)
        hits = service.search("slow breathing panic", scope, mode="bm25")
        assert hits[0].curated and hits[0].channel_id == 7
        assert [a.action for a in service.curation.audit_log(OTHER_GUILD)] == ["kb.create"] * 2
    finally:
        service.close()


def test_import_needs_an_enabled_channel_and_a_valid_file(data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}', encoding="utf-8")
    result = kindred(
        "kb", "import", bad, "--guild", str(GUILD), "--channel", "1", "--data-dir", data_dir
    )
    assert result.exit_code == 2 and "not a Kindred knowledge base" in result.output
    good = tmp_path / "kb.md"
    good.write_text("## Title\n\nAn answer.\n", encoding="utf-8")
    result = kindred(
        "kb", "import", good, "--guild", str(GUILD), "--channel", "99", "--data-dir", data_dir
    )
    assert result.exit_code == 2, result.output


def test_export_never_loads_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings(tmp_path / "data")
    fake = HashingEmbedder(dimension=DEFAULT_DIMENSION, name=DEFAULT_MODEL_NAME)
    service = KnowledgeService(settings, embedder=fake, safety=PHRASES_ONLY)
    try:
        fill(service)
    finally:
        service.close()

    def refuse(self: SentenceTransformerEmbedder) -> object:
        raise AssertionError("the embedding model was loaded")

    monkeypatch.setattr(SentenceTransformerEmbedder, "_load_model", refuse)
    result = kindred("kb", "export", "--guild", str(GUILD), "--data-dir", settings.storage.data_dir)
    assert result.exit_code == 0, result.output
    assert "## Night-time panic" in result.stdout and "Curated by moderators" in result.stdout


def test_an_empty_knowledge_base_and_an_unknown_format() -> None:
    assert load_entries(dump_entries([], "md")) == []
    assert load_entries(dump_entries([], "json")) == []
    with pytest.raises(InvalidInput, match="format"):
        dump_entries([], "xml")
