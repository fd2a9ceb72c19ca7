"""Safe FTS5 MATCH expressions from member text."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge.search.fts_query import build_match_query, query_terms, quote

DOCS = [
    "My insulin pump alarms at night",
    "Panic attacks on the train NEAR the station",
    "AND OR NOT are words too",
    "col:value and star* with a caret ^ and a minus -sign",
    'She said "hello" (twice)',
]


@pytest.fixture(scope="module")
def fts() -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE t USING fts5(body, tokenize='porter unicode61 remove_diacritics 2')"
    )
    db.executemany("INSERT INTO t(rowid, body) VALUES (?, ?)", enumerate(DOCS))
    yield db
    db.close()


def search(db: sqlite3.Connection, expression: str) -> list[int]:
    rows = db.execute("SELECT rowid FROM t WHERE t MATCH ? ORDER BY bm25(t)", (expression,))
    return [int(r[0]) for r in rows]


def test_terms_are_quoted_and_ored() -> None:
    assert build_match_query("Insulin pump alarms") == '"insulin" OR "pump" OR "alarms"'
    assert quote('a"b') == '"a""b"'


@pytest.mark.parametrize(
    "text",
    [
        'NEAR(panic train) AND "insulin" OR pump* -alarms ^night col:value',
        'unbalanced "quote and (paren',
        "AND OR NOT NEAR",
        "* ^ : - ( ) \" ' NEAR(",
    ],
)
def test_syntax_typed_by_members_is_never_parsed(fts: sqlite3.Connection, text: str) -> None:
    expression = build_match_query(text)
    assert expression is not None
    search(fts, expression)  # must not raise


def test_operator_words_are_searched_as_text(fts: sqlite3.Connection) -> None:
    expression = build_match_query("NOT")
    assert expression == '"not"' or expression is None  # "not" is a stopword
    expression = build_match_query("near station")
    assert expression is not None
    assert search(fts, expression) == [1]


def test_stopwords_dropped_duplicates_merged() -> None:
    assert query_terms("The pump, the PUMP and the Pump!") == ["pump"]
    assert build_match_query("the and of it is") is None
    assert build_match_query("") is None
    assert build_match_query("?!... --- ***") is None


def test_max_terms_keeps_the_informative_words() -> None:
    text = "ok ok ok ok gastroparesis ok ok nausea ok"
    assert query_terms(text, max_terms=1) == ["gastroparesis"]
    assert len(query_terms(" ".join(f"word{i}" for i in range(100)), max_terms=7)) == 7
    assert query_terms("pump", max_terms=0) == []


def test_document_frequency_ranks_rare_terms_and_drops_absent_ones() -> None:
    frequencies = {"pump": 900, "insulin": 40, "dexcom": 3}

    def doc_freq(terms: Sequence[str]) -> Mapping[str, int]:
        return {t: frequencies.get(t, 0) for t in terms}

    terms = query_terms(
        "pump insulin dexcom unseenword", max_terms=2, doc_freq=doc_freq, total_docs=1000
    )
    assert terms == ["insulin", "dexcom"]
    assert build_match_query("unseenword", doc_freq=doc_freq, total_docs=1000) is None


def test_huge_and_odd_input_does_not_raise(fts: sqlite3.Connection) -> None:
    huge = ("insulin \x00 \ud800 pump " * 70_000)[:1_000_000]
    expression = build_match_query(huge, max_terms=16)
    assert expression is not None and expression.count(" OR ") == 1
    assert search(fts, expression) == [0]


_SYNTAX = st.sampled_from(
    [
        '"',
        "AND",
        "OR",
        "NOT",
        "NEAR(",
        "NEAR",
        "*",
        "-",
        ":",
        "^",
        "(",
        ")",
        "+",
        "{",
        "}",
        "\x00",
        "\ud800",
        "\udfff",
        "body:",
        " ",
        "é",
        "ß",
        "İ",
        "٣",
        "_",
    ]
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.one_of(st.text(), _SYNTAX), max_size=30).map("".join))
def test_any_text_gives_none_or_a_valid_expression(fts: sqlite3.Connection, text: str) -> None:
    expression = build_match_query(text)
    if expression is None:
        return
    assert expression.startswith('"') and expression.endswith('"')
    search(fts, expression)
