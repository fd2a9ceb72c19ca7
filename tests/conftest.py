"""Shared fixtures: settings on a temp folder, a fake-embedder service, the real model once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from knowledge.config import KindredSettings
from knowledge.embeddings import HashingEmbedder, SentenceTransformerEmbedder
from knowledge.records import ChannelRecord, PostRecord
from knowledge.safety.assessment import SafetyAssessor
from knowledge.service import KnowledgeService
from knowledge.store.models import ChannelKind
from tests.postgres import PostgresServer, missing_reason, running_server

SHARED = Path(__file__).resolve().parents[2] / "shared"
GUILD = 100
OTHER_GUILD = 200
T0 = datetime(2024, 1, 1, tzinfo=UTC)
PHRASES_ONLY = SafetyAssessor(None)  # the transparent phrase layer alone: fast, no model


def make_settings(data_dir: Path, **search: object) -> KindredSettings:
    base = KindredSettings()
    settings = base.with_data_dir(data_dir)
    if search:
        settings = settings.model_copy(update={"search": settings.search.model_copy(update=search)})
    return settings


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One private PostgreSQL cluster for the session (skipped, with the reason, if absent)."""
    reason = missing_reason()
    if reason is not None:
        pytest.skip(f"PostgreSQL half skipped: {reason}")
    with running_server() as server:
        yield server


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The database under test: SQLite unless the module is marked `both_backends`."""
    return str(getattr(request, "param", "sqlite"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "both_backends"
    ):
        metafunc.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


def with_database(settings: KindredSettings, url: str) -> KindredSettings:
    storage = settings.storage.model_copy(update={"database_url": url})
    return settings.model_copy(update={"storage": storage})


@pytest.fixture
def settings(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> KindredSettings:
    base = make_settings(tmp_path / "data")
    if backend == "postgresql":
        server: PostgresServer = request.getfixturevalue("pg_server")
        return with_database(base, server.new_database())
    return base


@pytest.fixture
def service(settings: KindredSettings) -> Iterator[KnowledgeService]:
    svc = KnowledgeService(settings, embedder=HashingEmbedder(), safety=PHRASES_ONLY)
    yield svc
    svc.close()


@pytest.fixture(scope="session")
def real_embedder() -> SentenceTransformerEmbedder:
    """The packaged all-MiniLM-L6-v2, loaded once per test session."""
    return SentenceTransformerEmbedder()


def enable(service: KnowledgeService, guild: int, channel: int, name: str | None = None) -> None:
    service.register_guild(guild)
    service.enable_channel(
        guild, ChannelRecord(channel, guild, name or f"c{channel}", ChannelKind.TEXT), enabled_by=1
    )


def enable_open(
    service: KnowledgeService, guild: int, channel: int, name: str | None = None
) -> None:
    """Enable a channel in a guild whose members are searchable unless they opt out.

    Tests of retrieval use this; consent itself (opt-in by default) is tested in test_privacy_*.
    """
    enable(service, guild, channel, name)
    service.privacy.set_search_mode(guild, "opt_out", by=1)


def post(
    ext: str,
    text: object,
    *,
    guild: int = GUILD,
    channel: int = 1,
    author: int = 10,
    thread: int | None = None,
    minutes: int = 0,
) -> PostRecord:
    return PostRecord(
        guild_id=guild,
        external_id=ext,
        channel_id=channel,
        author_id=author,
        text=text,
        created_at=T0 + timedelta(minutes=minutes),
        thread_id=thread,
    )


def shared_or_skip(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared is only on developer and CI machines)")
    return path
