"""`kindred insights --out report.html`: the page is written, self-contained and escaped, and it
renders in headless Chromium (Debian's `chromium`; skipped with a message where it is absent)
to a screenshot that is not blank."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from knowledge.config import KindredSettings
from knowledge.service import KnowledgeService
from tests.conftest import GUILD
from tests.knowledge.test_insights import fixture_guild

from .conftest import fake_service, kindred

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def seeded(data: Path) -> None:
    service: KnowledgeService = fake_service(KindredSettings().with_data_dir(data))
    try:
        service.register_guild(GUILD)
        fixture_guild(service, datetime.now(UTC))
    finally:
        service.close()


def chromium() -> str:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        "headless Chromium is not installed (apt-get install -y chromium; scripts/test installs "
        "it when it runs as root with apt)"
    )


@pytest.fixture
def report_html(tmp_path: Path, fake_model: None) -> Path:
    data = tmp_path / "data"
    seeded(data)
    out = tmp_path / "report.html"
    result = kindred("insights", "--guild", GUILD, "--out", out, "--days", 7, "--data-dir", data)
    assert result.exit_code == 0, result.output
    assert "10 questions in the last 7 days, 5 answered within 24 hours" in result.stdout
    return out


def test_the_page_is_self_contained(report_html: Path) -> None:
    page = report_html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "data:image/png;base64," in page and "<script" not in page
    assert "Questions asked</th><td>10</td>" in page
    assert "fewer than 5" in page
    assert 'src="http' not in page and "<link" not in page
    assert oct(report_html.stat().st_mode & 0o777) == "0o600"


def test_the_page_renders_in_headless_chromium(report_html: Path, tmp_path: Path) -> None:
    browser = chromium()
    shot = tmp_path / "shot.png"
    run = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--screenshot={shot}",
            "--window-size=1000,1400",
            report_html.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert shot.exists(), run.stderr.decode(errors="replace")[-2000:]
    image = Image.open(io.BytesIO(shot.read_bytes()))
    assert image.size == (1000, 1400)
    grey = np.asarray(image.convert("L"))
    assert (grey < 128).mean() > 0.005  # text and chart, not a blank page
    colours = np.unique(np.asarray(image.convert("RGB")).reshape(-1, 3), axis=0)
    assert len(colours) > 20  # the chart's colours and anti-aliased text
