"""Configuration: the example file is valid and documents every setting; bad files fail clearly."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from knowledge.config import KindredSettings, load_settings, parse_settings
from knowledge.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def settings_model() -> type[KindredSettings]:
    try:
        from bot.config import BotSettings
    except ImportError:
        return KindredSettings
    return BotSettings


def field_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths |= field_paths(annotation, f"{prefix}{name}.")
        else:
            paths.add(f"{prefix}{name}")
    return paths


def test_example_parses_and_equals_defaults() -> None:
    model = settings_model()
    parsed = parse_settings(tomllib.loads(EXAMPLE.read_text()), model)
    assert parsed == model()


def test_example_documents_every_setting() -> None:
    text = EXAMPLE.read_text()
    for path in field_paths(settings_model()):
        table, _, key = path.rpartition(".")
        if table:
            assert f"[{table}]" in text, f"table [{table}] missing from config.example.toml"
        assert f"{key} =" in text or f"# {key} =" in text, f"{path} is not documented"


def test_bad_value_names_the_setting(tmp_path: Path) -> None:
    bad = tmp_path / "kindred.toml"
    bad.write_text("[search]\npage_size = 0\n")
    with pytest.raises(ConfigError, match=r"search\.page_size"):
        load_settings(bad)


def test_unknown_setting_and_broken_toml_fail(tmp_path: Path) -> None:
    unknown = tmp_path / "a.toml"
    unknown.write_text("[search]\npage_sise = 3\n")
    with pytest.raises(ConfigError, match="page_sise"):
        load_settings(unknown)
    broken = tmp_path / "b.toml"
    broken.write_text("[search\n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(broken)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")


def test_the_command_line_reads_the_bots_file(tmp_path: Path) -> None:
    """One file for both: the knowledge settings leave the bot's [discord] table alone, and an
    unknown table still fails."""
    settings = load_settings(EXAMPLE)
    assert settings == KindredSettings()
    stray = tmp_path / "c.toml"
    stray.write_text("[discrod]\nsync_commands = true\n")
    with pytest.raises(ConfigError, match="discrod"):
        load_settings(stray)
