"""`kindred`: the command line (one module per command group); the entry point is `app`."""

from kindred.cli.app import app

__all__ = ["app"]
