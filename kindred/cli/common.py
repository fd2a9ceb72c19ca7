"""Pieces shared by every `kindred` command module: options, consoles, settings, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from knowledge.config import KindredSettings, load_settings
from knowledge.errors import KindredError
from knowledge.logs import configure_logging
from knowledge.service import KnowledgeService

out = Console()
err = Console(stderr=True)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Folder for the database and indexes.")
]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Path to kindred.toml.")]
EXPERIENCE_LABEL = "Members' experiences, shared in the community. Not medical advice."


def settings_for(config: Path | None, data_dir: Path | None) -> KindredSettings:
    try:
        return load_settings(config).with_data_dir(data_dir)
    except KindredError as exc:
        fail(str(exc))


def fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code=2)


def open_service(settings: KindredSettings) -> KnowledgeService:
    configure_logging(settings.log_level)
    service = KnowledgeService(settings)
    service.start()
    return service
