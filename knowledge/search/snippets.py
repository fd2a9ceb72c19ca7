"""Result snippets: the best window of a post with the words that matched the query marked.

Only content words are marked: a query's stop words ("the", "a", "little", "with") are never
looked for, and a stop word in the post is never marked, even when it looks like a query word.
"""

from __future__ import annotations

import re

from knowledge.records import SnippetPart
from knowledge.search.fts_query import STOPWORDS

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
ELLIPSIS = "…"

SNIPPET_STOPWORDS: frozenset[str] = STOPWORDS | frozenset(
    """
    little bit quite rather maybe already always never ever yes yeah ok okay please thanks
    thank anyway around across since upon within without toward towards also well
    """.split()  # noqa: SIM905
)
"""Words never marked in a snippet: full-text stop words and a few more function words."""


def is_content_word(word: str) -> bool:
    """Whether a word may be marked: three letters or more and not a stop word."""
    lower = word.lower()
    return len(lower) > 2 and lower not in SNIPPET_STOPWORDS and not lower.isdigit()


def query_terms(query: str) -> set[str]:
    """The query's content words, lower case."""
    return {w.lower() for w in _WORD.findall(query) if is_content_word(w)}


def _matches(word: str, terms: set[str], stems: tuple[str, ...]) -> bool:
    lower = word.lower()
    if not is_content_word(lower):
        return False
    return lower in terms or lower.startswith(stems)


def _stems(terms: set[str]) -> tuple[str, ...]:
    """The prefixes a word may start with to match: the crude stems of terms of 4+ letters."""
    return tuple(_stem(term) for term in terms if len(term) >= 4)


def _stem(term: str) -> str:
    """A crude stem for prefix matching: "stretching" -> "stretch", "morning" -> "morn"."""
    for suffix in ("ing", "ed", "es", "s"):
        if term.endswith(suffix) and len(term) - len(suffix) >= 4:
            return term[: -len(suffix)]
    return term[: max(4, len(term) - 2)]


def make_snippet(text: str, query: str, width: int = 280) -> tuple[SnippetPart, ...]:
    """Cut `text` to about `width` characters around the densest run of query words."""
    terms = query_terms(query)
    stems = _stems(terms)
    words = list(_WORD.finditer(text)) if terms else []
    hits = [m for m in words if _matches(m.group(), terms, stems)]
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
