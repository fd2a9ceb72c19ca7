"""At rest and in logs: private file modes, no content or handles in logs, schema in step."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from knowledge.config import KindredSettings
from knowledge.records import PostRecord
from knowledge.scope import SearchScope
from knowledge.service import KnowledgeService
from knowledge.store.db import current_revision
from tests.conftest import GUILD, enable, post

PRIVACY_TABLES = {"memberconsent", "consentevent", "guildprivacy", "posttombstone"}
TEXTS = [
    "lupus flare made my hands swell, methotrexate nausea",
    "sertraline week three, the dizziness finally eased",
    "panic in the waiting room before my scan",
]
HANDLES = ["quietfern_77", "Marigold.Sky", "river-otter-42"]


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def with_handle(record: PostRecord, handle: str) -> PostRecord:
    return PostRecord(**{**record.__dict__, "author_handle": handle})


def test_store_files_are_private(service: KnowledgeService, settings: KindredSettings) -> None:
    enable(service, GUILD, 1)
    service.ingest([post(f"p{i}", text) for i, text in enumerate(TEXTS)])
    service.flush(force=True)
    data_dir = settings.storage.data_dir
    db = data_dir / "kindred.db"
    wal, shm = db.with_name("kindred.db-wal"), db.with_name("kindred.db-shm")
    assert wal.exists() and shm.exists()  # looked at while the store is open
    index_files = sorted((data_dir / "indexes").iterdir())
    assert {p.suffix for p in index_files} == {".faiss", ".json"}
    for path in [db, wal, shm, *index_files]:
        assert mode_of(path) == 0o600, path.name
    assert mode_of(data_dir) == 0o700 and mode_of(data_dir / "indexes") == 0o700
    service.privacy.delete_member(GUILD, 10)  # rewritten files stay private
    for path in [db, wal, shm, *sorted((data_dir / "indexes").iterdir())]:
        assert mode_of(path) == 0o600, path.name


def test_full_flow_logs_no_text_and_no_handles(
    service: KnowledgeService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger
    names = [n for n in logging.root.manager.loggerDict if not n.startswith("sqlalchemy")]
    for name in ["knowledge", *names]:
        caplog.set_level(logging.DEBUG, logger=name)
    manager = service.privacy  # wired by KnowledgeService itself
    enable(service, GUILD, 1)
    records = [
        with_handle(post(f"p{i}", text, author=10 + i), HANDLES[i]) for i, text in enumerate(TEXTS)
    ]
    service.ingest(records)
    manager.set_consent(GUILD, 10, searchable=True, by=10)
    manager.set_search_mode(GUILD, "opt_out", by=1)
    for text in TEXTS:
        service.search(text, SearchScope(guild_id=GUILD, asker_id=12))
    service.similar_to_post(GUILD, "p0", SearchScope(guild_id=GUILD, asker_id=12))
    manager.summary(GUILD, 10)
    assert manager.export(GUILD, 10)["tables"]["member"][0]["handle"] == HANDLES[0]
    manager.delete_message(GUILD, "p1", by=11)
    manager.delete_member(GUILD, 10)
    service.ingest(records)  # gated re-ingest
    manager.set_retention(GUILD, 30)
    service.reindex(GUILD)
    assert any(r.name.startswith("knowledge") for r in caplog.records)  # logging did happen
    lines = [r.getMessage() for r in caplog.records] + [caplog.text]
    words = {w for text in TEXTS for w in text.replace(",", " ").split() if len(w) > 4}
    for line in lines:
        for secret in [*TEXTS, *HANDLES, *words]:
            assert secret not in line, f"log leaked {secret!r}: {line[:80]}"
    assert logging.getLogger("sqlalchemy.engine").getEffectiveLevel() >= logging.WARNING


def test_migration_0004_matches_the_models(service: KnowledgeService) -> None:
    assert (current_revision(service.store.engine) or "") >= "0004"
    with service.store.engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    mine = [d for d in diffs if any(t in repr(d) for t in PRIVACY_TABLES)]
    assert mine == []
