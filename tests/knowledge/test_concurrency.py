"""One writer, free readers: ingest, search and deletes at once leave SQL and every index in step.

The deterministic tests force the thread switch of the race issue 10 reproduced: a delete landing
between a post's commit and the in-memory state that mirrors it (the catalog after the post
commit, faiss after the vector commit). With the one writer the delete waits for the whole unit,
so it can only run before or after it; either way nothing of the post is left anywhere, and the
id it had is never given to another guild's post.
"""

from __future__ import annotations

import random
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pytest
from sqlmodel import Session, col, select

from knowledge.config import KindredSettings
from knowledge.embeddings import HashingEmbedder
from knowledge.scope import SearchScope
from knowledge.search.fusion import Mode
from knowledge.service import KnowledgeService
from knowledge.store.models import Post, PostVector
from knowledge.store.text_index import ranked_matches
from knowledge.store.vector_index import VectorIndex
from tests.conftest import GUILD, OTHER_GUILD, PHRASES_ONLY, enable_open, post

AUTHOR = 10
PATIENCE = 0.5  # how long the ingest thread lets the deleting thread run inside the gap


pytestmark = pytest.mark.both_backends  # SQLite and a real PostgreSQL


@pytest.fixture
def svc(settings: KindredSettings) -> Iterator[KnowledgeService]:
    service = KnowledgeService(settings, embedder=HashingEmbedder(), safety=PHRASES_ONLY)
    yield service
    service.close()


# -- what every index holds ------------------------------------------------------------------------


@dataclass(frozen=True)
class Held:
    """The post ids of one guild, as each store of them sees it."""

    sql: frozenset[int]
    text_index: frozenset[int]
    sql_vectors: frozenset[int]
    faiss: frozenset[int]
    catalog: frozenset[int]
    conditions: frozenset[int]


def held(service: KnowledgeService, guild: int, marker: str) -> Held:
    store = service.store
    with store.session() as session:
        sql = session.exec(select(Post.id).where(Post.guild_id == guild)).all()
        vectors = session.exec(
            select(PostVector.post_id).join(Post).where(Post.guild_id == guild)
        ).all()
    with store.engine.connect() as connection:  # the text index itself (FTS5 or GIN)
        text = ranked_matches(connection, [marker], [], 1_000_000)
    columns = store.catalog(guild).columns()
    return Held(
        sql=frozenset(int(i) for i in sql if i is not None),
        text_index=frozenset(int(r[0]) for r in text),
        sql_vectors=frozenset(int(i) for i in vectors),
        faiss=frozenset(store.vector_index(guild).keys()),
        catalog=frozenset(columns.ids[columns.alive].tolist()),
        conditions=frozenset(store.condition_vectors(guild)._rows),
    )


def on_disk(service: KnowledgeService, guild: int) -> frozenset[int]:
    store = service.store
    index = VectorIndex.load(store.index_path(guild), store.dimension, store.model_name)
    return frozenset(index.keys())


def assert_in_step(service: KnowledgeService, guild: int, marker: str) -> frozenset[int]:
    now = held(service, guild, marker)
    assert now.text_index == now.sql, "text index differs from SQL"
    assert now.sql_vectors == now.sql, "stored vectors differ from SQL"
    assert now.faiss == now.sql, f"faiss differs from SQL: ghosts {sorted(now.faiss - now.sql)}"
    assert now.catalog == now.sql, f"catalog differs: ghosts {sorted(now.catalog - now.sql)}"
    assert now.conditions <= now.sql, "condition vectors of posts SQL no longer holds"
    return now.sql


# -- forcing the thread switch -----------------------------------------------------------------


class Gap:
    """Lets another thread run `action` inside a gap of the ingest thread, and waits for it
    (at most PATIENCE: under the one writer the action waits for the ingest unit instead)."""

    def __init__(self, action: Callable[[], object]) -> None:
        self.action = action
        self.ingest_thread: threading.Thread | None = None
        self.fired = False
        self.done = threading.Event()
        self.ran_inside = False
        self.errors: list[BaseException] = []
        self._go = threading.Event()
        self._worker = threading.Thread(target=self._run, name="deleter")
        self._worker.start()

    def _run(self) -> None:
        self._go.wait(10)
        try:
            self.action()
        except BaseException as exc:  # reported by finish()
            self.errors.append(exc)
        finally:
            self.done.set()

    def here(self) -> None:
        """Called by the ingest thread in the gap: the first call lets the action run."""
        if self.fired or threading.current_thread() is not self.ingest_thread:
            return
        self.fired = True
        self._go.set()
        self.ran_inside = self.done.wait(PATIENCE)

    def finish(self) -> None:
        self._go.set()
        self._worker.join(10)
        assert not self._worker.is_alive()
        if self.errors:
            raise self.errors[0]


def gap_before_catalog(service: KnowledgeService, gap: Gap) -> None:
    """The gap between the posts' commit and the catalog update (`apply_committed`)."""
    real = service.store.apply_committed

    def apply_committed(guild_id: int, posts: object) -> None:
        gap.here()
        real(guild_id, posts)  # type: ignore[arg-type]

    service.store.apply_committed = apply_committed  # type: ignore[method-assign]


def gap_after_vector_commit(service: KnowledgeService, gap: Gap) -> None:
    """The gap between the vectors' commit (the end of its `write()` block) and faiss."""
    real = service.store.write

    @contextmanager
    def write() -> Iterator[Session]:
        with real() as session:
            yield session
        if any(f.name in {"_embed", "_write_vectors"} for f in traceback.extract_stack()):
            gap.here()

    service.store.write = write  # type: ignore[method-assign]


GAPS = {"post-commit/catalog": gap_before_catalog, "vector-commit/faiss": gap_after_vector_commit}
DELETES: dict[str, Callable[[KnowledgeService, str], object]] = {
    "message deleted on Discord": lambda s, ext: s.delete_messages(GUILD, [ext]),
    "member's privacy delete": lambda s, ext: s.privacy.delete_member(GUILD, AUTHOR),
}


@pytest.mark.parametrize("gap_name", list(GAPS))
@pytest.mark.parametrize("delete_name", list(DELETES))
def test_a_delete_in_the_gap_leaves_no_ghost_and_frees_no_id(
    svc: KnowledgeService, gap_name: str, delete_name: str
) -> None:
    enable_open(svc, GUILD, 1)
    enable_open(svc, OTHER_GUILD, 2)
    svc.ingest([post("keep", "gmark100 a steady post about sleep", author=AUTHOR + 1)])
    text = "gmark100 panic attacks and anxiety keep me awake at night"
    gone_ids: list[int] = []

    def delete() -> None:
        found = svc.store.find_post(GUILD, "gone")
        assert found is not None and found.id is not None
        gone_ids.append(found.id)
        DELETES[delete_name](svc, "gone")

    gap = Gap(delete)
    GAPS[gap_name](svc, gap)
    failed: list[BaseException] = []

    def ingest_gone() -> None:
        try:
            svc.ingest([post("gone", text, author=AUTHOR)])
        except BaseException as exc:
            failed.append(exc)

    ingest = threading.Thread(target=ingest_gone, name="ingest")
    gap.ingest_thread = ingest
    ingest.start()
    ingest.join(20)
    gap.finish()
    assert not failed and gone_ids
    assert gap.fired, "the gap was never reached"
    assert not gap.ran_inside, "the delete ran between a commit and the state that mirrors it"

    (kept,) = assert_in_step(svc, GUILD, "gmark100")
    svc.flush(force=True)
    assert on_disk(svc, GUILD) == {kept}, "a deleted post's vector was written to disk"
    assert svc.store.find_post(GUILD, "gone") is None

    svc.ingest([post("theirs", text, guild=OTHER_GUILD, channel=2, author=AUTHOR)])
    theirs = svc.store.find_post(OTHER_GUILD, "theirs")
    assert theirs is not None and theirs.id is not None
    assert theirs.id not in {*gone_ids, kept}, "a freed post id was given to another guild"
    for mode in ("hybrid", "dense", "bm25"):
        hits = svc.search("panic attacks anxiety awake night", SearchScope(GUILD), mode=mode)
        assert all(h.guild_id == GUILD and h.external_id == "keep" for h in hits), mode


def test_hits_are_rechecked_against_guild_and_scope(svc: KnowledgeService) -> None:
    """The second wall: ids a ranker offers are loaded only if they pass the asker's scope."""
    enable_open(svc, GUILD, 1)
    enable_open(svc, GUILD, 3)
    enable_open(svc, OTHER_GUILD, 2)
    svc.ingest([post("mine", "gmark100 tired", channel=1), post("hidden", "tired too", channel=3)])
    svc.ingest([post("theirs", "tired again", guild=OTHER_GUILD, channel=2)])
    ids = {
        ext: p.id
        for ext, g in (("mine", GUILD), ("hidden", GUILD), ("theirs", OTHER_GUILD))
        if (p := svc.store.find_post(g, ext)) is not None and p.id is not None
    }
    ranked = [(ids["theirs"], 3.0), (ids["hidden"], 2.0), (ids["mine"], 1.0)]
    scope = SearchScope(GUILD, readable_channel_ids=frozenset({1}))
    hits = svc.searcher.hits(ranked, "tired", svc.enforce(scope))
    assert [h.external_id for h in hits] == ["mine"]


def test_readers_do_not_wait_for_the_writer(svc: KnowledgeService) -> None:
    """A search runs while the writer lock is held (an ingest batch's SQL, a delete)."""
    enable_open(svc, GUILD, 1)
    svc.ingest([post(f"m{i}", f"gmark100 post number {i} about sleep") for i in range(20)])
    svc.search("sleep", SearchScope(GUILD))  # loads the guild's index and catalog
    result: list[int] = []
    with svc.store.lock:
        reader = threading.Thread(
            target=lambda: result.append(len(svc.search("sleep", SearchScope(GUILD), mode="dense")))
        )
        reader.start()
        reader.join(10)
        assert not reader.is_alive(), "a search waited for the writer lock"
    assert result and result[0] > 0


# -- the stress test ---------------------------------------------------------------------------

GUILDS = (GUILD, OTHER_GUILD, 300)
WORDS = [
    "sleep",
    "anxiety",
    "panic",
    "fatigue",
    "pain",
    "insulin",
    "migraine",
    "tired",
    "walk",
    "friend",
    "doctor",
    "night",
]


@dataclass
class Ledger:
    """What the test threads did, shared under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    published: dict[int, list[tuple[str, int]]] = field(default_factory=dict)  # ext, author
    deleted: dict[int, set[str]] = field(default_factory=dict)
    members_deleted: set[tuple[int, int]] = field(default_factory=set)  # guild, author
    failures: list[str] = field(default_factory=list)
    searches: int = 0
    deletes: int = 0

    def fail(self, message: str) -> None:
        with self.lock:
            self.failures.append(message)


def channel_of(guild: int) -> int:
    return guild + 1


def ingester(svc: KnowledgeService, ledger: Ledger, worker: int, batches: int) -> None:
    rng = random.Random(worker)
    for number in range(batches):
        records = []
        for i in range(6):
            guild = rng.choice(GUILDS)
            words = " ".join(rng.sample(WORDS, 4))
            records.append(
                post(
                    f"w{worker}-{number}-{i}",
                    f"gmark{guild} {words}",
                    guild=guild,
                    channel=channel_of(guild),
                    author=rng.randint(1, 4),
                    minutes=number,
                )
            )
        svc.ingest(records)
        if number % 3 == 0:  # edits re-embed, before anyone may delete these posts
            edited = [
                post(
                    r.external_id,
                    f"{r.text} edited {rng.choice(WORDS)}",
                    guild=r.guild_id,
                    channel=r.channel_id,
                    author=r.author_id,
                    minutes=number,
                )
                for r in records
            ]
            svc.ingest(edited)
        with ledger.lock:
            for r in records:
                ledger.published.setdefault(r.guild_id, []).append((r.external_id, r.author_id))


def deleter(svc: KnowledgeService, ledger: Ledger, running: threading.Event) -> None:
    rng = random.Random(99)
    member_deletes = 0
    while running.is_set():
        guild = rng.choice(GUILDS)
        with ledger.lock:
            candidates = list(ledger.published.get(guild, []))
        if not candidates:
            time.sleep(0.002)
            continue
        if member_deletes < 2 and rng.random() < 0.05:
            member = rng.choice(candidates)[1]
            gone = {ext for ext, author in candidates if author == member}
            with ledger.lock:
                ledger.members_deleted.add((guild, member))
            svc.privacy.delete_member(guild, member)
            member_deletes += 1
        else:
            gone = {ext for ext, _ in rng.sample(candidates, min(2, len(candidates)))}
            svc.delete_messages(guild, sorted(gone))
        with ledger.lock:
            ledger.deleted.setdefault(guild, set()).update(gone)
            ledger.published[guild] = [c for c in ledger.published[guild] if c[0] not in gone]
            ledger.deletes += 1
        time.sleep(0.003)


def searcher(svc: KnowledgeService, ledger: Ledger, running: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    modes: tuple[Mode, ...] = ("hybrid", "dense", "bm25")
    while running.is_set():
        guild = rng.choice(GUILDS)
        with ledger.lock:
            deleted_before = set(ledger.deleted.get(guild, set()))
        mode = rng.choice(modes)
        query = f"gmark{guild} {' '.join(rng.sample(WORDS, 3))}"
        hits = svc.search(query, SearchScope(guild_id=guild), limit=60, mode=mode)
        for hit in hits:
            if hit.guild_id != guild:
                ledger.fail(f"guild {hit.guild_id}'s post {hit.external_id} in guild {guild}")
            if hit.external_id in deleted_before:
                ledger.fail(f"{hit.external_id}, deleted before the search, was found ({mode})")
        with ledger.lock:
            ledger.searches += 1


def guarded(ledger: Ledger, work: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            work()
        except BaseException as exc:
            ledger.fail(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")

    return run


def start(threads: list[threading.Thread]) -> list[threading.Thread]:
    for thread in threads:
        thread.start()
    return threads


def test_concurrent_ingest_search_and_deletes_keep_every_index_in_step(
    svc: KnowledgeService, settings: KindredSettings
) -> None:
    began = time.monotonic()
    for guild in GUILDS:
        enable_open(svc, guild, channel_of(guild))
    ledger = Ledger()
    running = threading.Event()
    running.set()
    ingesters = start(
        [
            threading.Thread(target=guarded(ledger, partial(ingester, svc, ledger, w, 24)))
            for w in range(3)
        ]
    )
    others = start(
        [
            threading.Thread(target=guarded(ledger, partial(deleter, svc, ledger, running))),
            *(
                threading.Thread(target=guarded(ledger, partial(searcher, svc, ledger, running, s)))
                for s in range(3)
            ),
        ]
    )
    for thread in ingesters:  # bounds with room for a loaded 2-core machine (PostgreSQL ~55 s)
        thread.join(100)
    running.clear()
    for thread in others:
        thread.join(40)
    assert not any(t.is_alive() for t in ingesters + others), "a thread hung"
    assert ledger.failures == []
    assert ledger.searches > 10 and ledger.deletes > 10

    assert svc.ingestor.catch_up() == 0  # every stored post has its vector already
    assert svc.store.text_index_ok()
    kept: dict[int, frozenset[int]] = {}
    for guild in GUILDS:
        kept[guild] = assert_in_step(svc, guild, f"gmark{guild}")
        with ledger.lock:
            alive = {ext: author for ext, author in ledger.published.get(guild, [])}
            deleted = ledger.deleted.get(guild, set())
            erased = {a for g, a in ledger.members_deleted if g == guild}
        with svc.store.session() as session:
            stored = set(session.exec(select(Post.external_id).where(Post.guild_id == guild)))
        assert stored <= alive.keys() and not stored & deleted
        # A member's delete also took posts of theirs that were stored but not yet in the ledger.
        assert {alive[ext] for ext in alive.keys() - stored} <= erased
    assert sum(map(len, kept.values())) == len(frozenset().union(*kept.values()))

    svc.flush(force=True)
    for guild in GUILDS:
        assert on_disk(svc, guild) == kept[guild], "the saved index differs from SQL"
    svc.close()
    again = KnowledgeService(settings, embedder=HashingEmbedder(), safety=PHRASES_ONLY)
    try:
        for guild in GUILDS:
            assert frozenset(again.store.vector_index(guild).keys()) == kept[guild]
            with again.store.session() as session:
                ids = session.exec(select(Post.id).where(col(Post.id).in_(kept[guild]))).all()
            assert len(ids) == len(kept[guild])
    finally:
        again.close()
    assert time.monotonic() - began < 150


def test_catalog_snapshots_never_change_under_a_reader() -> None:
    from knowledge.store.catalog import CatalogRow, PostCatalog

    catalog = PostCatalog()
    catalog.upsert([CatalogRow(i, 1, None, 10, 0, False, False, False) for i in range(1, 6)])
    before = catalog.columns()
    copy = {name: np.array(getattr(before, name)) for name in ("ids", "channel", "flags", "alive")}
    catalog.upsert([CatalogRow(i, 1, None, 10, 0, False, False, False) for i in range(6, 400)])
    catalog.upsert([CatalogRow(2, 7, None, 10, 0, True, True, False)])  # a rewrite
    catalog.remove([1, 3])
    for name, values in copy.items():
        assert np.array_equal(getattr(before, name), values), name
    after = catalog.columns()
    assert set(after.ids[after.alive].tolist()) == set(range(2, 400)) - {3}
    assert int(after.channel[after.ids == 2][0]) == 7
    with pytest.raises(ValueError):
        after.ids[0] = 5  # snapshots are read-only
