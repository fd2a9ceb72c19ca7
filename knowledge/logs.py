"""Logging set-up. Kindred logs ids and counts only, never message content or names."""

from __future__ import annotations

import logging

QUIET_LOGGERS = ("alembic", "sentence_transformers", "transformers", "httpx", "faiss")


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
