"""Safe SQLite FTS5 MATCH expressions from arbitrary member text.

Every term is emitted as a double-quoted string, so FTS5 operators typed by a member (AND, OR, NOT,
NEAR, ``*``, ``^``, ``:``, ``-``, parentheses, quotes) are never parsed as query syntax: they are
either searched as ordinary words or dropped with the punctuation.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from knowledge.store.text_index import fts5_quote

quote = fts5_quote  # an FTS5 string literal (the name tests and callers know)

# Split like FTS5's unicode61 tokenizer: runs of letters and digits.
_WORD = re.compile(r"[^\W_]+")

DocFreq = Callable[[Sequence[str]], Mapping[str, int]]
"""Looks up, for lower-case terms, in how many indexed documents each occurs."""

_STOPWORD_TEXT = """
    a about above after again against all almost also am an and any are aren arent as at be
    because been before being below between both but by can cannot cant could couldn couldnt d
    did didn didnt do does doesn doesnt doing don dont down during each else even ever every few
    for from further get gets getting got had hadn hadnt has hasn hasnt have haven havent having
    he her here hers herself him himself his how i if im in into is isn isnt it its itself ive
    just ll m ma me might more most much must mustn my myself need needn no nor not now o of off
    on once one only or other our ours ourselves out over own re really s same shan she should
    shouldn so some still such t than that thats the their theirs them themselves then there
    these they theyre this those though through to too under until up us ve very was wasn wasnt
    we were weren what whats when where which while who whom why will with won wont would
    wouldn wouldnt y yet you youd youll your youre yours yourself yourselves youve anyone
    anything someone something thing things know like feel felt want go going gonna lot lots
"""
STOPWORDS: frozenset[str] = frozenset(_STOPWORD_TEXT.split())


def query_terms(
    text: str,
    *,
    max_terms: int = 32,
    doc_freq: DocFreq | None = None,
    total_docs: int | None = None,
) -> list[str]:
    """The most informative distinct terms of ``text`` (lower case, stopwords dropped).

    With ``doc_freq`` (and ``total_docs``) terms are ranked by query frequency times inverse
    document frequency and terms absent from the index are dropped; without it, rarer-looking
    (longer) words are preferred. Terms keep their order of first appearance.
    """
    if max_terms <= 0:
        return []
    counts: Counter[str] = Counter()
    for match in _WORD.finditer(text):
        word = match.group().lower()
        if len(word) > 1 and word not in STOPWORDS and len(word) <= 64:
            counts[word] += 1
    if not counts:
        return []
    order = {term: i for i, term in enumerate(counts)}
    if len(counts) <= max_terms and doc_freq is None:
        return list(counts)
    scores = _scores(counts, doc_freq, total_docs)
    best = sorted(scores, key=lambda t: (-scores[t], order[t]))[:max_terms]
    return sorted(best, key=order.__getitem__)


def _scores(
    counts: Counter[str], doc_freq: DocFreq | None, total_docs: int | None
) -> dict[str, float]:
    if doc_freq is None:
        return {t: math.log(1.0 + c) * len(t) for t, c in counts.items()}
    frequencies = doc_freq(list(counts))
    n = max(total_docs or 0, max(frequencies.values(), default=0), 1)
    scores: dict[str, float] = {}
    for term, count in counts.items():
        df = int(frequencies.get(term, 0))
        if df > 0:
            idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            scores[term] = (1.0 + math.log(count)) * idf
    return scores


def build_match_query(
    text: str,
    *,
    max_terms: int = 32,
    doc_freq: DocFreq | None = None,
    total_docs: int | None = None,
) -> str | None:
    """An FTS5 MATCH expression ORing the query's terms, or None if nothing is searchable."""
    terms = query_terms(text, max_terms=max_terms, doc_freq=doc_freq, total_docs=total_docs)
    if not terms:
        return None
    return " OR ".join(fts5_quote(t) for t in terms)


build_match_expression = build_match_query
"""Alias used by the store."""
