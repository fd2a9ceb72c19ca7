"""`kindred`: the command line for everything that needs no Discord connection."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from kindred.cli.common import (
    EXPERIENCE_LABEL,
    ConfigOpt,
    DataDir,
    err,
    fail,
    open_service,
    out,
    settings_for,
)
from kindred.cli.privacy import app as privacy_app
from kindred.cli.progress import progress_bar
from kindred.cli.run import run
from kindred.evaluation.retrieval import run_retrieval_eval
from kindred.files.loading import load_file, read_file
from knowledge.config import KindredSettings
from knowledge.errors import KindredError
from knowledge.logs import configure_logging
from knowledge.records import SearchHit
from knowledge.scope import SearchScope
from knowledge.search.fusion import Mode
from knowledge.service import KnowledgeService

app = typer.Typer(
    help="Kindred: peer-support knowledge for Discord communities (offline tools).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
eval_app = typer.Typer(help="Evaluation on files, through the same ingest and search paths.")
app.add_typer(eval_app, name="eval")


def hits_table(title: str, hits: list[SearchHit]) -> Table:
    table = Table(title=title, caption=EXPERIENCE_LABEL, show_lines=True, expand=True)
    table.add_column("#", justify="right", width=3)
    table.add_column("where / who / when", width=28)
    table.add_column("what they shared")
    for number, hit in enumerate(hits, start=1):
        place = f"#{hit.channel_name or hit.channel_id}"
        if hit.thread_name:
            place += f" › {hit.thread_name}"
        who = hit.author_handle or f"member {hit.author_id}"
        snippet = "".join(
            f"[bold]{escape(p.text)}[/bold]" if p.match else escape(p.text) for p in hit.snippet
        )
        table.add_row(str(number), f"{place}\n{who}\n{hit.created_at:%Y-%m-%d}", snippet)
    return table


@app.command()
def demo(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Folder for the demo store (created if missing).")
    ] = Path("kindred-demo"),
    limit: Annotated[int, typer.Option(min=1, max=10, help="Results shown per query.")] = 3,
) -> None:
    """Offline demo: index a sample community, then search, filter and find similar posts."""
    from kindred.demo import load_demo, run_demo_queries

    settings = KindredSettings().with_data_dir(data_dir)
    out.rule("[bold]Kindred demo[/bold] — no token, no network")
    service = open_service(settings)
    try:
        indexed = load_demo(service)
        out.print(f"Indexed {indexed} posts into {data_dir}/ (SQLite, FTS5 and faiss files).")
        for step in run_demo_queries(service, limit):
            out.print(hits_table(step.title, step.hits))
    finally:
        service.close()
    out.print(
        f'Try your own: [bold]kindred search "your words" --guild 1 --data-dir {data_dir}[/bold]'
    )


@app.command()
def ingest(
    file: Annotated[
        Path, typer.Argument(help="JSON Lines: id, text, [author, channel, thread, created_at].")
    ],
    guild: Annotated[int, typer.Option("--guild", help="Guild (server) id to load into.")],
    data_dir: DataDir = None,
    config: ConfigOpt = None,
) -> None:
    """Load posts from a JSONL file; bad lines are reported with their number, the rest load."""
    if not file.exists():
        fail(f"{file} does not exist")
    settings = settings_for(config, data_dir)
    service = open_service(settings)
    try:
        posts, bad = read_file(file, guild)
        with progress_bar("Indexing posts", len(posts)) as advance:
            result = load_file(service, file, guild, advance, posts, bad)
    finally:
        service.close()
    for skip in result.bad_lines:
        err.print(f"[yellow]line {skip.line}[/yellow]: {skip.reason}: {escape(skip.detail or '')}")
    report = result.report
    out.print(
        f"Loaded {report.inserted} new, {report.updated} updated, {report.unchanged} unchanged; "
        f"{len(report.skipped)} skipped {report.skip_counts() or ''}"
    )


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in your own words.")],
    guild: Annotated[int, typer.Option("--guild", help="Guild id to search.")],
    channel: Annotated[list[int] | None, typer.Option(help="Only these channel ids.")] = None,
    after: Annotated[datetime | None, typer.Option(help="Posted on or after (YYYY-MM-DD).")] = None,
    before: Annotated[datetime | None, typer.Option(help="Posted before (YYYY-MM-DD).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
    mode: Annotated[str, typer.Option(help="hybrid, dense or bm25.")] = "hybrid",
    data_dir: DataDir = None,
    config: ConfigOpt = None,
) -> None:
    """Search a guild's stored posts from the command line."""
    if mode not in ("hybrid", "dense", "bm25"):
        fail("--mode must be hybrid, dense or bm25")
    service = open_service(settings_for(config, data_dir))
    try:
        scope = SearchScope(
            guild_id=guild,
            channel_ids=frozenset(channel) if channel else None,
            after=after.replace(tzinfo=UTC) if after else None,
            before=before.replace(tzinfo=UTC) if before else None,
        )
        hits = service.search(query, scope, limit, mode=_mode(mode))
    except KindredError as exc:
        fail(exc.detail)
    finally:
        service.close()
    title = f"Results for “{escape(query)}”"
    out.print(hits_table(title, hits) if hits else "No matching posts.")


def _mode(value: str) -> Mode:
    return "dense" if value == "dense" else "bm25" if value == "bm25" else "hybrid"


@app.command()
def reindex(
    guild: Annotated[int | None, typer.Option("--guild", help="Only this guild.")] = None,
    data_dir: DataDir = None,
    config: ConfigOpt = None,
) -> None:
    """Rebuild the text and vector indexes from the database (the source of truth)."""
    settings = settings_for(config, data_dir)
    service = KnowledgeService(settings)
    try:
        total = service.stats(guild).posts
        with progress_bar("Reindexing", total) as advance:
            embedded = service.reindex(guild, advance)
            advance(max(0, total - embedded))
        stats = service.stats(guild)
    finally:
        service.close()
    out.print(f"Reindexed {stats.posts} posts; {stats.indexed_vectors} vectors in the index.")


@app.command()
def stats(
    guild: Annotated[int | None, typer.Option("--guild")] = None,
    data_dir: DataDir = None,
    config: ConfigOpt = None,
) -> None:
    """Counts of what Kindred holds."""
    service = open_service(settings_for(config, data_dir))
    try:
        figures = service.stats(guild)
    finally:
        service.close()
    out.print_json(json.dumps(figures.__dict__))


@eval_app.command("crisis")
def eval_crisis(
    posts: Annotated[Path, typer.Option("--posts", help="POSTS.jsonl (id, text).")],
    out_path: Annotated[Path, typer.Option("--out", help="SCAN.jsonl to write.")],
    config: ConfigOpt = None,
) -> None:
    """Each post's level (none, concern, crisis) via the bot's own ingest and assessment path."""
    from kindred.evaluation.crisis import scan_posts
    from knowledge.safety.assessment import SafetyAssessor
    from knowledge.service import default_embedder

    if not posts.exists():
        fail(f"{posts} does not exist")
    settings = settings_for(config, None)
    configure_logging("WARNING")
    assessor = SafetyAssessor(default_embedder(settings), settings.safety)
    summary = scan_posts(posts, out_path, assessor, settings)
    print(json.dumps(summary))


@eval_app.command("retrieval")
def eval_retrieval(
    posts: Annotated[Path, typer.Option("--posts", help="POSTS.jsonl (id, text).")],
    queries: Annotated[Path, typer.Option("--queries", help="QUERIES.tsv (query_id[, text]).")],
    out_path: Annotated[Path, typer.Option("--out", help="RUN.tsv to write.")],
    k: Annotated[int, typer.Option("--k", min=1, max=1000)] = 10,
    mode: Annotated[str, typer.Option(help="hybrid, dense or bm25.")] = "hybrid",
    config: ConfigOpt = None,
) -> None:
    """Rank POSTS for each query and write `query_id, doc_id, rank, score`; prints one JSON line."""
    for path in (posts, queries):
        if not path.exists():
            fail(f"{path} does not exist")
    settings = settings_for(config, None)
    configure_logging("WARNING")
    total = sum(1 for _ in posts.open("rb"))
    try:
        with progress_bar("Indexing", total) as advance:
            summary = run_retrieval_eval(
                posts, queries, out_path, k=k, mode=_mode(mode), settings=settings, progress=advance
            )
    except (ValueError, KindredError) as exc:
        fail(str(exc))
    print(json.dumps(summary))


app.add_typer(privacy_app, name="privacy")
app.command()(run)

if __name__ == "__main__":
    app()
