"""Health checks for `kindred doctor`: plain functions that look, change nothing, say what to fix.

Each check returns `Check`s (ok, warn, fail or skip, a one-line detail, and the fix). They never
create a database, a folder or an index: a SQLite file is opened read-only (`mode=ro`), PostgreSQL
is only queried. Index checks compare each guild's saved faiss files (their metadata stamp and the
SHA-256 of the vectors) with what SQL holds; the store rebuilds stale indexes by itself, so a stale
index is a warning. Reading the bot's health file (`read_health`) needs no database at all.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from knowledge.config import CONFIG_ENV, KindredSettings, load_settings
from knowledge.embeddings import Embedder
from knowledge.errors import KindredError, StoreDamaged
from knowledge.store.db import (
    alembic_config,
    check_database,
    current_revision,
    describe,
    make_engine,
    sqlite_file,
    writable,
)
from knowledge.store.models import Guild, Post, PostVector, VectorIndexState

Status = Literal["ok", "warn", "fail", "skip"]
SettingsT = TypeVar("SettingsT", bound=KindredSettings)
DATABASE_FILE = "kindred.db"
NO_DATABASE_FIX = "no database yet: run kindred ingest or kindred run (either creates it)"
HASH_CHUNK = 1 << 20
STALE_AFTER_INTERVALS = 3.0
COLLAPSE_OVER = 10


@dataclass(frozen=True)
class Check:
    """One finding: what was checked, how it stands, in a line, and what to do about it."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _one_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(getattr(exc, "detail", None) or exc).split())
    return text[:limit] or type(exc).__name__


# -- configuration --------------------------------------------------------------------------------


def config_source(path: Path | None) -> Path | None:
    """The file `load_settings` reads (an explicit path, $KINDRED_CONFIG, ./kindred.toml), or None
    when it would use the defaults."""
    explicit = path or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    candidate = explicit or Path("kindred.toml")
    return candidate if explicit is not None or candidate.exists() else None


def check_config(
    path: Path | None, model: type[SettingsT], data_dir: Path | None = None
) -> tuple[Check, SettingsT | None]:
    """Load and validate the settings (as `model`, e.g. the bot's, with its `[discord]` table)."""
    source = config_source(path)
    try:
        settings = load_settings(path, model=model).with_data_dir(data_dir)
    except KindredError as exc:
        return Check(
            "config", "fail", exc.detail, "fix that setting (see config.example.toml)"
        ), None
    where = f"read {source}" if source is not None else "no kindred.toml: using the defaults"
    return Check("config", "ok", f"{where}; data folder {settings.storage.data_dir}"), settings


# -- database -------------------------------------------------------------------------------------


def database_label(settings: KindredSettings) -> str:
    url = settings.storage.database_url
    if not url:
        return str(settings.storage.data_dir / DATABASE_FILE)
    return sa.engine.make_url(url).render_as_string(hide_password=True)


@contextmanager
def reading_engine(settings: KindredSettings) -> Iterator[tuple[Check, Engine | None]]:
    """Open the configured database read-only (never creating it) and check it can be read."""
    url = settings.storage.database_url
    where = database_label(settings)
    if not url or sqlite_file(url) is not None:
        path = sqlite_file(url) if url else settings.storage.data_dir / DATABASE_FILE
        assert path is not None
        if not path.is_file():
            why = "the folder does not exist" if not path.parent.exists() else "no kindred.db in it"
            yield Check("database", "warn", f"{path.parent}/: {why}", NO_DATABASE_FIX), None
            return
        if path.stat().st_size == 0:
            damaged = f"the database {path} is empty (0 bytes)"
            yield Check("database", "fail", damaged, "restore kindred.db from a backup"), None
            return
        url = f"sqlite:///{path}"
    try:
        engine = make_engine(url, read_only=sqlite_file(url) is not None, pool=(1, 0))
    except Exception as exc:  # a missing driver, a malformed URL
        fix = "check [storage] database_url (PostgreSQL needs: pip install 'kindred[postgresql]')"
        yield Check("database", "fail", f"cannot open {where}: {_one_line(exc)}", fix), None
        return
    try:
        yield _reach(engine, settings), engine
    finally:
        engine.dispose()


def _reach(engine: Engine, settings: KindredSettings) -> Check:
    where = describe(engine)
    is_sqlite = engine.url.get_backend_name() == "sqlite"
    try:
        if not is_sqlite:  # a server: reachable at all? (a SQLite file's faults are damage)
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
    except Exception as exc:
        fix = "check [storage] database_url, that the server runs and accepts this host and user"
        reason = _one_line(getattr(exc, "orig", None) or exc)
        return Check("database", "fail", f"cannot reach {where}: {reason}", fix)
    try:
        check_database(engine)
    except StoreDamaged as exc:
        return Check("database", "fail", exc.detail, "restore the database from a backup")
    path = sqlite_file(engine.url) or settings.storage.data_dir / DATABASE_FILE
    if is_sqlite and not (writable(path) and writable(path.parent)):
        return Check(
            "database",
            "warn",
            f"{where} is read-only to this user: searches work, nothing can be saved",
            f"make {path.parent} and {path.name} writable by the user running Kindred",
        )
    return Check("database", "ok", f"{where} is reachable")


def check_schema(engine: Engine) -> Check:
    """Schema at the newest migration, behind (the next start upgrades it) or too new."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(engine))
    head = script.get_current_head()
    current = current_revision(engine)
    if current == head:
        return Check("migrations", "ok", f"schema at the newest migration ({head})")
    if current is None:
        return Check("migrations", "warn", "the database holds no tables yet", NO_DATABASE_FIX)
    try:
        known = script.get_revision(current) is not None
    except Exception:
        known = False
    if not known:
        return Check(
            "migrations",
            "fail",
            f"schema {current} is from a newer Kindred (this one knows up to {head})",
            "upgrade Kindred, or restore a backup made by this version",
        )
    return Check(
        "migrations",
        "warn",
        f"schema {current} is behind this Kindred ({head})",
        "back up the database; the next kindred run or kindred ingest upgrades it",
    )


# -- indexes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GuildFigures:
    """What SQL holds for one guild and the configured model."""

    posts: int
    vectors: int
    other_model: int
    max_post_id: int
    state: VectorIndexState | None


def guild_figures(session: Session, guild_id: int, model: str) -> GuildFigures:
    in_guild = Post.guild_id == guild_id
    joined = select(func.count()).select_from(PostVector).join(Post).where(in_guild)
    posts = int(session.exec(select(func.count()).select_from(Post).where(in_guild)).one())
    vectors = int(session.exec(joined.where(PostVector.model == model)).one())
    others = int(session.exec(joined.where(PostVector.model != model)).one())
    newest = select(func.max(PostVector.post_id)).join(Post).where(in_guild)
    top = session.exec(newest.where(PostVector.model == model)).one()
    state = session.get(VectorIndexState, guild_id)
    return GuildFigures(posts, vectors, others, int(top or 0), state)


def read_index_meta(path: Path) -> dict[str, Any] | None:
    """The metadata stamp of a saved index's sidecar (`<path>.json`), or None if unreadable.

    The stamp is written first (`{"meta": {...}, "keys": ...}`), so only the file's head is read;
    any other layout falls back to reading the whole file."""
    sidecar = path.with_suffix(".json")
    try:
        with sidecar.open("r", encoding="utf-8") as handle:
            head = handle.read(1 << 16)
        prefix = '{"meta": '
        if head.startswith(prefix):
            meta, _ = json.JSONDecoder().raw_decode(head, len(prefix))
        else:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))["meta"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return meta if isinstance(meta, dict) else None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


REBUILT = "nothing to do: it is caught up from SQL when the bot or a command next loads it"


def check_guild_index(
    index_dir: Path, guild_id: int, figures: GuildFigures, model: str, dimension: int
) -> Check:
    """One guild's saved index against SQL: present, this model's, whole, and as fresh as SQL."""
    name = f"index {guild_id}"
    if figures.other_model:
        return Check(
            name,
            "warn",
            f"{figures.other_model} vectors were made by another model than {model}",
            f"run kindred reindex --guild {guild_id} (or the next start embeds them again)",
        )
    missing = figures.posts - figures.vectors
    if not figures.vectors and not missing:
        return Check(name, "ok", "nothing indexed yet")
    if missing > 0:
        return Check(
            name,
            "warn",
            f"{missing} of {figures.posts} posts have no vector yet",
            "the next kindred run embeds them (or run kindred reindex now)",
        )
    path = index_dir / f"guild-{guild_id}"
    meta = read_index_meta(path)
    if meta is None or not path.with_suffix(".faiss").is_file():
        return Check(name, "warn", f"no saved index for {figures.vectors} vectors", REBUILT)
    if meta.get("model") != model or meta.get("dimension") != dimension:
        built = f"{meta.get('model')}/{meta.get('dimension')}"
        return Check(
            name, "warn", f"saved index built by {built}, not {model}/{dimension}", REBUILT
        )
    stamp = meta.get("vectors_sha256")
    if stamp and sha256_file(path.with_suffix(".faiss")) != stamp:
        return Check(name, "warn", "saved index does not match its checksum (damaged)", REBUILT)
    saved, top = int(meta.get("vectors", -1)), int(meta.get("max_post_id", -1))
    when = ""
    if figures.state is not None:
        when = f", saved {figures.state.saved_at:%Y-%m-%d %H:%M} UTC"
    if saved != figures.vectors or top != figures.max_post_id:
        return Check(
            name,
            "warn",
            f"saved index holds {saved} vectors, SQL {figures.vectors}{when} "
            "(normal while the bot runs: it saves every few minutes)",
            REBUILT,
        )
    return Check(name, "ok", f"{saved} vectors, matches SQL{when}")


def check_indexes(
    engine: Engine, index_dir: Path, model: str, dimension: int, *, shared: bool = False
) -> list[Check]:
    """Every guild's index freshness (a database at the newest migration only). Beyond
    `COLLAPSE_OVER` guilds the good ones are summed up in one line. `shared`: a database other
    processes use too (PostgreSQL), where a shard process on another machine may own a guild."""
    with Session(engine) as session:
        guild_ids = [int(g) for g in session.exec(select(Guild.id).order_by(col(Guild.id))).all()]
        figures = {g: guild_figures(session, g, model) for g in guild_ids}
    if not guild_ids:
        return [Check("indexes", "ok", "no guilds yet")]
    checks = [check_guild_index(index_dir, g, figures[g], model, dimension) for g in guild_ids]
    if shared:
        checks = [_maybe_elsewhere(c) for c in checks]
    if len(checks) <= COLLAPSE_OVER:
        return checks
    good = [c for c in checks if c.status == "ok"]
    summary = Check("indexes", "ok", f"{len(good)} of {len(checks)} guilds' indexes are fine")
    return [summary, *(c for c in checks if c.status != "ok")]


def _maybe_elsewhere(check: Check) -> Check:
    if not check.detail.startswith("no saved index"):
        return check
    detail = f"{check.detail} here (normal if a shard process elsewhere owns this guild)"
    return Check(check.name, check.status, detail, check.fix)


def stored_dimension(engine: Engine, model: str) -> int | None:
    """The dimension of the vectors SQL holds for `model` (None: none stored yet)."""
    with Session(engine) as session:
        state = session.exec(
            select(VectorIndexState).where(VectorIndexState.model == model).limit(1)
        ).first()
        if state is not None:
            return int(state.dimension)
        row = session.exec(select(PostVector.vector).where(PostVector.model == model)).first()
    return len(row) // np.dtype(np.float32).itemsize if row is not None else None


# -- model ----------------------------------------------------------------------------------------


def check_model(
    make_embedder: Callable[[], Embedder], *, load: bool, expected: int | None
) -> Check:
    """The model folder exists; with `load`, the model loads and makes vectors of the dimension
    the store's vectors have (`expected`). Never downloads anything."""
    try:
        embedder = make_embedder()
        folder = getattr(embedder, "model_path", None)
    except Exception as exc:  # the packaged model is not installed
        return Check("model", "fail", _one_line(exc), "reinstall Kindred (pip install kindred)")
    if folder is not None and not Path(folder).is_dir():
        fix = "fix [embedding] model_path, or remove it to use the packaged model"
        return Check("model", "fail", f"model folder {folder} does not exist", fix)
    where = f" from {folder}" if folder else ""
    if not load:
        return Check("model", "skip", f"not loaded (--skip-model){where}")
    try:
        vectors = embedder.encode(["kindred doctor"])
        made = int(vectors.shape[1])
        finite = bool(np.isfinite(vectors).all())
    except Exception as exc:
        fix = "check [embedding] model_path holds a sentence-transformers model"
        return Check("model", "fail", f"{embedder.name} did not load: {_one_line(exc)}", fix)
    if not finite:
        return Check("model", "fail", f"{embedder.name} made non-finite vectors", "reinstall it")
    if expected is not None and made != expected:
        return Check(
            "model",
            "fail",
            f"{embedder.name} makes {made}-dimensional vectors, the store holds {expected}",
            "point [embedding] model_path at the model that built the store, or run "
            "kindred reindex to rebuild every vector with this one",
        )
    return Check("model", "ok", f"{embedder.name} loaded{where}, {made} dimensions")


# -- the bot's health file ------------------------------------------------------------------------


def read_health(path: Path, now: datetime | None = None, max_age: float | None = None) -> Check:
    """The running bot's health file: `ok` only when it was rewritten within `max_age` seconds
    (default: three of the bot's intervals) and the bot is connected; `skip` when the bot is not
    running (no file, or stopped cleanly), `warn` while it starts, `fail` when it went silent."""
    name = "bot process"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        updated = datetime.fromisoformat(str(data["updated_at"]))
        interval = float(data.get("interval_seconds") or 0) or 10.0
    except FileNotFoundError:
        return Check(name, "skip", f"no health file at {path} (the bot is not running here)")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return Check(name, "warn", f"health file {path} is unreadable: {_one_line(exc)}")
    age = ((now or datetime.now(UTC)) - updated).total_seconds()
    status = str(data.get("status"))
    pid = data.get("pid")
    if status == "stopped":
        return Check(name, "skip", f"not running: pid {pid} stopped cleanly {age:.0f} s ago")
    if status == "failed":
        detail = f"not running: pid {pid} stopped after an error {age:.0f} s ago"
        return Check(name, "warn", detail, "its log (or kindred run's last line) says why")
    if age > (max_age or STALE_AFTER_INTERVALS * interval):
        return Check(
            name,
            "fail",
            f"health file not updated for {age:.0f} s (pid {pid}, status {status})",
            "the bot is hung or was killed: check its log, then restart it",
        )
    if not data.get("ready"):
        return Check(name, "warn", f"pid {pid} is {status}, not connected to Discord yet")
    guilds, queued = data.get("guilds"), data.get("backfill_queue")
    return Check(name, "ok", f"pid {pid} {status}: {guilds} guilds, {queued} backfills queued")
