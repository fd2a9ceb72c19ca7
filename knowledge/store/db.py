"""Engine, pragmas, migrations and open-time checks for the SQL store (SQLite by default).

Opening a store (`open_database`) never mistakes damage for a new store:

- a missing SQLite file is a new store. It is built under a temporary name beside the real one,
  migrated, checkpointed and fsynced, then linked into place, so `kindred.db` only ever exists as a
  migrated database. A crash while building leaves only the temporary file (schema, no member data),
  which the next open discards before building again; a crash can never leave a 0-byte `kindred.db`;
- an existing file that is empty (0 bytes), fails `PRAGMA quick_check`, is not a database, or holds
  tables without Alembic's migration record raises `StoreDamaged` and is left exactly as it was. A
  valid database with no tables at all holds nothing to lose and is migrated like a new one;
- a data folder (or database file) that cannot be written is opened read-only (`mode=ro`, and
  `immutable=1` when the WAL files are absent, since SQLite could not create them); writes then
  raise `StoreUnwritable` naming the folder, and reads work;
- every engine hides SQL parameters (members' words) from its errors and logs.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from knowledge.errors import StoreDamaged, StoreTooNew, StoreUnwritable

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
CHECKPOINT_ATTEMPTS = 20
BUILDING_SUFFIX = ".building"
SQLITE_READONLY, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_NOTADB = 8, 11, 13, 26
RESTORE_HINT = (
    "nothing was changed; stop Kindred and restore kindred.db from a backup "
    "(or salvage it with `sqlite3 kindred.db .recover`), then run `kindred reindex`"
)


def create_private_file(path: Path) -> None:
    """Create `path` (if missing) readable and writable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE_FILE_MODE)
    os.close(fd)
    os.chmod(path, PRIVATE_FILE_MODE)


def writable(path: Path) -> bool:
    """Whether Kindred may write `path`: the OS allows it and its owner-write bit is set.

    The bit is honoured even where the OS would allow the write (root): a folder or file an admin
    made read-only is meant to stay unchanged.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & stat.S_IWUSR) and os.access(path, os.W_OK)


def prepare_data_dir(data_dir: Path, *subdirs: Path) -> bool:
    """Create the data folder and its sub-folders (mode 0700); True when they must be read-only.

    An existing folder that cannot be written is left untouched (no mkdir, no chmod) and the store
    is opened read-only; a folder that cannot be created or used raises `StoreUnwritable`.
    """
    for folder in (data_dir, *subdirs):
        if folder.is_dir() and not writable(folder):
            return True
    folder = data_dir
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir.chmod(PRIVATE_DIR_MODE)
        for folder in subdirs:
            folder.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
            folder.chmod(PRIVATE_DIR_MODE)
    except OSError as exc:
        raise StoreUnwritable(
            f"cannot create or use the data folder {folder}: {exc.strerror or exc}"
        ) from exc
    return False


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def sqlite_file(url: str | sa.URL) -> Path | None:
    """The file behind a plain SQLite URL; None for other databases, memory and `file:` URIs."""
    parsed = sa.engine.make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return None if database.startswith("file:") else Path(database)


def is_read_only(engine: Engine) -> bool:
    """Whether `engine` was opened read-only (`make_engine`)."""
    return engine.url.query.get("mode") == "ro"


def describe(engine: Engine) -> str:
    """The database file (or the URL without its password), for messages."""
    database = engine.url.database or ""
    if engine.url.get_backend_name() == "sqlite" and database.startswith("file:"):
        return unquote(database.removeprefix("file:"))
    if engine.url.get_backend_name() == "sqlite" and database:
        return database
    return engine.url.render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _read_only_pragmas(dbapi_connection: Any, _record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def _read_only_url(path: Path) -> sa.URL:
    """`mode=ro`; with `immutable=1` when the folder cannot be written and the WAL files are absent
    (SQLite could not create them, so it reads the file as it stands)."""
    query = {"mode": "ro", "uri": "true"}
    wal, shm = (path.with_name(path.name + suffix) for suffix in ("-wal", "-shm"))
    if not writable(path.parent) and not (wal.exists() and shm.exists()):
        query["immutable"] = "1"
        if wal.exists() and wal.stat().st_size > 0:
            log.warning(
                "read-only store: changes still in the WAL are not visible until it is writable"
            )
    return sa.URL.create("sqlite", database=f"file:{quote(str(path))}", query=query)


def _error_translator(folder: str, database: str) -> Any:
    """Map SQLite's read-only, disk-full and corruption errors to one-line Kindred errors."""

    def translate(context: sa.engine.ExceptionContext) -> BaseException | None:
        original = context.original_exception
        code = getattr(original, "sqlite_errorcode", None)
        if not isinstance(code, int):
            return None
        primary = code & 0xFF
        if primary == SQLITE_READONLY:
            return StoreUnwritable(
                f"{folder} is read-only to Kindred (the folder or the file cannot be written); "
                "make it writable by the user running Kindred to save changes"
            )
        if primary == SQLITE_FULL:
            return StoreUnwritable(
                f"the disk holding {folder} is full; what was saved is safe: free some space and "
                "run the command again"
            )
        if code == SQLITE_CORRUPT or primary == SQLITE_NOTADB:
            return StoreDamaged(f"the database {database} is damaged ({original}); {RESTORE_HINT}")
        return None

    return translate


def make_engine(
    url: str | sa.URL, *, read_only: bool = False, pool: tuple[int, int] = (5, 5)
) -> Engine:
    """An engine that never shows SQL parameters (members' words) in errors or logs.

    A SQLite file is created with mode 0600, or opened read-only when `read_only` or when the file
    or its folder cannot be written; its read-only, disk-full and corruption errors become
    `StoreUnwritable` / `StoreDamaged` with one line naming the file.
    """
    parsed = sa.engine.make_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    path = sqlite_file(parsed)
    if path is not None:
        read_only = (
            read_only
            or (path.exists() and not writable(path))
            or (path.parent.is_dir() and not writable(path.parent))
        )
        if read_only:
            parsed = _read_only_url(path)
        else:
            create_private_file(path)
    options: dict[str, Any] = {"hide_parameters": True}
    if is_sqlite:
        options["connect_args"] = {"check_same_thread": False}
    else:  # a server: a pool of `pool` (size, overflow) connections, checked before use
        options.update(pool_size=pool[0], max_overflow=pool[1], pool_pre_ping=True)
    engine = sa.create_engine(parsed, **options)
    if is_sqlite:
        pragmas = _read_only_pragmas if is_read_only(engine) else _sqlite_pragmas
        sa.event.listen(engine, "connect", pragmas)
        folder = f"the data folder {path.parent}" if path is not None else describe(engine)
        translator = _error_translator(folder, describe(engine))
        sa.event.listen(engine, "handle_error", translator)
    return engine


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    url = engine.url.render_as_string(hide_password=False)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # configparser interpolation
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (safe on every start; writes nothing when current).

    A revision this code does not know raises `StoreTooNew`; an upgrade needed on a read-only store
    raises `StoreUnwritable`.
    """
    cfg = alembic_config(engine)
    script = ScriptDirectory.from_config(cfg)
    current = current_revision(engine)
    if current is not None and not _known_revision(script, current):
        raise StoreTooNew(
            f"the database {describe(engine)} was migrated by a newer Kindred (schema {current}); "
            "upgrade Kindred, or restore a backup made by this version"
        )
    if current == script.get_current_head():
        return
    if is_read_only(engine):
        raise StoreUnwritable(
            f"the database {describe(engine)} needs a schema upgrade but is read-only; "
            "make its folder writable and run the command again"
        )
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def _known_revision(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except Exception:  # CommandError or a RevisionError, depending on the alembic version
        return False


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return _revision_of(connection)


def _revision_of(connection: sa.Connection) -> str | None:
    try:
        row = connection.execute(sa.text("SELECT version_num FROM alembic_version")).first()
    except (sa.exc.OperationalError, sa.exc.ProgrammingError):  # SQLite / PostgreSQL: no table
        connection.rollback()
        return None
    return str(row[0]) if row else None


def check_database(engine: Engine) -> None:
    """Refuse (`StoreDamaged`) a database that fails SQLite's quick check, cannot be read, or holds
    tables without a migration record; reads only, so the file is left exactly as it was."""
    where = describe(engine)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                rows = connection.exec_driver_sql("PRAGMA quick_check(1)").all()
                verdict = " ".join(str(rows[0][0]).split()) if rows else "no answer"
                if verdict != "ok":
                    raise StoreDamaged(
                        f"the database {where} failed SQLite's quick check "
                        f"({verdict[:120]}); {RESTORE_HINT}"
                    )
            tables = sa.inspect(connection).get_table_names()
            if tables and _revision_of(connection) is None:
                raise StoreDamaged(
                    f"the database {where} holds tables ({len(tables)}) but no migration record: "
                    f"it is damaged or not a Kindred store; {RESTORE_HINT}"
                )
    except sa.exc.DatabaseError as exc:
        reason = " ".join(str(getattr(exc, "orig", exc)).split())[:120]
        raise StoreDamaged(
            f"the database {where} cannot be read ({reason}); {RESTORE_HINT}"
        ) from exc


def open_database(url: str, *, read_only: bool = False, pool: tuple[int, int] = (5, 5)) -> Engine:
    """Open the store's database: create it if missing, refuse damage, migrate (see the module)."""
    path = sqlite_file(url)
    if path is not None:
        if not path.exists():
            if read_only or (path.parent.is_dir() and not writable(path.parent)):
                raise StoreUnwritable(
                    f"the data folder {path.parent} is read-only and holds no database yet; "
                    "make it writable by the user running Kindred"
                )
            _build_new(path)
        elif path.is_file() and path.stat().st_size == 0:
            raise StoreDamaged(f"the database {path} is empty (0 bytes); {RESTORE_HINT}")
    engine = make_engine(url, read_only=read_only, pool=pool)
    try:
        check_database(engine)
        migrate(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _build_new(path: Path) -> None:
    """Create a migrated database at `path` without ever exposing a half-built file there.

    It is built as `<name>.building-<pid>` and hard-linked into place (which never replaces a
    database another process created meanwhile). Leftovers of a crashed build hold the schema only
    and are removed here once their process is gone.
    """
    _remove_stale_builds(path)
    building = path.with_name(f"{path.name}{BUILDING_SUFFIX}-{os.getpid()}")
    try:
        engine = make_engine(sqlite_url(building))
        try:
            migrate(engine)
            checkpoint(engine)
        finally:
            engine.dispose()
        _fsync(building)
        try:
            os.link(building, path)
        except FileExistsError:
            log.info("another process created the database first; opening that one")
        except OSError:  # a filesystem without hard links
            if not path.exists():
                os.replace(building, path)
        _fsync(path.parent)
    except OSError as exc:
        raise StoreUnwritable(
            f"cannot create the database in {path.parent}: {exc.strerror or exc}"
        ) from exc
    finally:
        _remove_sqlite_files(building)


def _remove_stale_builds(path: Path) -> None:
    for leftover in path.parent.glob(f"{path.name}{BUILDING_SUFFIX}-*"):
        pid = leftover.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            leftover.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_sqlite_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def checkpoint(engine: Engine) -> bool:
    """Fold the SQLite WAL back into the database file and truncate it; True if it truncated."""
    if engine.url.get_backend_name() != "sqlite":
        return False
    with engine.connect() as connection:
        row = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
    return row is not None and int(row[0]) == 0


def truncate_wal(engine: Engine, attempts: int = CHECKPOINT_ATTEMPTS) -> bool:
    """`checkpoint`, retried while a reader holds an old snapshot; True once the WAL is empty."""
    if engine.url.get_backend_name() != "sqlite":
        return False
    for attempt in range(attempts):
        if checkpoint(engine):
            return True
        time.sleep(0.05 * (attempt + 1))
    log.warning("WAL checkpoint stayed busy; deleted pages remain in the WAL until the next one")
    return False


def vacuum(engine: Engine) -> bool:
    """SQLite: rewrite the database file. PostgreSQL: a plain VACUUM, which removes the dead row
    versions deleted rows leave behind (it cannot run inside a transaction). True if it ran."""
    backend = engine.url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        return False
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM")
    return True
