"""`kindred demo`: an offline tour on a sample community written for the project."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from kindred.cli.progress import progress_bar
from kindred.files.jsonl import channel_id_for
from kindred.files.loading import load_posts, read_file
from knowledge.curation.kb_files import load_entries
from knowledge.directory import Directory
from knowledge.records import SearchHit
from knowledge.scope import SearchScope
from knowledge.service import KnowledgeService

DEMO_GUILD = 1
DEMO_GUILD_NAME = "Kindred Demo"
DEMO_KB_CHANNEL = "anxiety-and-panic"  # where the sample knowledge base's entries live


def demo_file(name: str) -> Path:
    return Path(str(resources.files("kindred") / "data" / name))


@dataclass(frozen=True)
class DemoStep:
    title: str
    hits: list[SearchHit]


def load_demo(service: KnowledgeService, directory: Directory | None = None) -> int:
    """Index the sample community (idempotent: a second run embeds nothing new)."""
    path = demo_file("demo_community.jsonl")
    posts, bad = read_file(path, DEMO_GUILD)
    service.register_guild(DEMO_GUILD, DEMO_GUILD_NAME)
    with progress_bar("Indexing the demo community", len(posts)) as advance:
        result = load_posts(service, DEMO_GUILD, posts, bad, advance, directory)
    load_demo_kb(service)
    return result.report.inserted + result.report.updated + result.report.unchanged


def load_demo_kb(service: KnowledgeService) -> int:
    """Add the sample knowledge base (moderators' curated entries, labelled as such in the
    results, first when they match); idempotent. Returns how many entries were added."""
    drafts = load_entries(demo_file("demo_kb.md").read_text(encoding="utf-8"), "md")
    channel = channel_id_for(DEMO_KB_CHANNEL, DEMO_GUILD)
    added, _ = service.curation.import_entries(DEMO_GUILD, drafts, channel, None)
    return len(added)


def run_demo_queries(service: KnowledgeService, limit: int = 3) -> list[DemoStep]:
    queries = tomllib.loads(demo_file("demo_queries.toml").read_text(encoding="utf-8"))
    everyone = SearchScope(guild_id=DEMO_GUILD)
    steps: list[DemoStep] = []
    for item in queries.get("search", [])[:2]:
        steps.append(
            DemoStep(f"Search: “{item['text']}”", service.search(item["text"], everyone, limit))
        )
    for item in queries.get("curated", [])[:1]:
        title = f"Search the knowledge base answers first: “{item['text']}”"
        steps.append(DemoStep(title, service.search(item["text"], everyone, limit)))
    for item in queries.get("filtered_search", [])[:1]:
        after = datetime.fromisoformat(item["after"]).replace(tzinfo=UTC)
        scope = SearchScope(
            guild_id=DEMO_GUILD,
            channel_ids=frozenset({channel_id_for(item["channel"], DEMO_GUILD)}),
            after=after,
        )
        title = f"Search in #{item['channel']} since {item['after']}: “{item['text']}”"
        steps.append(DemoStep(title, service.search(item["text"], scope, limit)))
    for item in queries.get("similar", [])[:1]:
        title = f"Similar posts for a new member's question: “{item['text'].strip()}”"
        steps.append(DemoStep(title, service.similar_to_text(item["text"], everyone, limit)))
    return steps
