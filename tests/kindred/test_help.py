"""Every command's help shows every option with a description, and no raw type markers."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from kindred.cli.app import app
from tests.kindred.conftest import kindred

RAW_MARKERS = re.compile(r"<(bool|str|int|path|float|datetime|list\[[a-z]+\])>|\{\w+\}")


Leaf = tuple[list[str], TyperCommand]


def commands() -> Iterator[Leaf]:
    """(path, command) for every leaf command of `kindred`."""

    def walk(path: list[str], command: object) -> Iterator[Leaf]:
        if isinstance(command, TyperGroup):
            for name, sub in command.commands.items():
                yield from walk([*path, name], sub)
        elif isinstance(command, TyperCommand):
            yield path, command

    yield from walk([], typer.main.get_command(app))


ALL = sorted(commands(), key=lambda item: item[0])


def test_the_tree_has_every_command() -> None:
    names = {" ".join(path) for path, _ in ALL}
    assert names >= {
        "demo", "ingest", "import", "search", "stats", "members", "channels", "reindex", "run",
        "eval retrieval", "eval crisis", "privacy export", "privacy delete", "privacy retention",
    }  # fmt: skip


@pytest.mark.parametrize("path", [p for p, _ in ALL], ids=[" ".join(p) for p, _ in ALL])
def test_help_shows_every_option_with_a_description(path: list[str]) -> None:
    command = dict((tuple(p), c) for p, c in ALL)[tuple(path)]
    result = kindred(*path, "--help")
    assert result.exit_code == 0, result.output
    text = result.output
    assert not RAW_MARKERS.search(text), RAW_MARKERS.search(text)
    assert command.help, f"{path} has no description"
    for param in command.params:
        if isinstance(param, TyperOption):
            assert param.help, f"{path}: {param.opts} has no help"
            for opt in param.opts:
                assert opt in text, f"{path}: {opt} missing from --help"
        elif isinstance(param, TyperArgument):
            assert param.help, f"{path}: argument {param.name} has no help"
            assert (param.metavar or "") in text


def test_help_keeps_square_brackets_and_field_lists() -> None:
    text = kindred("ingest", "--help").output
    assert "author, channel," in text and "created_at" in text
    assert "Usage: root ingest [OPTIONS] FILE" in " ".join(text.split())


def test_root_and_groups_show_help_without_type_markers() -> None:
    for group in ([], ["privacy"], ["eval"]):
        result = kindred(*group, "--help")
        assert result.exit_code == 0 and not RAW_MARKERS.search(result.output)
        assert "--install-completion" not in result.output
