"""A private PostgreSQL server for the test session: `initdb` and `pg_ctl` in a temp folder,
listening on 127.0.0.1 on a free port, stopped at the end. No mocks of the database.

Debian's `postgresql` package provides the binaries (`./scripts/test` installs it where it is
missing); without them the PostgreSQL half of the backend-parametrised tests is skipped with a
message. As root, the server runs as `nobody` (initdb refuses root).
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

PG_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "kindred"


def find_pg_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian layout), or the one on PATH."""
    if PG_ROOT.is_dir():
        versions = sorted(
            (p for p in PG_ROOT.iterdir() if (p / "bin" / "initdb").exists()),
            key=lambda p: int(p.name) if p.name.isdigit() else 0,
        )
        if versions:
            return versions[-1] / "bin"
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def missing_reason() -> str | None:
    """Why no server can be started here, or None."""
    if find_pg_bin() is None:
        return "PostgreSQL is not installed (Debian: apt-get install postgresql)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'psycopg[binary]')"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A running private cluster; `new_database()` gives each test its own empty database."""

    folder: Path
    port: int
    pg_bin: Path
    _names: Iterator[int] = field(default_factory=itertools.count)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database and return its URL."""
        name = f"kindred_test_{os.getpid()}_{next(self._names)}"
        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        finally:
            engine.dispose()
        return self.url(name)


def _run_as_server_user(args: list[str]) -> None:
    command = ["runuser", "-u", "nobody", "--", *args] if os.geteuid() == 0 else args
    subprocess.run(command, check=True, capture_output=True, timeout=120)


@contextmanager
def running_server() -> Iterator[PostgresServer]:
    """Start a cluster for the duration of the block (initdb ~1 s, start ~0.2 s)."""
    pg_bin = find_pg_bin()
    if pg_bin is None:
        raise RuntimeError(missing_reason() or "PostgreSQL is not installed")
    folder = Path(tempfile.mkdtemp(prefix="kindred-pg-"))
    folder.chmod(0o777)  # the server user (nobody) writes here
    data, port = folder / "data", _free_port()
    _run_as_server_user(
        [
            str(pg_bin / "initdb"),
            "-D",
            str(data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ]
    )
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {folder} -c fsync=off"
    options += " -c full_page_writes=off -c synchronous_commit=off -c max_connections=200"
    pg_ctl = str(pg_bin / "pg_ctl")
    _run_as_server_user(
        [pg_ctl, "-D", str(data), "-l", str(folder / "pg.log"), "-w", "-o", options, "start"]
    )
    try:
        yield PostgresServer(folder, port, pg_bin)
    finally:
        _run_as_server_user([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(folder, ignore_errors=True)
