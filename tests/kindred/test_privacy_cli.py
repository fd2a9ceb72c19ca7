"""`kindred privacy` export / delete / retention, run in-process on a temp store (fake embedder)."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import kindred.cli.privacy as privacy_cli
from knowledge.config import KindredSettings
from knowledge.embeddings import HashingEmbedder
from knowledge.records import PostRecord
from knowledge.scope import SearchScope
from knowledge.service import KnowledgeService
from tests.conftest import GUILD, enable, post

runner = CliRunner()
MARKER = "zqxv-marker-8812"
ME, OTHER = 10, 20


def fake_open_service(settings: KindredSettings) -> KnowledgeService:
    service = KnowledgeService(settings, embedder=HashingEmbedder())
    service.start()
    return service


@pytest.fixture
def data_dir(settings: KindredSettings, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(privacy_cli, "open_service", fake_open_service)
    service = KnowledgeService(settings, embedder=HashingEmbedder())
    enable(service, GUILD, 1)
    recent = datetime.now(UTC) - timedelta(days=1)
    records = [
        post("mine", f"my own story {MARKER} about vertigo", author=ME),
        post("theirs", "someone else's story about migraines", author=OTHER),
        PostRecord(
            **{
                **post("new", "a fresh post on vertigo", author=OTHER).__dict__,
                "created_at": recent,
            }
        ),
    ]
    service.ingest(records)
    service.close()
    return settings.storage.data_dir


def args(data_dir: Path, *extra: str) -> list[str]:
    return [*extra, "--guild", str(GUILD), "--data-dir", str(data_dir)]


def test_export_writes_private_json_about_one_member(data_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "export.json"
    result = runner.invoke(
        privacy_cli.app, args(data_dir, "export", "--member", str(ME), "--out", str(target))
    )
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    data = json.loads(target.read_text(encoding="utf-8"))
    assert [p["external_id"] for p in data["tables"]["post"]] == ["mine"]
    assert "migraines" not in target.read_text(encoding="utf-8")
    to_stdout = runner.invoke(privacy_cli.app, args(data_dir, "export", "--member", str(ME)))
    assert json.loads(to_stdout.stdout)["member_id"] == ME


def test_delete_asks_first_then_removes_everything(
    data_dir: Path, settings: KindredSettings
) -> None:
    refused = runner.invoke(
        privacy_cli.app, args(data_dir, "delete", "--member", str(ME)), input="n\n"
    )
    assert refused.exit_code == 1 and "Nothing deleted" in refused.output
    result = runner.invoke(privacy_cli.app, args(data_dir, "delete", "--member", str(ME), "--yes"))
    assert result.exit_code == 0, result.output
    assert "Deleted 1 posts" in result.output
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert MARKER.encode() not in path.read_bytes(), path.name
    service = fake_open_service(settings)  # a restart, then a reindex
    try:
        service.reindex(GUILD)
        scope = SearchScope(guild_id=GUILD, moderator_view=True)
        for mode in ("bm25", "dense", "hybrid"):
            hits = service.search(f"my own story {MARKER} about vertigo", scope, 50, mode=mode)
            assert "mine" not in {h.external_id for h in hits}
        with service.store.engine.connect() as c:
            count = c.execute(sa.text("SELECT count(*) FROM post WHERE author_id = :a"), {"a": ME})
            assert count.scalar_one() == 0
        assert service.privacy.export(GUILD, ME)["counts"] == {"posttombstone": 1}
    finally:
        service.close()


def test_retention_set_show_apply_and_off(data_dir: Path) -> None:
    shown = runner.invoke(privacy_cli.app, args(data_dir, "retention"))
    assert shown.exit_code == 0 and "until deleted" in shown.output
    applied = runner.invoke(privacy_cli.app, args(data_dir, "retention", "--days", "30", "--apply"))
    assert applied.exit_code == 0, applied.output
    assert "for 30 days" in applied.output and "Removed 2 posts" in applied.output
    off = runner.invoke(privacy_cli.app, args(data_dir, "retention", "--off"))
    assert "until deleted" in off.output
    both = runner.invoke(privacy_cli.app, args(data_dir, "retention", "--off", "--days", "3"))
    assert both.exit_code == 2
