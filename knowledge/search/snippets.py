"""Result snippets: the best window of a post with the words that matched the query marked."""

from __future__ import annotations

import re

from knowledge.records import SnippetPart

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
ELLIPSIS = "…"


def query_terms(query: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(query) if len(w) > 2}


def _matches(word: str, terms: set[str]) -> bool:
    lower = word.lower()
    if lower in terms:
        return True
    for term in terms:
        stem = term[: max(4, len(term) - 2)]
        if len(term) >= 4 and lower.startswith(stem):
            return True
    return False


def make_snippet(text: str, query: str, width: int = 280) -> tuple[SnippetPart, ...]:
    """Cut `text` to about `width` characters around the densest run of query words."""
    terms = query_terms(query)
    words = list(_WORD.finditer(text))
    hits = [m for m in words if terms and _matches(m.group(), terms)]
    start = 0
    if hits and len(text) > width:
        best = max(
            range(len(hits)),
            key=lambda i: sum(1 for h in hits[i:] if h.start() < hits[i].start() + width),
        )
        start = max(0, hits[best].start() - width // 5)
        space = text.rfind(" ", 0, start + 1)
        start = space + 1 if space > 0 and start - space < 20 else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start + width // 2 else end
    parts: list[SnippetPart] = [SnippetPart(ELLIPSIS)] if start > 0 else []
    cursor = start
    for match in hits:
        if match.start() < start or match.end() > end:
            continue
        if match.start() > cursor:
            parts.append(SnippetPart(text[cursor : match.start()]))
        parts.append(SnippetPart(match.group(), match=True))
        cursor = match.end()
    if cursor < end:
        parts.append(SnippetPart(text[cursor:end]))
    if end < len(text):
        parts.append(SnippetPart(ELLIPSIS))
    return tuple(parts)
