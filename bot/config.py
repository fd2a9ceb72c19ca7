"""Bot-only settings: the `[discord]` table on top of the knowledge settings.

The token is never configured here; it comes from the `DISCORD_TOKEN` environment variable.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from knowledge.config import KindredSettings, _Table, load_settings

TOKEN_ENV = "DISCORD_TOKEN"
OPT_OUT_ANNOUNCEMENT = (
    "**Kindred search is now opt-out on this server.** Posts in the channels Kindred indexes can "
    "be found by other members who can read those channels, unless you say no. To hide your "
    "posts, use `/privacy view`; to download or erase what Kindred holds about you, use "
    "`/privacy export` or `/privacy delete`."
)


class DiscordSettings(_Table):
    """How the bot talks to Discord."""

    dev_guild_id: int | None = Field(
        None, description="Sync commands to this guild only (instant; for development)."
    )
    sync_commands: bool = Field(True, description="Sync application commands on start.")
    backfill_page_size: int = Field(
        100, ge=1, le=100, description="Messages per history request (Discord allows 100)."
    )
    backfill_batch_size: int = Field(
        200, ge=1, le=5_000, description="Messages per ingest call during backfill."
    )
    progress_interval_seconds: float = Field(
        3.0, ge=0.01, description="How often the enable reply is updated with progress."
    )
    results_timeout_seconds: float = Field(
        600.0, ge=1, le=900, description="Result buttons stop working after this long."
    )
    catch_up_on_start: bool = Field(
        True, description="On start, fetch what enabled channels received while offline."
    )
    follow_changes_seconds: float = Field(
        2.0,
        gt=0,
        description="How often changes made by other processes (shards, the CLI) are applied.",
    )
    maintenance_hours: float = Field(
        1.0, gt=0, description="How often retention limits are applied and deleted bytes scrubbed."
    )
    opt_out_announcement: str = Field(
        OPT_OUT_ANNOUNCEMENT,
        description="Posted when an admin switches the server to opt-out search.",
    )
    health_file: Path | None = Field(
        None,
        description="JSON file the running bot rewrites for process supervisors (default: "
        "health.json in the data folder).",
    )
    health_interval_seconds: float = Field(
        10.0, ge=0, description="How often the health file is rewritten (0 = no health file)."
    )
    shutdown_wait_seconds: float = Field(
        60.0,
        ge=0,
        description="On SIGTERM or Ctrl-C, how long to wait for the batch being ingested.",
    )


class BotSettings(KindredSettings):
    """The whole configuration file as the bot reads it."""

    discord: DiscordSettings = DiscordSettings()


HEALTH_FILE = "health.json"


def health_path(settings: BotSettings) -> Path:
    """Where the running bot keeps its health file: `[discord] health_file`, else `health.json`
    in the data folder (`bot.health`)."""
    return settings.discord.health_file or settings.storage.data_dir / HEALTH_FILE


def load_bot_settings(path: Path | None = None) -> BotSettings:
    """Load and validate kindred.toml (raises ConfigError with the first bad setting)."""
    return load_settings(path, model=BotSettings)
