"""`kindred`: the command line for everything that needs no Discord connection (and `run`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from kindred.cli import doctor, files, insights, inventory
from kindred.cli.common import (
    ConfigOpt,
    DataDir,
    GuildOpt,
    KindredCommand,
    fail,
    new_app,
    opened,
    out,
    resolve_channel,
    say,
    settings_for,
)
from kindred.cli.kb import app as kb_app
from kindred.cli.privacy import app as privacy_app
from kindred.cli.progress import progress_bar
from kindred.cli.render import (
    NEAREST_LABEL,
    NOT_CLOSE_LABEL,
    NOTHING_CLOSE,
    close_first,
    hits_table,
)
from kindred.cli.run import run
from kindred.evaluation.retrieval import run_retrieval_eval
from knowledge.config import KindredSettings
from knowledge.logs import configure_logging
from knowledge.privacy.consent import OPT_IN
from knowledge.scope import SearchScope
from knowledge.search.fusion import Mode

app = new_app("Kindred: peer-support knowledge for Discord communities (offline tools).")
eval_app = new_app("Evaluation on files, through the same ingest and search paths.")

ModeOpt = Annotated[
    str, typer.Option("--mode", metavar="MODE", help="Ranking: hybrid, dense or bm25.")
]


def _mode(value: str) -> Mode:
    if value not in ("hybrid", "dense", "bm25"):
        fail("--mode must be hybrid, dense or bm25")
    return "dense" if value == "dense" else "bm25" if value == "bm25" else "hybrid"


def demo(
    data_dir: Annotated[
        Path,
        typer.Option(
            "--data-dir", metavar="DIR", help="Folder for the demo store (created if missing)."
        ),
    ] = Path("kindred-demo"),
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", min=1, max=10, help="Results shown per query.")
    ] = 3,
    config: ConfigOpt = None,
) -> None:
    """Offline demo: index a sample community, then search, filter and find similar posts."""
    from kindred.demo import DEMO_GUILD, load_demo, run_demo_queries

    settings = settings_for(config, data_dir)
    out.rule("[bold]Kindred demo[/bold] — no token, no network")
    with opened(settings, existing=False, start=True) as service:
        indexed = load_demo(service, service.directory)
        say(f"Indexed {indexed} posts into {data_dir}/ (SQLite, FTS5 and faiss files).")
        for step in run_demo_queries(service, limit):
            out.print(hits_table(escape(step.title), step.hits))
    say(f'Try your own: kindred search "your words" --guild {DEMO_GUILD} --data-dir {data_dir}')


def search(
    query: Annotated[
        str,
        typer.Argument(
            metavar="QUERY", help="What to look for, in your own words.", show_default=False
        ),
    ],
    guild: GuildOpt,
    channel: Annotated[
        list[str] | None,
        typer.Option(
            "--channel",
            metavar="ID_OR_NAME",
            help="Only this channel (an id or a name; repeat for several).",
        ),
    ] = None,
    after: Annotated[
        datetime | None,
        typer.Option("--after", metavar="DATE", help="Posted on or after (YYYY-MM-DD)."),
    ] = None,
    before: Annotated[
        datetime | None,
        typer.Option("--before", metavar="DATE", help="Posted before (YYYY-MM-DD)."),
    ] = None,
    limit: Annotated[
        int,
        typer.Option("--limit", metavar="N", min=1, max=100, help="How many results to show."),
    ] = 10,
    mode: ModeOpt = "hybrid",
    data_dir: DataDir = None,
    config: ConfigOpt = None,
) -> None:
    """Search a guild's stored posts (as members see them: consent applies, crisis posts hidden)."""
    ranking = _mode(mode)
    settings = settings_for(config, data_dir)
    with opened(settings, guild=guild, start=True) as service:
        names = [resolve_channel(service, guild, value) for value in channel or []]
        for thread in (c for c in names if c.is_thread):
            fail(f"{thread.label} is a thread; give its channel (id {thread.parent_id})")
        scope = SearchScope(
            guild_id=guild,
            channel_ids=frozenset(c.id for c in names) if names else None,
            after=after.replace(tzinfo=UTC) if after else None,
            before=before.replace(tzinfo=UTC) if before else None,
        )
        hits = service.search(query, scope, limit, mode=ranking)
        opt_in = service.privacy.search_mode(guild) == OPT_IN
    where = " in " + ", ".join(c.label for c in names) if names else ""
    title = escape(f"Results for “{query}”{where}")
    answers, nearest = close_first(hits)
    if answers:
        out.print(hits_table(title, answers))
        if nearest:
            out.print(hits_table(escape(NOT_CLOSE_LABEL), nearest, start=len(answers) + 1))
        return
    say(f"{NOTHING_CLOSE} for “{query}” in guild {guild}{where}.")
    if nearest:
        out.print(hits_table(escape(NEAREST_LABEL), nearest))
    if opt_in:
        say(
            f"Guild {guild} is opt-in: only posts of members who agreed to be found are "
            "searchable (/privacy view; an admin can switch with /privacy mode)."
        )


def reindex(
    guild: Annotated[
        int | None, typer.Option("--guild", metavar="ID", help="Only this guild.")
    ] = None,
    data_dir: DataDir = None,
    config: ConfigOpt = None,
) -> None:
    """Rebuild the text and vector indexes from the database (the source of truth)."""
    settings = settings_for(config, data_dir)
    with opened(settings, guild=guild) as service:
        total = service.stats(guild).posts
        with progress_bar("Reindexing", total) as advance:
            embedded = service.reindex(guild, advance)
            advance(max(0, total - embedded))
        figures = service.stats(guild)
    say(f"Reindexed {figures.posts} posts; {figures.indexed_vectors} vectors in the index.")


def eval_crisis(
    posts: Annotated[
        Path, typer.Option("--posts", metavar="POSTS.jsonl", help="Posts to assess (id, text).")
    ],
    out_path: Annotated[
        Path, typer.Option("--out", metavar="SCAN.jsonl", help="Where to write each level.")
    ],
    config: ConfigOpt = None,
) -> None:
    """Each post's level (none, concern, crisis) via the bot's own ingest and assessment path."""
    from kindred.evaluation.crisis import scan_posts
    from kindred.files.loading import check_text_file
    from knowledge.safety.assessment import SafetyAssessor
    from knowledge.service import default_embedder

    check_text_file(posts, "JSON Lines (.jsonl)")
    settings = settings_for(config, None)
    configure_logging("WARNING")
    assessor = SafetyAssessor(default_embedder(settings), settings.safety)
    summary = scan_posts(posts, out_path, assessor, settings)
    typer.echo(json.dumps(summary))


def eval_retrieval(
    posts: Annotated[
        Path, typer.Option("--posts", metavar="POSTS.jsonl", help="Posts to rank (id, text).")
    ],
    queries: Annotated[
        Path,
        typer.Option(
            "--queries", metavar="QUERIES.tsv", help="Queries: query_id and optional text."
        ),
    ],
    out_path: Annotated[
        Path, typer.Option("--out", metavar="RUN.tsv", help="Where to write the ranking.")
    ],
    k: Annotated[
        int, typer.Option("--k", metavar="K", min=1, max=1000, help="Results per query.")
    ] = 10,
    mode: ModeOpt = "hybrid",
    config: ConfigOpt = None,
) -> None:
    """Rank POSTS for each query and write `query_id, doc_id, rank, score`; prints one JSON line."""
    ranking = _mode(mode)

    def evaluate(settings: KindredSettings, advance: Callable[[int], None]) -> dict[str, Any]:
        return run_retrieval_eval(
            posts, queries, out_path, k=k, mode=ranking, settings=settings, progress=advance
        )

    _run_eval(posts, queries, config, evaluate)


def eval_matching(
    posts: Annotated[
        Path,
        typer.Option(
            "--posts", metavar="POSTS.jsonl", help="Posts (id, text, author); authors matchable."
        ),
    ],
    queries: Annotated[
        Path,
        typer.Option(
            "--queries", metavar="QUERIES.tsv", help="query_id: a post whose author asks."
        ),
    ],
    out_path: Annotated[
        Path, typer.Option("--out", metavar="RUN.tsv", help="Where to write the ranking.")
    ],
    k: Annotated[
        int, typer.Option("--k", metavar="K", min=1, max=1000, help="Members per query.")
    ] = 10,
    config: ConfigOpt = None,
) -> None:
    """Rank fellow members as /connect does; write `query_id, member_id, rank, score`."""
    from kindred.cli import common
    from kindred.evaluation.matching import run_matching_eval

    def evaluate(settings: KindredSettings, advance: Callable[[int], None]) -> dict[str, Any]:
        return run_matching_eval(
            posts,
            queries,
            out_path,
            k=k,
            settings=settings,
            progress=advance,
            make_service=common.service_factory,
        )

    _run_eval(posts, queries, config, evaluate)


def _run_eval(
    posts: Path,
    queries: Path,
    config: Path | None,
    evaluate: Callable[[KindredSettings, Callable[[int], None]], dict[str, Any]],
) -> None:
    """Check the files, index POSTS with a progress bar, evaluate, print the JSON summary."""
    from kindred.files.loading import check_text_file

    check_text_file(posts, "JSON Lines (.jsonl)")
    check_text_file(queries, "a TSV file")
    settings = settings_for(config, None)
    configure_logging("WARNING")
    total = sum(1 for _ in posts.open("rb"))
    try:
        with progress_bar("Indexing", total) as advance:
            summary = evaluate(settings, advance)
    except ValueError as exc:
        fail(str(exc))
    typer.echo(json.dumps(summary))


def _register() -> None:
    """Commands in the order `kindred --help` lists them."""
    for name, function in (
        ("demo", demo),
        ("ingest", files.ingest),
        ("import", files.import_),
        ("search", search),
        ("stats", inventory.stats),
        ("members", inventory.members),
        ("channels", inventory.channels),
        ("reindex", reindex),
        ("insights", insights.insights),
        ("doctor", doctor.doctor),
        ("health", doctor.health),
    ):
        app.command(name, cls=KindredCommand)(function)
    eval_app.command("retrieval", cls=KindredCommand)(eval_retrieval)
    eval_app.command("crisis", cls=KindredCommand)(eval_crisis)
    eval_app.command("matching", cls=KindredCommand)(eval_matching)
    app.add_typer(eval_app, name="eval")
    app.add_typer(privacy_app, name="privacy")
    app.add_typer(kb_app, name="kb")
    app.command("run", cls=KindredCommand)(run)


_register()

if __name__ == "__main__":
    app()
