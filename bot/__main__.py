"""`python -m bot [--config kindred.toml] [--data-dir DIR]`: run the Discord bot."""

import argparse
import sys
from pathlib import Path

from bot.runner import StartupError, main


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Run the Kindred bot.")
    parser.add_argument("--config", type=Path, default=None, help="Path to kindred.toml.")
    parser.add_argument("--data-dir", type=Path, default=None, help="Folder for the data.")
    args = parser.parse_args(argv)
    try:
        main(args.config, args.data_dir)
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
