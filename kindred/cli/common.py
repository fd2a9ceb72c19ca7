"""Pieces shared by every `kindred` command module: options, consoles, settings, opening the
service, and the command class that turns every failure into one line and a non-zero exit."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import sqlalchemy.exc
import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from kindred.files.loading import describe_os_error
from knowledge.config import KindredSettings, load_settings
from knowledge.directory import ChannelEntry, MemberEntry
from knowledge.errors import KindredError, NotFound
from knowledge.logs import configure_logging
from knowledge.service import KnowledgeService

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

DEBUG_ENV = "KINDRED_DEBUG"
DATABASE_FILE = "kindred.db"
EXPERIENCE_LABEL = "Members' experiences, shared in the community. Not medical advice."

# How commands build the service; tests replace it (e.g. with a fake embedder).
service_factory: Callable[[KindredSettings], KnowledgeService] = KnowledgeService

# Help texts are rendered as rich markup: no square brackets in them (they would vanish).
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        metavar="DIR",
        help="Folder holding the database and indexes (default from the config: kindred-data).",
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="FILE",
        help="Settings file (default: $KINDRED_CONFIG, else ./kindred.toml if present).",
    ),
]
GuildOpt = Annotated[int, typer.Option("--guild", metavar="ID", help="Guild (server) id.")]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print JSON (for scripts) instead of a table.")
]
YesOpt = Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")]


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `error: message` as one line on stderr and exit non-zero."""
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code=code)


def say(message: str) -> None:
    """One line of plain output (never wrapped, never read as markup)."""
    out.print(escape(message), soft_wrap=True)


def note(message: str) -> None:
    """One line of commentary on stderr (kept out of output that scripts read)."""
    err.print(escape(message), soft_wrap=True)


class KindredCommand(TyperCommand):
    """A typer command with plain usage lines and help, whose failures are one line each.

    Known failures (Kindred's own errors, files, the database) print `error: ...` and exit 2;
    anything unexpected prints one line too, unless KINDRED_DEBUG=1 asks for the traceback.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
                param.metavar = ""  # a flag takes no value: show none (not "<bool>")
            if isinstance(param, TyperArgument):
                param.display_type_rich = _no_type  # type: ignore[method-assign]

    def get_help_option(self, ctx: Any) -> Any:
        return _plain_help_option(super().get_help_option(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = param.metavar or (param.name or "arg").upper()
                pieces.append(name if param.required else f"[{name}]")
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.exceptions.TyperException):
            raise
        except KeyboardInterrupt:
            err.print("interrupted: run the same command again to continue (nothing is lost).")
            raise typer.Exit(code=130) from None
        except KindredError as exc:
            fail(exc.detail)
        except OSError as exc:
            if exc.filename:
                fail(describe_os_error(Path(exc.filename), exc).detail)
            fail(f"{exc.strerror or type(exc).__name__}")
        except sqlalchemy.exc.SQLAlchemyError as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            first = str(exc.orig if hasattr(exc, "orig") else exc).splitlines()[0]
            fail(f"the database could not be used: {first}")
        except Exception as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            text = str(exc).splitlines()[0][:200] if str(exc) else ""
            fail(
                f"unexpected {type(exc).__name__}: {text} "
                f"(run again with {DEBUG_ENV}=1 to see where)"
            )


class KindredGroup(TyperGroup):
    """A command group whose `--help` shows no value type."""

    def get_help_option(self, ctx: Any) -> Any:
        return _plain_help_option(super().get_help_option(ctx))


def _plain_help_option(option: Any) -> Any:
    if option is not None:
        option.metavar = ""
    return option


def _no_type(ctx: Any) -> None:
    return None


def new_app(help_text: str) -> typer.Typer:
    """A `kindred` command group: markdown help, no shell-completion options, plain errors."""
    return typer.Typer(
        cls=KindredGroup,
        help=help_text,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode="markdown",
        add_completion=False,
    )


def settings_for(config: Path | None, data_dir: Path | None) -> KindredSettings:
    try:
        return load_settings(config).with_data_dir(data_dir)
    except KindredError as exc:
        fail(exc.detail)


def missing_data(settings: KindredSettings) -> str | None:
    """Why there is no store to read in the configured data folder, or None if there is one."""
    if settings.storage.database_url:
        return None
    folder = settings.storage.data_dir
    if (folder / DATABASE_FILE).is_file():
        return None
    why = "the folder does not exist" if not folder.exists() else f"it holds no {DATABASE_FILE}"
    here = sorted(
        p.parent.name
        for p in Path.cwd().glob(f"*/{DATABASE_FILE}")
        if p.parent.resolve() != folder.resolve()
    )
    hint = f" (found here: --data-dir {here[0]})" if here else ""
    return (
        f"no Kindred data in {folder}/ ({why}); pass --data-dir with the folder you loaded "
        f"into{hint}"
    )


def resolve_member(service: KnowledgeService, guild: int, value: str) -> MemberEntry:
    """The member `--member` names (an id or a name), or one line saying none matches."""
    try:
        return service.directory.resolve_member(guild, value)
    except NotFound as exc:
        raise NotFound(
            f"{exc.detail}: nothing done (kindred members --guild {guild} lists who Kindred holds)"
        ) from None


def resolve_channel(service: KnowledgeService, guild: int, value: str) -> ChannelEntry:
    """The channel `--channel` names (an id or a name), or one line saying none matches."""
    try:
        return service.directory.resolve_channel(guild, value)
    except NotFound as exc:
        raise NotFound(
            f"{exc.detail} (kindred channels --guild {guild} lists the channels Kindred holds)"
        ) from None


@contextmanager
def opened(
    settings: KindredSettings,
    *,
    existing: bool = True,
    guild: int | None = None,
    start: bool = False,
) -> Iterator[KnowledgeService]:
    """The service over the configured store, closed afterwards.

    `existing`: refuse (one line) when there is no store yet instead of creating an empty one.
    `guild`: refuse when the store holds nothing for that guild. `start`: embed posts left
    without a vector and load every index first (loads the model if anything needs embedding);
    commands that embed nothing leave it False and never load the model.
    """
    if existing:
        problem = missing_data(settings)
        if problem:
            fail(problem)
    level = settings.log_level if settings.log_level == "DEBUG" else "WARNING"
    configure_logging(level)
    service = service_factory(settings)
    try:
        if guild is not None:
            require_guild(service, settings, guild)
        if start:
            service.start()
        yield service
    finally:
        service.close()


def require_guild(service: KnowledgeService, settings: KindredSettings, guild: int) -> None:
    if service.directory.has_guild(guild):
        return
    known = [str(g.id) for g in service.directory.guilds()]
    held = f"it holds guilds {', '.join(known)}" if known else "it holds no guilds yet"
    raise NotFound(
        f"Kindred holds nothing for guild {guild} in {settings.storage.data_dir}/ ({held})"
    )
