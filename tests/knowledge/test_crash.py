"""SIGKILL in the middle of a 10k-post ingest, then a restart and the same ingest: exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlmodel import func, select

from knowledge.embeddings import HashingEmbedder
from knowledge.service import KnowledgeService
from knowledge.store.models import Post
from tests.conftest import GUILD, make_settings

ROOT = Path(__file__).resolve().parents[2]
N = 10_000


def run_worker(data_dir: Path, kill_after_batches: int | None) -> int:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.knowledge.crash_worker", str(data_dir), str(N)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    batches = 0
    for line in proc.stdout:
        if line.startswith("batch"):
            batches += 1
            if kill_after_batches is not None and batches >= kill_after_batches:
                proc.send_signal(signal.SIGKILL)
                break
    proc.wait(timeout=300)
    return proc.returncode


def test_sigkill_mid_ingest_then_rerun_leaves_every_post_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert run_worker(data_dir, kill_after_batches=12) == -signal.SIGKILL
    service = KnowledgeService(make_settings(data_dir), embedder=HashingEmbedder())
    with service.store.session() as session:
        partial = session.exec(select(func.count()).select_from(Post)).one()
    service.close()
    assert 0 < partial < N  # really killed in the middle

    assert run_worker(data_dir, kill_after_batches=None) == 0

    service = KnowledgeService(make_settings(data_dir), embedder=HashingEmbedder())
    service.start()
    try:
        with service.store.session() as session:
            ids = set(session.exec(select(Post.id)).all())
            externals = session.exec(select(Post.external_id)).all()
        assert len(ids) == N and len(set(externals)) == N
        with service.store.engine.connect() as conn:
            fts_docs = conn.exec_driver_sql("SELECT count(*) FROM post_fts_docsize").scalar()
            assert fts_docs == N
        assert service.store.text_index_ok()
        index = service.store.vector_index(GUILD)
        assert set(index.keys()) == ids
        # and the saved index file, loaded on its own, agrees too
        service.store.save_indexes(only_dirty=False)
        from knowledge.store.vector_index import VectorIndex

        saved = VectorIndex.load(service.store.index_path(GUILD), index.dimension, index.model)
        assert set(saved.keys()) == ids
    finally:
        service.close()
