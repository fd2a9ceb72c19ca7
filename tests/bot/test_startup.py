"""Start-up: one clear line and a non-zero exit for a missing or rejected token, refused
privileged intents, or a bad config; `kindred` keeps the knowledge commands."""

from __future__ import annotations

from pathlib import Path

import discord
import pytest
from typer.testing import CliRunner

from bot.client import KindredBot, kindred_intents
from bot.config import BotSettings
from bot.runner import BAD_TOKEN, NO_INTENTS, StartupError, run_bot
from kindred.cli import app
from knowledge.embeddings import HashingEmbedder
from knowledge.service import KnowledgeService

from .conftest import Server, bot_settings
from .fake_discord import FakeDiscord, _Connection
from .payloads import Json


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_run_without_token_prints_one_line_and_fails(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["run", "--data-dir", str(tmp_path)], env={"DISCORD_TOKEN": ""}
    )
    assert result.exit_code != 0
    lines = _lines(result.output)
    assert len(lines) == 1 and "DISCORD_TOKEN" in lines[0]
    assert not (tmp_path / "kindred.db").exists()  # nothing was opened


def test_bad_config_prints_the_setting(tmp_path: Path) -> None:
    config = tmp_path / "kindred.toml"
    config.write_text('[discord]\ndev_guild_id = "not a number"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["run", "--config", str(config)], env={"DISCORD_TOKEN": "x"})
    assert result.exit_code != 0
    lines = _lines(result.output)
    assert len(lines) == 1 and "discord.dev_guild_id" in lines[0]


def test_knowledge_commands_are_still_there() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "ingest", "search", "reindex", "stats"):
        assert command in result.output


def test_intents_are_the_four_needed() -> None:
    intents = kindred_intents()
    assert intents.guilds and intents.guild_messages and intents.message_content
    assert intents.members and not intents.presences and not intents.dm_messages


def _service(settings: BotSettings) -> KnowledgeService:
    return KnowledgeService(settings, embedder=HashingEmbedder())


async def test_rejected_token_is_one_clear_error(server: Server, tmp_path: Path) -> None:
    settings = bot_settings(tmp_path / "data")
    with server.fake.installed(), pytest.raises(StartupError) as err:
        await run_bot(settings, "not-the-token", make_service=_service)
    assert str(err.value) == BAD_TOKEN


class NoIntentsDiscord(FakeDiscord):
    """Closes the gateway with 4014 (disallowed intents) as Discord does when the Message
    Content intent is not enabled in the Developer Portal."""

    async def _identify(self, conn: _Connection, data: Json) -> None:
        await conn.ws.close(code=4014, message=b"Disallowed intent(s).")


async def test_missing_privileged_intent_is_one_clear_error(tmp_path: Path) -> None:
    fake = NoIntentsDiscord()
    fake.world.add_guild("Peer Support")
    settings = bot_settings(tmp_path / "data")
    async with fake:
        with fake.installed(), pytest.raises(StartupError) as err:
            await run_bot(settings, fake.token, make_service=_service)
    assert str(err.value) == NO_INTENTS


def test_bot_defaults_to_no_mentions(kservice: KnowledgeService, settings: BotSettings) -> None:
    bot = KindredBot(kservice, settings)
    assert bot.allowed_mentions is not None
    payload: dict[str, object] = dict(bot.allowed_mentions.to_dict())
    assert payload == {"parse": []}


async def test_unreachable_discord_is_one_clear_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing listens on the REST address: one line naming the problem, no traceback."""
    settings = bot_settings(tmp_path / "data")
    saved = discord.http.Route.BASE
    discord.http.Route.BASE = "http://127.0.0.1:9/api/v10"  # the discard port: refused
    try:
        with pytest.raises(StartupError) as err:
            await run_bot(settings, "any-token", make_service=_service)
    finally:
        discord.http.Route.BASE = saved
    message = str(err.value)
    assert message.startswith("Discord could not be reached (") and "\n" not in message
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert not [r for r in caplog.records if "voice will NOT be supported" in r.getMessage()]
    assert not [r for r in caplog.records if r.exc_info]


def test_cli_prints_the_unreachable_line_once(tmp_path: Path) -> None:
    saved = discord.http.Route.BASE
    discord.http.Route.BASE = "http://127.0.0.1:9/api/v10"
    try:
        result = CliRunner().invoke(
            app, ["run", "--data-dir", str(tmp_path)], env={"DISCORD_TOKEN": "x"}
        )
    finally:
        discord.http.Route.BASE = saved
    assert result.exit_code == 2
    lines = _lines(result.output)
    assert len(lines) == 1 and "Discord could not be reached" in lines[0], result.output
