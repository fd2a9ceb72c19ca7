"""`kindred doctor` names what is wrong and how to fix it, exits 1 only on a failure, and never
creates a database or folder; `kindred health` reads the bot's health file for supervisors."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import kindred.cli.common as common
import kindred.cli.doctor as doctor_cli
from kindred.cli.app import app
from knowledge.config import KindredSettings
from knowledge.embeddings import HashingEmbedder, SentenceTransformerEmbedder
from knowledge.health import read_health
from knowledge.service import KnowledgeService
from tests.conftest import PHRASES_ONLY, make_settings, with_database
from tests.postgres import PostgresServer

from .conftest import fake_service

GUILD = 7
POSTS = [
    {"id": "a", "text": "My CGM alarm wakes me at 3am with lows", "channel": "diabetes"},
    {"id": "b", "text": "Brain fog after covid lasted months", "channel": "long-covid"},
    {"id": "c", "text": "Panic attacks in the supermarket queue", "channel": "anxiety"},
]


@pytest.fixture(autouse=True)
def fake_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands and doctor use the fast fake embedder; no Discord token from the environment."""
    monkeypatch.setattr(common, "service_factory", fake_service)
    monkeypatch.setattr(doctor_cli, "embedder_factory", lambda settings: HashingEmbedder())
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.delenv("KINDRED_CONFIG", raising=False)
    monkeypatch.delenv("KINDRED_DATA_DIR", raising=False)


def kindred(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def doctor(data: Path, *args: str | Path) -> tuple[Result, dict[str, dict[str, str]]]:
    """Run `kindred doctor --json`; the checks by name."""
    result = kindred("doctor", "--data-dir", data, "--json", *args)
    assert result.exit_code in (0, 1), result.output
    payload = json.loads(result.stdout)
    assert payload["ok"] == (result.exit_code == 0)
    return result, {c["name"]: c for c in payload["checks"]}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Path]:
    """A store loaded through `kindred ingest` (fake embedder), closed, its indexes saved."""
    posts = tmp_path / "posts.jsonl"
    posts.write_text("".join(json.dumps(p) + "\n" for p in POSTS), encoding="utf-8")
    folder = tmp_path / "data"
    result = kindred("ingest", posts, "--guild", str(GUILD), "--data-dir", folder)
    assert result.exit_code == 0, result.output
    yield folder


def test_no_database_yet_is_said_and_nothing_is_created(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result, checks = doctor(missing, "--skip-model")
    assert result.exit_code == 0
    assert checks["database"]["status"] == "warn"
    assert "run kindred ingest or kindred run" in checks["database"]["fix"]
    assert checks["discord"]["detail"] == "skipped: no DISCORD_TOKEN"
    assert checks["model"]["status"] == "skip"
    assert not missing.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    doctor(empty, "--skip-model")
    assert list(empty.iterdir()) == []


def test_a_healthy_store_passes_every_check_and_the_table_says_so(store: Path) -> None:
    result, checks = doctor(store)
    assert result.exit_code == 0, result.output
    for name in ("config", "database", "migrations", f"index {GUILD}", "model"):
        assert checks[name]["status"] == "ok", checks[name]
    assert "matches SQL" in checks[f"index {GUILD}"]["detail"]
    assert "64 dimensions" in checks["model"]["detail"]
    table = kindred("doctor", "--data-dir", store)
    assert table.exit_code == 0
    assert "kindred doctor" in table.stdout and "Nothing to fix" in table.stdout


def test_stale_missing_and_damaged_indexes_are_warnings_with_the_fix(store: Path) -> None:
    faiss_file = store / "indexes" / f"guild-{GUILD}.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:-4] + b"\0\0\0\1")
    result, checks = doctor(store, "--skip-model")
    assert result.exit_code == 0
    assert "checksum" in checks[f"index {GUILD}"]["detail"]
    assert "caught up from SQL" in checks[f"index {GUILD}"]["fix"]
    faiss_file.unlink()
    _, checks = doctor(store, "--skip-model")
    assert "no saved index for 3 vectors" in checks[f"index {GUILD}"]["detail"]
    with sqlite3.connect(store / "kindred.db") as db:
        db.execute("DELETE FROM postvector WHERE post_id = (SELECT min(id) FROM post)")
    _, checks = doctor(store, "--skip-model")
    assert checks[f"index {GUILD}"]["status"] == "warn"
    assert "1 of 3 posts have no vector yet" in checks[f"index {GUILD}"]["detail"]


def test_saved_index_behind_sql_is_stale(store: Path) -> None:
    sidecar = store / "indexes" / f"guild-{GUILD}.json"
    payload = json.loads(sidecar.read_text(encoding="utf-8"))
    payload["meta"]["vectors"] = 2
    sidecar.write_text(json.dumps(payload), encoding="utf-8")
    _, checks = doctor(store, "--skip-model")
    assert "saved index holds 2 vectors, SQL 3" in checks[f"index {GUILD}"]["detail"]


def set_revision(store: Path, revision: str) -> None:
    with sqlite3.connect(store / "kindred.db") as db:
        db.execute("UPDATE alembic_version SET version_num = ?", (revision,))


def test_schema_behind_warns_and_too_new_fails(store: Path) -> None:
    set_revision(store, "0001")
    result, checks = doctor(store, "--skip-model")
    assert result.exit_code == 0
    assert checks["migrations"]["status"] == "warn"
    assert "behind" in checks["migrations"]["detail"]
    assert "upgrades it" in checks["migrations"]["fix"]
    assert f"index {GUILD}" not in checks  # indexes are checked at the newest schema only
    set_revision(store, "9999")
    result, checks = doctor(store, "--skip-model")
    assert result.exit_code == 1
    assert checks["migrations"]["status"] == "fail"
    assert "upgrade Kindred" in checks["migrations"]["fix"]
    with sqlite3.connect(store / "kindred.db") as db:  # doctor changed nothing
        assert db.execute("SELECT version_num FROM alembic_version").fetchone() == ("9999",)


def test_a_damaged_database_fails_untouched(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    database = folder / "kindred.db"
    database.write_bytes(b"")
    result, checks = doctor(folder, "--skip-model")
    assert result.exit_code == 1
    assert "empty (0 bytes)" in checks["database"]["detail"]
    database.write_bytes(b"not a database at all" * 100)
    result, checks = doctor(folder, "--skip-model")
    assert result.exit_code == 1 and checks["database"]["status"] == "fail"
    assert "restore" in checks["database"]["fix"]
    assert database.read_bytes() == b"not a database at all" * 100
    assert sorted(p.name for p in folder.iterdir()) == ["kindred.db"]


def test_a_model_of_another_dimension_fails(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor_cli, "embedder_factory", lambda s: HashingEmbedder(dimension=32))
    result, checks = doctor(store)
    assert result.exit_code == 1
    assert "makes 32-dimensional vectors, the store holds 64" in checks["model"]["detail"]
    assert "kindred reindex" in checks["model"]["fix"]


def test_a_missing_model_folder_fails_without_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from knowledge.service import default_embedder

    monkeypatch.setattr(doctor_cli, "embedder_factory", default_embedder)
    config = tmp_path / "kindred.toml"
    config.write_text(f'[embedding]\nmodel_path = "{tmp_path / "no-model"}"\n', encoding="utf-8")
    result, checks = doctor(tmp_path / "data", "--config", config)
    assert result.exit_code == 1
    assert "does not exist" in checks["model"]["detail"]
    assert "model_path" in checks["model"]["fix"]


def test_the_packaged_model_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_embedder: SentenceTransformerEmbedder
) -> None:
    monkeypatch.setattr(doctor_cli, "embedder_factory", lambda s: real_embedder)
    _, checks = doctor(tmp_path / "data")
    assert checks["model"]["status"] == "ok", checks["model"]
    assert "384 dimensions" in checks["model"]["detail"]


def test_a_bad_setting_fails_and_names_it(tmp_path: Path) -> None:
    config = tmp_path / "kindred.toml"
    config.write_text("[discord]\nhealth_interval_seconds = -1\n", encoding="utf-8")
    result, checks = doctor(tmp_path, "--config", config)
    assert result.exit_code == 1
    assert list(checks) == ["config"]
    assert "discord.health_interval_seconds" in checks["config"]["detail"]


def test_an_unreachable_postgresql_fails_with_the_fix(tmp_path: Path) -> None:
    config = tmp_path / "kindred.toml"
    url = "postgresql+psycopg://kindred:secret-pw@127.0.0.1:9/kindred"
    config.write_text(f'[storage]\ndatabase_url = "{url}"\n', encoding="utf-8")
    result, checks = doctor(tmp_path / "data", "--config", config, "--skip-model")
    assert result.exit_code == 1
    assert checks["database"]["status"] == "fail"
    assert "cannot reach" in checks["database"]["detail"]
    assert "database_url" in checks["database"]["fix"]
    assert "secret-pw" not in result.output
    assert not (tmp_path / "data").exists()


def test_a_postgresql_store_is_checked_like_sqlite(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    url = pg_server.new_database()
    settings: KindredSettings = with_database(make_settings(tmp_path / "data"), url)
    service = KnowledgeService(settings, embedder=HashingEmbedder(), safety=PHRASES_ONLY)
    from tests.conftest import enable_open, post

    enable_open(service, GUILD, 1)
    service.ingest([post("a", "night sweats on the new tablets", guild=GUILD)])
    service.close()
    config = tmp_path / "kindred.toml"
    config.write_text(f'[storage]\ndatabase_url = "{url}"\n', encoding="utf-8")
    result, checks = doctor(tmp_path / "data", "--config", config)
    assert result.exit_code == 0, result.output
    for name in ("database", "migrations", f"index {GUILD}", "model"):
        assert checks[name]["status"] == "ok", checks[name]


# -- the health file --------------------------------------------------------------------------


def write_health(folder: Path, age: float, **fields: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    updated = datetime.now(UTC) - timedelta(seconds=age)
    payload = {
        "pid": os.getpid(),
        "status": "ready",
        "ready": True,
        "started_at": updated.isoformat(),
        "updated_at": updated.isoformat(),
        "interval_seconds": 10.0,
        "guilds": 2,
        "backfill_queue": 0,
        **fields,
    }
    path = folder / "health.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def test_kindred_health_is_zero_only_for_a_fresh_ready_bot(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = kindred("health", "--data-dir", data)
    assert result.exit_code == 1 and "no health file" in result.stdout
    write_health(data, age=2)
    result = kindred("health", "--data-dir", data)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: ") and "2 guilds" in result.stdout
    write_health(data, age=45)  # three intervals of 10 s
    result = kindred("health", "--data-dir", data)
    assert result.exit_code == 1 and "not updated for 45 s" in result.stdout
    assert kindred("health", "--data-dir", data, "--max-age", "60").exit_code == 0
    write_health(data, age=1, status="starting", ready=False)
    assert kindred("health", "--data-dir", data).exit_code == 1
    write_health(data, age=1, status="stopped", ready=False)
    result = kindred("health", "--data-dir", data)
    assert result.exit_code == 1 and "stopped cleanly" in result.stdout


def test_doctor_reports_a_silent_bot(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_health(data, age=600)
    result, checks = doctor(data, "--skip-model")
    assert result.exit_code == 1
    assert checks["bot process"]["status"] == "fail"
    assert "hung or was killed" in checks["bot process"]["fix"]


def test_a_health_file_elsewhere_comes_from_the_config(tmp_path: Path) -> None:
    path = write_health(tmp_path / "run", age=1)
    config = tmp_path / "kindred.toml"
    config.write_text(f'[discord]\nhealth_file = "{path}"\n', encoding="utf-8")
    result = kindred("health", "--config", config, "--data-dir", tmp_path / "data")
    assert result.exit_code == 0, result.output
    assert read_health(path).status == "ok"


def test_skip_model_never_loads_it(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from knowledge.service import default_embedder

    def refuse(self: SentenceTransformerEmbedder) -> object:
        raise AssertionError("the embedding model was loaded")

    monkeypatch.setattr(SentenceTransformerEmbedder, "_load_model", refuse)
    monkeypatch.setattr(doctor_cli, "embedder_factory", default_embedder)
    result, checks = doctor(store, "--skip-model")
    assert checks["model"]["status"] == "skip"
    assert "another model" in checks[f"index {GUILD}"]["detail"]  # made by the fake embedder
    assert result.exit_code == 0


def test_many_guilds_are_summed_up_and_problems_kept(tmp_path: Path) -> None:
    from knowledge.health import check_indexes, reading_engine
    from tests.conftest import enable_open, post

    settings = make_settings(tmp_path / "data")
    service = KnowledgeService(settings, embedder=HashingEmbedder(), safety=PHRASES_ONLY)
    for guild in range(1, 13):
        enable_open(service, guild, guild * 10)
        text = "a long night of chest pain and worry"
        service.ingest([post(f"g{guild}", text, guild=guild, channel=guild * 10)])
    service.flush(force=True)
    service.close()
    (tmp_path / "data" / "indexes" / "guild-5.faiss").unlink()
    with reading_engine(settings) as (reached, engine):
        assert reached.status == "ok" and engine is not None
        checks = check_indexes(engine, tmp_path / "data" / "indexes", "hashing-fake", 64)
    assert [c.name for c in checks] == ["indexes", "index 5"]
    assert checks[0].detail == "11 of 12 guilds' indexes are fine"
