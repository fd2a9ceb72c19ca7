"""Command-line test helpers: run `kindred` in-process, with a fake embedder when asked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from kindred.cli import common
from kindred.cli.app import app
from knowledge.config import KindredSettings
from knowledge.embeddings import HashingEmbedder
from knowledge.service import KnowledgeService
from tests.conftest import PHRASES_ONLY

FIXTURES = Path(__file__).parent / "fixtures"


def fake_service(settings: KindredSettings) -> KnowledgeService:
    """The service with the fast fake embedder and the phrase-only crisis layer."""
    return KnowledgeService(settings, embedder=HashingEmbedder(), safety=PHRASES_ONLY)


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every command builds its service with the fake embedder (no model load)."""
    monkeypatch.setattr(common, "service_factory", fake_service)
    yield


def kindred(*args: str | Path, input: str | None = None) -> Result:
    """Run `kindred ARGS...` in-process; `.output` has stdout and stderr, `.stdout` stdout."""
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def write_jsonl(path: Path, rows: list[dict[str, Any]], extra: list[str] | None = None) -> Path:
    body = [json.dumps(row) for row in rows] + (extra or [])
    path.write_text("\n".join(body) + "\n", encoding="utf-8")
    return path


def stats_of(data: Path, guild: int) -> dict[str, Any]:
    result = kindred("stats", "--guild", str(guild), "--json", "--data-dir", data)
    assert result.exit_code == 0, result.output
    value: dict[str, Any] = json.loads(result.stdout)
    return value


def files_containing(folder: Path, needle: str) -> list[str]:
    return [
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and needle.encode() in p.read_bytes()
    ]
