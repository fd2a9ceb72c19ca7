"""Property tests: hostile text only meets documented errors; scope rules agree everywhere."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge.embeddings import HashingEmbedder
from knowledge.errors import EmptyQuery, QueryTooLong
from knowledge.scope import SearchScope, epoch_seconds
from knowledge.service import KnowledgeService
from knowledge.store.catalog import CatalogRow, PostCatalog
from knowledge.store.models import Post
from knowledge.store.vector_index import VectorIndex
from tests.conftest import GUILD, T0, enable_open, make_settings, post

HOSTILE = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(list('"*-:^()ANDORNOTNEAR{} \x00\ud800\udfff\n\t'))),
    st.binary().map(lambda b: b.decode("latin-1")),
    st.sampled_from(["", "\x00" * 10, "\ud800", "NEAR(", '"unbalanced', "a" * 1_000_000]),
)


@pytest.fixture(scope="module")
def shared_service(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeService:
    svc = KnowledgeService(
        make_settings(Path(tmp_path_factory.mktemp("prop"))), embedder=HashingEmbedder()
    )
    enable_open(svc, GUILD, 1)
    svc.ingest([post(f"seed{i}", f"seed post number {i} about pain") for i in range(20)])
    return svc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(HOSTILE, min_size=1, max_size=4))
def test_ingest_takes_any_text(shared_service: KnowledgeService, texts: list[str]) -> None:
    records = [post(f"h{abs(hash(t))}-{i}", t) for i, t in enumerate(texts)]
    report = shared_service.ingest(records)
    assert report.inserted + report.updated + report.unchanged + len(report.skipped) == len(texts)
    assert {s.reason for s in report.skipped} <= {"empty", "no_text"}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=HOSTILE)
def test_search_takes_any_query(shared_service: KnowledgeService, query: str) -> None:
    with contextlib.suppress(EmptyQuery, QueryTooLong):
        hits = shared_service.search(query, SearchScope(guild_id=GUILD), limit=5)
        assert len(hits) <= 5


ROWS = st.lists(
    st.tuples(
        st.integers(1, 4),  # channel
        st.one_of(st.none(), st.integers(50, 52)),  # thread
        st.integers(1, 4),  # author
        st.integers(0, 100),  # minutes
        st.booleans(),  # hidden
        st.sampled_from(["none", "concern", "crisis"]),
        st.booleans(),  # curated
    ),
    min_size=1,
    max_size=40,
)
SCOPES = st.builds(
    lambda readable, channels, authors, after, before, threads, curated, asker, mod, ok, no: (
        SearchScope(
            guild_id=GUILD,
            readable_channel_ids=readable,
            channel_ids=channels,
            author_ids=authors,
            after=None if after is None else T0 + timedelta(minutes=after),
            before=None if before is None else T0 + timedelta(minutes=before),
            threads_only=threads,
            curated_only=curated,
            asker_id=asker,
            moderator_view=mod,
            consenting_author_ids=ok,
            withheld_author_ids=no,
        )
    ),
    st.one_of(st.none(), st.frozensets(st.integers(1, 4))),
    st.one_of(st.none(), st.frozensets(st.integers(1, 4))),
    st.one_of(st.none(), st.frozensets(st.integers(1, 4))),
    st.one_of(st.none(), st.integers(0, 100)),
    st.one_of(st.none(), st.integers(0, 100)),
    st.booleans(),
    st.booleans(),
    st.one_of(st.none(), st.integers(1, 4)),
    st.booleans(),
    st.one_of(st.none(), st.frozensets(st.integers(1, 4))),
    st.frozensets(st.integers(1, 4)),
)


@settings(max_examples=200, deadline=None)
@given(rows=ROWS, scope=SCOPES)
def test_sql_rule_and_catalog_mask_agree(rows: list[tuple], scope: SearchScope) -> None:  # type: ignore[type-arg]
    engine = sa.create_engine("sqlite://")
    Post.__table__.create(engine)  # type: ignore[attr-defined]
    catalog = PostCatalog()
    with engine.begin() as conn:
        for i, (channel, thread, author, minutes, hidden, level, curated) in enumerate(rows, 1):
            created = T0 + timedelta(minutes=minutes)
            conn.execute(
                Post.__table__.insert(),  # type: ignore[attr-defined]
                dict(
                    id=i,
                    guild_id=GUILD,
                    external_id=str(i),
                    channel_id=channel,
                    thread_id=thread,
                    author_id=author,
                    kind="message",
                    created_at=created,
                    content="x",
                    content_hash="0" * 64,
                    truncated=False,
                    hidden=hidden,
                    curated=curated,
                    crisis_level=level,
                    ingested_at=created,
                ),
            )
            catalog.upsert(
                [
                    CatalogRow(
                        i,
                        channel,
                        thread,
                        author,
                        epoch_seconds(created),
                        hidden,
                        level == "crisis",
                        curated,
                    )
                ]
            )
        sql_ids = {
            r[0]
            for r in conn.execute(
                sa.select(Post.__table__.c.id).where(*scope.sql_conditions())  # type: ignore[attr-defined]
            )
        }
    assert set(catalog.allowed_ids(scope).tolist()) == sql_ids


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 300),
    allowed_fraction=st.floats(0.0, 1.0),
    k=st.integers(1, 50),
    ivf=st.booleans(),
)
def test_vector_search_stays_inside_allowed_ids(
    n: int, allowed_fraction: float, k: int, ivf: bool
) -> None:
    rng = np.random.default_rng(n)
    index = VectorIndex(16, "test", ivf_threshold=1_000, nprobe=1)
    ids = np.arange(1, n + 1) * 3
    vectors = rng.standard_normal((n, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index.add(ids.tolist(), vectors, ["ab" * 32] * n)
    if ivf and n >= 64:
        index._rebuild_as_ivf()
    allowed = ids[rng.random(n) < allowed_fraction]
    found, _ = index.search(vectors[0], k, allowed)
    assert set(found.tolist()) <= set(allowed.tolist())
    assert len(found) == min(k, len(allowed))
