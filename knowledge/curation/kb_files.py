"""The knowledge base as a file, for backups and for sharing between servers: JSON or Markdown.

Only the moderators' words travel: title, question, answer and condition ids (and, in JSON, when
an entry was made and whether it is retired). A member's quote, the source message and its author
are never written: they belong to that member (and are in their own privacy export).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from knowledge.curation.entries import CURATED_LABEL, Entry, EntryDraft
from knowledge.errors import InvalidInput
from knowledge.store.models import utcnow

KB_FORMAT = "kindred-kb/1"
FORMATS = ("json", "md")
_QUESTION = "**Question:**"
_CONDITIONS = "*Conditions:*"
_HEADING = re.compile(r"^## (.+)$", re.MULTILINE)


def dump_entries(entries: Sequence[Entry], fmt: str, guild_id: int | None = None) -> str:
    """The entries as a JSON document or as Markdown (one `##` section per entry)."""
    if fmt == "json":
        return _dump_json(entries, guild_id)
    if fmt == "md":
        return _dump_markdown(entries)
    raise InvalidInput("bad_format", f"format must be one of {', '.join(FORMATS)}")


def load_entries(text: str, fmt: str | None = None) -> list[EntryDraft]:
    """Drafts from a file written by `dump_entries` (or by hand in the same shape); `fmt` None
    guesses from the text (JSON starts with a brace)."""
    kind = fmt or ("json" if text.lstrip().startswith("{") else "md")
    if kind == "json":
        return _load_json(text)
    if kind == "md":
        return _load_markdown(text)
    raise InvalidInput("bad_format", f"format must be one of {', '.join(FORMATS)}")


def _dump_json(entries: Sequence[Entry], guild_id: int | None) -> str:
    document: dict[str, Any] = {
        "format": KB_FORMAT,
        "guild_id": guild_id,
        "exported_at": utcnow().isoformat(),
        "label": CURATED_LABEL,
        "entries": [
            {
                "title": e.title,
                "question": e.question,
                "answer": e.answer,
                "conditions": list(e.conditions),
                "retired": e.retired,
                "created_at": e.created_at.isoformat(),
            }
            for e in entries
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _dump_markdown(entries: Sequence[Entry]) -> str:
    parts = [f"# Knowledge base\n\n> {CURATED_LABEL}\n"]
    for entry in entries:
        section = [f"## {_one_line(entry.title)}", ""]
        if entry.question:
            section += [f"{_QUESTION} {_one_line(entry.question)}", ""]
        section += [_escape_headings(entry.answer.strip()), ""]
        if entry.conditions:
            section += [f"{_CONDITIONS} {', '.join(entry.conditions)}", ""]
        parts.append("\n".join(section))
    return "\n".join(parts)


def _escape_headings(text: str) -> str:
    """A line of an answer that starts with `#` would read as a new entry: escape it."""
    return "\n".join("\\" + ln if ln.lstrip().startswith("#") else ln for ln in text.splitlines())


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _load_json(text: str) -> list[EntryDraft]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput("bad_file", f"not valid JSON (line {exc.lineno})") from None
    if not isinstance(document, dict) or document.get("format") != KB_FORMAT:
        raise InvalidInput("bad_file", f"not a Kindred knowledge base ({KB_FORMAT})")
    drafts: list[EntryDraft] = []
    for number, item in enumerate(document.get("entries") or [], start=1):
        if not isinstance(item, dict) or item.get("retired"):
            continue
        try:
            drafts.append(
                EntryDraft(
                    title=str(item["title"]),
                    answer=str(item["answer"]),
                    question=str(item.get("question") or ""),
                    conditions=tuple(str(c) for c in item.get("conditions") or ()),
                )
            )
        except KeyError as exc:
            raise InvalidInput("bad_file", f"entry {number} has no {exc.args[0]}") from None
    return drafts


def _load_markdown(text: str) -> list[EntryDraft]:
    headings = list(_HEADING.finditer(text))
    drafts: list[EntryDraft] = []
    for index, heading in enumerate(headings):
        end = headings[index + 1].start() if index + 1 < len(headings) else len(text)
        question, answer = "", []
        conditions: tuple[str, ...] = ()
        for line in text[heading.end() : end].splitlines():
            stripped = line.strip()
            if stripped.startswith(_QUESTION):
                question = stripped.removeprefix(_QUESTION).strip()
            elif stripped.startswith(_CONDITIONS):
                words = stripped.removeprefix(_CONDITIONS).split(",")
                conditions = tuple(w.strip() for w in words if w.strip())
            else:
                answer.append(line[1:] if line.startswith("\\#") else line)
        body = "\n".join(answer).strip()
        drafts.append(EntryDraft(heading.group(1).strip(), body, question, conditions))
    return drafts
