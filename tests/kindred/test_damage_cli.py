"""The command line over a damaged or read-only store: one `error:` line, exit 2, nothing dropped;
read-only commands still work on a read-only folder; no member's words in any output."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import kindred.cli.common as common
from kindred.cli.app import app
from knowledge.config import KindredSettings
from knowledge.embeddings import HashingEmbedder
from knowledge.service import KnowledgeService
from tests.conftest import PHRASES_ONLY

runner = CliRunner()
GUILD = "7"
POSTS = [
    {"id": "a", "text": "My CGM alarm wakes me at 3am with lows", "channel": "diabetes"},
    {"id": "b", "text": "Brain fog after covid lasted months", "channel": "long-covid"},
    {"id": "c", "text": "Panic attacks in the supermarket queue", "channel": "anxiety"},
]
SECRET = "naltrexone vivid dreams every single night"


def fake_service(settings: KindredSettings) -> KnowledgeService:
    return KnowledgeService(settings, embedder=HashingEmbedder(), safety=PHRASES_ONLY)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A store loaded through `kindred ingest` (fake embedder), closed."""
    monkeypatch.setattr(common, "service_factory", fake_service)
    folder = tmp_path / "data"
    result = kindred("ingest", str(write_posts(tmp_path / "posts.jsonl", POSTS)), folder=folder)
    assert result.exit_code == 0, result.output
    yield folder
    for path in (folder, folder / "indexes"):
        if path.is_dir():
            path.chmod(0o700)


def write_posts(path: Path, posts: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(p) + "\n" for p in posts), encoding="utf-8")
    return path


def kindred(*args: str, folder: Path) -> Result:
    return runner.invoke(app, [*args, "--guild", GUILD, "--data-dir", str(folder)])


def one_error_line(result: Result) -> str:
    """Exit 2 and one `error:` line, the last one (a progress bar may precede it), no traceback."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.output
    assert "Traceback" not in result.output and "Error" not in result.output
    return errors[0]


def test_empty_database_is_one_line_and_stays_empty(data_dir: Path, tmp_path: Path) -> None:
    db = data_dir / "kindred.db"
    db.write_bytes(b"")
    index_files = {p.name: p.read_bytes() for p in (data_dir / "indexes").iterdir()}
    posts = write_posts(tmp_path / "more.jsonl", [{"id": "z", "text": SECRET}])
    for args in (["stats"], ["search", "alarm at night"], ["ingest", str(posts)]):
        line = one_error_line(kindred(*args, folder=data_dir))
        assert "0 bytes" in line and "backup" in line
    assert db.stat().st_size == 0
    assert {p.name: p.read_bytes() for p in (data_dir / "indexes").iterdir()} == index_files


def test_truncated_database_is_one_line_and_untouched(data_dir: Path) -> None:
    db = data_dir / "kindred.db"
    os.truncate(db, db.stat().st_size // 2)
    before = db.read_bytes()
    for args in (["stats"], ["search", "alarm at night"]):
        assert "damaged" in one_error_line(kindred(*args, folder=data_dir))
    assert db.read_bytes() == before


def test_read_only_folder_reads_and_refuses_writes_in_one_line(
    data_dir: Path, tmp_path: Path
) -> None:
    data_dir.chmod(0o500)
    (data_dir / "indexes").chmod(0o500)
    names = sorted(p.name for p in data_dir.rglob("*"))
    stats = kindred("stats", "--json", folder=data_dir)
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.stdout)["posts"] == len(POSTS)
    found = kindred("search", "CGM alarm wakes me", folder=data_dir)
    assert found.exit_code == 0, found.output
    assert "CGM" in found.output
    posts = write_posts(tmp_path / "more.jsonl", [{"id": "z", "text": SECRET}])
    line = one_error_line(kindred("ingest", str(posts), folder=data_dir))
    assert str(data_dir) in line and "read-only" in line and SECRET not in line
    assert sorted(p.name for p in data_dir.rglob("*")) == names
    assert data_dir.stat().st_mode & 0o777 == 0o500


def test_damaged_index_files_are_rebuilt_and_search_still_works(data_dir: Path) -> None:
    (faiss_file,) = (data_dir / "indexes").glob("*.faiss")
    raw = bytearray(faiss_file.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 32] = b"\xff" * 32
    faiss_file.write_bytes(bytes(raw))
    found = kindred("search", "CGM alarm wakes me", folder=data_dir)
    assert found.exit_code == 0, found.output
    assert "CGM" in found.output


def test_a_database_error_during_ingest_prints_no_member_words(
    data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    service = fake_service(common.settings_for(None, data_dir))
    with service.store.engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TRIGGER refuse_posts BEFORE INSERT ON post BEGIN "
            "SELECT RAISE(ABORT, 'refused by a test trigger'); END"
        )
    service.close()
    posts = write_posts(tmp_path / "more.jsonl", [{"id": "z", "text": SECRET, "channel": "x"}])
    result = kindred("ingest", str(posts), folder=data_dir)
    line = one_error_line(result)
    assert "refused by a test trigger" in line
    for word in [SECRET, *(w for w in SECRET.split() if len(w) > 4)]:
        assert word not in result.output and word not in caplog.text
