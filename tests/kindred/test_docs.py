"""The README and config.example.toml match the commands they name.

Every `kindred ...` the README shows must exist in the typer app (walked as a click tree, no
subprocess) with every `--option` it shows, and every command of the app must be named in the
README. Slash commands named in the README and config.example.toml must exist among the bot's
cogs (read as text: this test imports nothing from `bot/`).
"""

from __future__ import annotations

import re
from pathlib import Path

import typer
from typer.core import TyperGroup, TyperOption

from kindred.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLE = (ROOT / "config.example.toml").read_text(encoding="utf-8")
COGS = ROOT / "bot" / "cogs"

# `kindred words...` at the start of a span, after a space or as `.venv/bin/kindred`; not
# `/kindred` (a slash command) and not `kindred.toml` or `kindred-data`.
MENTION = re.compile(
    r"(?:^|[\s`(]|bin/)kindred((?: +(?:\\?\||[^\s`|]+(?:\\?\|[^\s`|]+)*))+)", re.MULTILINE
)
SLASH = re.compile(r"(?<![\w/.:<\"'-])/([a-z]+)(?![\w/])(?: ([a-z_]+))?")


def tree() -> dict[tuple[str, ...], set[str]]:
    """Every command path (groups included) and the long options it accepts."""
    found: dict[tuple[str, ...], set[str]] = {}

    def walk(path: tuple[str, ...], command: object) -> None:
        params = getattr(command, "params", [])
        found[path] = {o for p in params if isinstance(p, TyperOption) for o in p.opts} | {"--help"}
        if isinstance(command, TyperGroup):
            for name, sub in command.commands.items():
                walk((*path, name), sub)

    walk((), typer.main.get_command(app))
    return found


COMMANDS = tree()


def mentions() -> list[tuple[tuple[str, ...], list[str], str]]:
    """(command path, options shown, the text) for each `kindred ...` in the README's code."""
    spans = re.findall(r"```.*?```|`[^`\n]+`", README, flags=re.DOTALL)
    out: list[tuple[tuple[str, ...], list[str], str]] = []
    for span in spans:
        for match in MENTION.finditer(span.strip("`")):
            words = match.group(1).replace("\\|", "|").split()
            if words[0].isupper():  # `kindred COMMAND --help`: a placeholder, not a command
                continue
            path: tuple[str, ...] = ()
            for word in words:
                if (*path, word) in COMMANDS:
                    path = (*path, word)
                else:
                    break
            options = [
                option for word in words for option in re.findall(r"(?<![\w-])--[a-z][a-z-]*", word)
            ]
            out.append((path, options, match.group(0).strip()))
    return out


MENTIONS = mentions()


def test_the_readme_names_commands_that_exist_with_the_options_it_shows() -> None:
    assert len(MENTIONS) >= 25
    problems: list[str] = []
    for path, options, text in MENTIONS:
        if not path and not options:
            problems.append(f"not a command: {text}")
            continue
        unknown = [o for o in options if o not in COMMANDS[path]]
        if unknown:
            problems.append(f"{' '.join(path)} has no {', '.join(unknown)}: {text}")
    assert not problems, "\n".join(problems)


def test_every_command_is_in_the_readme() -> None:
    named = {path for path, _, _ in MENTIONS if path}
    groups = {path[:-1] for path in COMMANDS if path}
    leaves = {path for path in COMMANDS if path and path not in groups}
    missing = sorted(" ".join(p) for p in leaves - named)
    assert not missing, f"commands the README never names: {missing}"


def test_what_every_command_takes_holds() -> None:
    assert "Every command takes `--config FILE`" in README
    groups = {path[:-1] for path in COMMANDS if path}
    for path, options in COMMANDS.items():
        if path and path not in groups:
            assert "--config" in options, f"kindred {' '.join(path)} has no --config"
    stores = [("demo",), ("ingest",), ("import",), ("search",), ("stats",), ("members",),
              ("channels",), ("reindex",), ("run",), ("privacy", "export"), ("privacy", "delete"),
              ("privacy", "retention")]  # fmt: skip
    for path in stores:
        assert "--data-dir" in COMMANDS[path], path


def slash_commands() -> dict[str, set[str]]:
    """Slash command groups (and top-level commands) declared in the bot's cogs, read as text."""
    found: dict[str, set[str]] = {}
    group: str | None = None
    for source in sorted(COGS.rglob("*.py")):
        for line in source.read_text(encoding="utf-8").splitlines():
            declared = re.search(r'group_name="([a-z_]+)"', line)
            if line.startswith("class "):
                group = declared.group(1) if declared else None
                if group:
                    found.setdefault(group, set())
            command = re.search(r'app_commands\.command\(\s*name="([a-z_]+)"', line)
            if command:
                if group:
                    found[group].add(command.group(1))
                else:
                    found.setdefault(command.group(1), set())
    return found


def test_slash_commands_in_the_docs_exist() -> None:
    known = slash_commands()
    assert {"kindred", "privacy", "safety"} <= known.keys()
    problems: list[str] = []
    for name, text in (("README.md", README), ("config.example.toml", EXAMPLE)):
        for group, sub in SLASH.findall(text):
            if group not in known:
                problems.append(f"{name}: /{group} is not a slash command")
            elif sub and known[group] and sub not in known[group]:
                problems.append(f"{name}: /{group} has no subcommand {sub!r}")
    assert not problems, "\n".join(problems)
    assert "/safety setup" in EXAMPLE
