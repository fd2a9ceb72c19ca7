"""`kindred privacy` export / delete / retention, run in-process on a temp store (fake embedder)."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from knowledge.config import KindredSettings
from knowledge.records import PostRecord
from knowledge.scope import SearchScope
from tests.conftest import GUILD, enable, post
from tests.kindred.conftest import fake_service, files_containing, kindred, lines

MARKER = "zqxv-marker-8812"
ME, OTHER = 10, 20


@pytest.fixture
def data_dir(settings: KindredSettings, fake_model: None) -> Path:
    service = fake_service(settings)
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


def privacy(data_dir: Path, *extra: str, input: str | None = None) -> tuple[int, str, str]:
    result = kindred(
        "privacy", *extra, "--guild", str(GUILD), "--data-dir", str(data_dir), input=input
    )
    return result.exit_code, result.output, result.stdout


def test_export_writes_private_json_about_one_member(data_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "export.json"
    code, output, _ = privacy(data_dir, "export", "--member", str(ME), "--out", str(target))
    assert code == 0, output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    data = json.loads(target.read_text(encoding="utf-8"))
    assert [p["external_id"] for p in data["tables"]["post"]] == ["mine"]
    assert "migraines" not in target.read_text(encoding="utf-8")
    code, _, stdout = privacy(data_dir, "export", "--member", str(ME))
    assert code == 0 and json.loads(stdout)["member_id"] == ME


def test_delete_asks_first_then_removes_everything(
    data_dir: Path, settings: KindredSettings
) -> None:
    code, output, _ = privacy(data_dir, "delete", "--member", str(ME), input="n\n")
    assert code == 1 and "Nothing deleted" in output and "1 post)?" in output
    code, output, _ = privacy(data_dir, "delete", "--member", str(ME), "--yes")
    assert code == 0, output
    assert f"Deleted 1 post of member {ME} from guild {GUILD}" in output
    assert files_containing(data_dir, MARKER) == []
    service = fake_service(settings)  # a restart, then a reindex
    try:
        service.reindex(GUILD)
        scope = SearchScope(guild_id=GUILD, moderator_view=True)
        for mode in ("bm25", "dense", "hybrid"):
            hits = service.search(f"my own story {MARKER} about vertigo", scope, 50, mode=mode)
            assert "mine" not in {h.external_id for h in hits}
        with service.store.engine.connect() as c:
            count = c.execute(sa.text("SELECT count(*) FROM post WHERE author_id = :a"), {"a": ME})
            assert count.scalar_one() == 0
    finally:
        service.close()
    code, output, _ = privacy(data_dir, "delete", "--member", str(ME), "--yes")
    assert code != 0 and len(lines(output)) == 1 and "no member" in output  # nothing left


def test_retention_set_show_apply_and_off(data_dir: Path) -> None:
    code, output, _ = privacy(data_dir, "retention")
    assert code == 0 and "until deleted" in output
    code, output, _ = privacy(data_dir, "retention", "--days", "30")
    assert code == 0 and "for 30 days" in output and "2 posts are older than that" in output
    code, output, _ = privacy(data_dir, "retention", "--days", "30", "--apply", input="n\n")
    assert code == 1 and "Delete 2 posts older than 30 days" in output
    assert "Nothing deleted" in output
    code, output, _ = privacy(data_dir, "retention", "--days", "30", "--apply", "--yes")
    assert code == 0, output
    assert "for 30 days" in output and "Removed 2 posts" in output
    code, output, _ = privacy(data_dir, "retention", "--off")
    assert "until deleted" in output
    code, output, _ = privacy(data_dir, "retention", "--off", "--days", "3")
    assert code == 2 and len(lines(output)) == 1
