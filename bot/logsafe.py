"""Keep message content out of logs, including discord.py's own DEBUG lines.

discord.py logs every gateway event and HTTP body at DEBUG (`discord.gateway`, `discord.http`),
which would put members' messages into the log. Kindred holds the `discord` logger at INFO or
above whatever the root level is.
"""

from __future__ import annotations

import logging
import traceback

DISCORD_LOGGER = "discord"


def quiet_discord_debug() -> None:
    """Never let discord.py emit DEBUG records (they carry raw payloads)."""
    logger = logging.getLogger(DISCORD_LOGGER)
    if logger.level < logging.INFO:  # NOTSET (0) would inherit a DEBUG root
        logger.setLevel(logging.INFO)


def where(error: BaseException) -> str:
    """Files and lines of a traceback, without the exception's message (it may quote members)."""
    frames = traceback.extract_tb(error.__traceback__)[-4:]
    return " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in reversed(frames))
