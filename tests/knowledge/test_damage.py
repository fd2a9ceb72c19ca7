"""A store that refuses damage loudly: damaged databases are refused untouched (one line, nothing
dropped), read-only folders are read, index files are checked byte for byte and rebuilt from SQL,
and no error or log line carries a member's words."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import traceback
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from knowledge.config import KindredSettings
from knowledge.embeddings import HashingEmbedder
from knowledge.errors import IndexMismatch, StoreDamaged, StoreUnwritable
from knowledge.scope import SearchScope
from knowledge.service import KnowledgeService
from knowledge.store import vector_index as vi
from knowledge.store.db import BUILDING_SUFFIX, current_revision, open_database, sqlite_url
from knowledge.store.vector_index import VectorIndex
from tests.conftest import GUILD, PHRASES_ONLY, enable_open, make_settings, post

TEXTS = [
    "my insulin pump alarm went off twice at night",
    "gabapentin made the nerve pain bearable again",
    "fatigue after chemo is worse in the afternoons",
    "the new inhaler helps with my morning cough",
    "physio exercises for my knee are slowly working",
]
SECRET = "tramadol withdrawal kept me awake all week"


def open_service(settings: KindredSettings) -> KnowledgeService:
    return KnowledgeService(settings, embedder=HashingEmbedder(), safety=PHRASES_ONLY)


def ids_of(service: KnowledgeService, query: str) -> list[str]:
    hits = service.search(query, SearchScope(guild_id=GUILD, asker_id=99), limit=10)
    return [hit.external_id for hit in hits]


def snapshot(folder: Path) -> dict[str, str]:
    """Name -> SHA-256 of every file below `folder` (to prove nothing changed)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def built(tmp_path: Path) -> Iterator[KindredSettings]:
    """A closed store holding five posts with their saved index files."""
    settings = make_settings(tmp_path / "data")
    service = open_service(settings)
    enable_open(service, GUILD, 1)
    service.ingest([post(f"p{i}", text) for i, text in enumerate(TEXTS)])
    service.close()
    yield settings
    for folder in (settings.storage.data_dir, settings.storage.data_dir / "indexes"):
        if folder.exists():
            folder.chmod(0o700)  # let tmp_path clean up after the read-only tests


def refused(settings: KindredSettings) -> StoreDamaged:
    with pytest.raises(StoreDamaged) as caught:
        open_service(settings)
    message = str(caught.value)
    assert "\n" not in message and "backup" in message and "kindred reindex" in message
    return caught.value


# -- the database ------------------------------------------------------------------------------


def test_empty_database_file_is_refused_and_not_reinitialised(built: KindredSettings) -> None:
    data = built.storage.data_dir
    db = data / "kindred.db"
    db.write_bytes(b"")
    before = snapshot(data)
    error = refused(built)
    assert "0 bytes" in str(error) and str(db) in str(error)
    assert db.stat().st_size == 0  # still empty: not taken for a new store
    assert snapshot(data) == before  # and the index files were not dropped either


def test_truncated_database_is_refused_untouched(built: KindredSettings) -> None:
    data = built.storage.data_dir
    db = data / "kindred.db"
    os.truncate(db, db.stat().st_size // 2)
    before = snapshot(data)
    assert "damaged" in str(refused(built))
    assert snapshot(data) == before


def test_corrupted_pages_fail_the_quick_check(built: KindredSettings) -> None:
    db = built.storage.data_dir / "kindred.db"
    size = db.stat().st_size
    with db.open("r+b") as handle:  # garble a page in the middle, keep the header whole
        handle.seek((size // 4096 // 2) * 4096)
        handle.write(b"\xff" * 4096)
    before = snapshot(built.storage.data_dir)
    message = str(refused(built))
    assert "quick check" in message or "damaged" in message
    assert snapshot(built.storage.data_dir) == before


def test_a_file_that_is_not_a_database_is_refused(built: KindredSettings) -> None:
    db = built.storage.data_dir / "kindred.db"
    db.write_bytes(b"not sqlite at all " * 500)
    assert "damaged" in str(refused(built))
    assert db.read_bytes() == b"not sqlite at all " * 500


def test_tables_without_the_migration_record_are_refused(built: KindredSettings) -> None:
    db = built.storage.data_dir / "kindred.db"
    engine = sa.create_engine(sqlite_url(db))
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE alembic_version")
    engine.dispose()
    before = snapshot(built.storage.data_dir)
    assert "no migration record" in str(refused(built))
    assert snapshot(built.storage.data_dir) == before


def test_a_new_store_is_built_aside_and_a_crashed_build_is_discarded(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    leftover = data / f"kindred.db{BUILDING_SUFFIX}-999999999"  # a build killed before migrating
    leftover.write_bytes(b"")
    service = open_service(make_settings(data))
    service.close()
    db = data / "kindred.db"
    assert not leftover.exists()
    assert db.stat().st_size > 0 and stat.S_IMODE(db.stat().st_mode) == 0o600
    assert not list(data.glob(f"*{BUILDING_SUFFIX}*"))
    engine = open_database(sqlite_url(db))  # and it opens again as a sound store
    assert current_revision(engine) is not None
    engine.dispose()


def test_a_valid_database_without_tables_is_migrated(tmp_path: Path) -> None:
    db = tmp_path / "kindred.db"
    engine = sa.create_engine(sqlite_url(db))
    with engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA user_version=0")  # writes the header, no tables
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")
    engine.dispose()
    assert db.stat().st_size > 0
    engine = open_database(sqlite_url(db))
    assert current_revision(engine) is not None
    engine.dispose()


# -- read-only and unusable folders --------------------------------------------------------------


def test_read_only_folder_serves_reads_and_refuses_writes_in_one_line(
    built: KindredSettings,
) -> None:
    data = built.storage.data_dir
    data.chmod(0o500)
    (data / "indexes").chmod(0o500)
    before = snapshot(data)
    service = open_service(built)
    try:
        assert service.store.read_only
        assert service.stats(GUILD).posts == len(TEXTS)
        assert ids_of(service, "insulin pump alarm")[0] == "p0"
        with pytest.raises(StoreUnwritable) as caught:
            service.ingest([post("new", SECRET)])
    finally:
        service.close()
    message = str(caught.value)
    assert str(data) in message and "read-only" in message and "\n" not in message
    assert SECRET not in message
    assert stat.S_IMODE(data.stat().st_mode) == 0o500  # never chmodded back to writable
    assert snapshot(data) == before  # nothing written, no WAL files created


def test_read_only_database_file_in_a_writable_folder(built: KindredSettings) -> None:
    db = built.storage.data_dir / "kindred.db"
    db.chmod(0o400)
    try:
        service = open_service(built)
        try:
            assert service.store.read_only
            assert service.stats(GUILD).posts == len(TEXTS)
            with pytest.raises(StoreUnwritable):
                service.ingest([post("new", SECRET)])
        finally:
            service.close()
    finally:
        db.chmod(0o600)


def test_read_only_folder_without_a_database_names_the_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o500)
    try:
        with pytest.raises(StoreUnwritable) as caught:
            open_service(make_settings(data))
        assert str(data) in str(caught.value) and "\n" not in str(caught.value)
        assert list(data.iterdir()) == []
    finally:
        data.chmod(0o700)


def test_a_data_folder_that_cannot_be_created_names_it(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(StoreUnwritable) as caught:
        open_service(make_settings(blocker / "data"))
    assert str(blocker / "data") in str(caught.value)


# -- index files ---------------------------------------------------------------------------------


def rebuilt_from_sql(settings: KindredSettings, caplog: pytest.LogCaptureFixture) -> None:
    """Open the store: the saved index is rejected (logged), rebuilt from SQL, searches work."""
    caplog.set_level(logging.INFO, logger="knowledge")
    service = open_service(settings)
    try:
        index = service.store.vector_index(GUILD)
        with service.store.session() as session:
            sql_ids = {int(i) for i in session.execute(sa.text("SELECT id FROM post")).scalars()}
        assert set(index.keys()) == sql_ids and len(sql_ids) == len(TEXTS)
        assert ids_of(service, "insulin pump alarm")[0] == "p0"
        assert ids_of(service, "nerve pain gabapentin")[0] == "p1"
    finally:
        service.close()
    assert any("saved index rejected" in r.getMessage() for r in caplog.records)
    path = settings.storage.data_dir / "indexes" / f"guild-{GUILD}"
    reloaded = VectorIndex.load(path, 64, "hashing-fake")  # and saved sound again on close
    assert len(reloaded) == len(TEXTS)


def index_path(settings: KindredSettings) -> Path:
    return settings.storage.data_dir / "indexes" / f"guild-{GUILD}"


def restamp(path: Path, **meta: object) -> None:
    """Make the .json stamp agree with the .faiss file as it now is (a 'consistent' sidecar)."""
    payload = json.loads(path.with_suffix(".json").read_text())
    digest = hashlib.sha256(path.with_suffix(".faiss").read_bytes()).hexdigest()
    payload["meta"].update(vectors_sha256=digest, **meta)
    path.with_suffix(".json").write_text(json.dumps(payload))


def test_vectors_corrupted_mid_file_are_rejected_and_rebuilt(
    built: KindredSettings, caplog: pytest.LogCaptureFixture
) -> None:
    path = index_path(built)
    faiss_file = path.with_suffix(".faiss")
    raw = bytearray(faiss_file.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 64] = bytes(64)  # zero part of a vector: ids and sizes untouched
    faiss_file.write_bytes(bytes(raw))
    with pytest.raises(IndexMismatch, match="checksum"):
        VectorIndex.load(path, 64, "hashing-fake")
    rebuilt_from_sql(built, caplog)


def test_wrong_dimension_with_a_consistent_sidecar_is_rejected_and_rebuilt(
    built: KindredSettings, caplog: pytest.LogCaptureFixture
) -> None:
    path = index_path(built)
    good = VectorIndex.load(path, 64, "hashing-fake")
    narrow = VectorIndex(32, "hashing-fake")
    ids = np.fromiter(good.keys(), dtype=np.int64)
    narrow._index.add_with_ids(np.ones((len(ids), 32), dtype=np.float32), ids)
    vi.faiss.write_index(narrow._index, str(path.with_suffix(".faiss")))
    restamp(path)  # json still says 64-d, the checksum now matches the 32-d file
    with pytest.raises(IndexMismatch, match="32-d"):
        VectorIndex.load(path, 64, "hashing-fake")
    rebuilt_from_sql(built, caplog)


def test_nan_vectors_with_a_consistent_stamp_are_rejected_and_rebuilt(
    built: KindredSettings, caplog: pytest.LogCaptureFixture
) -> None:
    path = index_path(built)
    index = VectorIndex.load(path, 64, "hashing-fake")
    for _ids, vectors in vi._stored_blocks(index._index):
        vectors[0, :] = np.nan  # bypass add(), as a damaged or foreign writer would
    index.save(path)  # stamped consistently over the NaN bytes
    with pytest.raises(IndexMismatch, match="not finite"):
        VectorIndex.load(path, 64, "hashing-fake")
    rebuilt_from_sql(built, caplog)


def test_an_index_of_the_previous_format_is_rebuilt(
    built: KindredSettings, caplog: pytest.LogCaptureFixture
) -> None:
    path = index_path(built)
    payload = json.loads(path.with_suffix(".json").read_text())
    del payload["meta"]["vectors_sha256"]
    payload["meta"]["format"] = 1
    path.with_suffix(".json").write_text(json.dumps(payload))
    rebuilt_from_sql(built, caplog)


def test_non_finite_vectors_are_never_added_as_such() -> None:
    index = VectorIndex(4, "m")
    vectors = np.array([[np.nan, 0, 0, 0], [0, 1, 0, 0]], dtype=np.float32)
    index.add([1, 2], vectors, ["a" * 64, "b" * 64])
    ids, scores = index.search(np.array([1, 1, 1, 1], dtype=np.float32), 2)
    assert ids.tolist() == [2, 1] and np.isfinite(scores).all()
    assert np.isnan(vectors[0, 0])  # the caller's array is not modified


@pytest.mark.parametrize("ivf", [False, True])
def test_save_streams_to_a_private_file_and_round_trips(tmp_path: Path, ivf: bool) -> None:
    rng = np.random.default_rng(1)
    index = VectorIndex(16, "m", ivf_threshold=100 if ivf else 20_000)
    ids = list(range(1, 301))
    index.add(ids, rng.standard_normal((300, 16)).astype(np.float32), ["ab" * 32] * 300)
    assert index.kind == ("ivf" if ivf else "flat")
    path = tmp_path / "idx" / "guild-1"

    def no_copies(*_args: object) -> None:
        raise AssertionError("save must not serialise the index in memory")

    original = vi.faiss.serialize_index
    vi.faiss.serialize_index = no_copies
    try:
        index.save(path)
    finally:
        vi.faiss.serialize_index = original
    for suffix in (".faiss", ".json"):
        assert stat.S_IMODE(path.with_suffix(suffix).stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["guild-1.faiss", "guild-1.json"]
    loaded = VectorIndex.load(path, 16, "m")
    assert loaded.keys() == index.keys() and loaded.kind == index.kind
    query = rng.standard_normal(16).astype(np.float32)
    assert loaded.search(query, 5)[0].tolist() == index.search(query, 5)[0].tolist()


@pytest.mark.parametrize("how", ["read-only folder", "temporary file blocked"])
def test_saving_where_it_cannot_write_is_one_line(tmp_path: Path, how: str) -> None:
    folder = tmp_path / "idx"
    folder.mkdir()
    if how == "read-only folder":
        folder.chmod(0o500)  # refused by its mode bits even where the OS would allow it (root)
    else:
        (folder / "guild-1.faiss.tmp").mkdir()  # the temporary file cannot be created
    index = VectorIndex(4, "m")
    index.add([1], np.ones((1, 4), dtype=np.float32), ["a" * 64])
    try:
        with pytest.raises(StoreUnwritable) as caught:
            index.save(folder / "guild-1")
        assert not (folder / "guild-1.faiss").exists()
    finally:
        folder.chmod(0o700)
    assert str(folder) in str(caught.value) and "\n" not in str(caught.value)
    assert index.dirty


# -- no member words in errors -------------------------------------------------------------------


def test_database_errors_during_ingest_carry_no_member_words(
    service: KnowledgeService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("knowledge", "sqlalchemy", "sqlalchemy.engine"):
        caplog.set_level(logging.DEBUG, logger=name)
    assert service.store.engine.hide_parameters
    enable_open(service, GUILD, 1)
    with service.store.engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TRIGGER refuse_posts BEFORE INSERT ON post BEGIN "
            "SELECT RAISE(ABORT, 'refused by a test trigger'); END"
        )
    with pytest.raises(sa.exc.DatabaseError) as caught:
        service.ingest([post("secret", SECRET)])
    error = caught.value
    assert "refused by a test trigger" in str(error)
    printed = "".join(traceback.format_exception(error))
    words = [SECRET, *(w for w in SECRET.split() if len(w) > 4)]
    for text in [str(error), repr(error), printed, caplog.text]:
        for word in words:
            assert word not in text, f"{word!r} leaked: {text[:200]}"


def test_a_full_disk_during_ingest_is_one_line_and_keeps_what_was_saved(
    built: KindredSettings,
) -> None:
    service = open_service(built)
    try:
        engine = service.store.engine
        with engine.connect() as connection:
            pages = int(connection.exec_driver_sql("PRAGMA page_count").scalar_one())

        def cap(dbapi_connection: object, _record: object) -> None:
            dbapi_connection.execute(f"PRAGMA max_page_count={pages + 2}")  # type: ignore[attr-defined]

        sa.event.listen(engine, "connect", cap)
        engine.dispose()  # new connections get the cap: the "disk" holds two more pages
        many = [post(f"big{i}", f"{SECRET} {i} " + "words " * 200) for i in range(200)]
        with pytest.raises(StoreUnwritable) as caught:
            service.ingest(many)
        message = str(caught.value)
        assert "full" in message and "\n" not in message and SECRET not in message
        sa.event.remove(engine, "connect", cap)
        engine.dispose()
        assert service.stats(GUILD).posts == len(TEXTS)  # what was saved is intact
    finally:
        service.close()


def test_the_migration_fallback_engine_hides_parameters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10: `hide_parameters` on every engine, also the one alembic makes from a URL."""
    from alembic import command

    from knowledge.store.db import alembic_config

    cfg = alembic_config(sa.create_engine(sqlite_url(tmp_path / "kindred.db")))
    made: list[sa.Engine] = []
    real = sa.create_engine

    def spy(*args: object, **kwargs: object) -> sa.Engine:
        made.append(real(*args, **kwargs))  # type: ignore[arg-type]
        return made[-1]

    monkeypatch.setattr(sa, "create_engine", spy)
    command.upgrade(cfg, "head")  # no connection handed over: env.py builds its own engine
    assert made and all(engine.hide_parameters for engine in made)
    for engine in made:
        engine.dispose()
