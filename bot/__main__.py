"""`python -m bot [--config kindred.toml] [--data-dir DIR]`: run the Discord bot."""

import sys

from bot.cli import app

if __name__ == "__main__":
    app(["run", *sys.argv[1:]], prog_name="python -m bot")
