"""The HTML report: self-contained, and rendered by headless Chromium into a screenshot kept under
artifacts/ (gitignored) for a person to look at."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from router.cli import main
from tests.conftest import Gateway, Sim
from tests.pricing.workload import drive

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
BLUE = (0x25, 0x63, 0xEB)  # routed spend (pricing.svg.PALETTE[0])
ORANGE = (0xF9, 0x73, 0x16)  # the baseline line and the tier-mix second slice


def _html(gateway: Gateway, sim: Sim, tmp_path: Path) -> Path:
    logged = drive(gateway, sim, tmp_path)
    ARTIFACTS.mkdir(exist_ok=True)
    out = ARTIFACTS / "report.html"
    assert (
        main(
            [
                "report",
                "--config",
                str(logged.config),
                "--format",
                "html",
                "--out",
                str(out),
                "--group-by",
                "model",
            ]
        )
        == 0
    )
    return out


def test_html_is_self_contained(gateway: Gateway, sim: Sim, tmp_path: Path) -> None:
    page = _html(gateway, sim, tmp_path).read_text()
    assert page.startswith("<!doctype html>") and page.count("<svg") >= 4
    # Nothing is fetched: the only URL is the SVG namespace name.
    assert set(re.findall(r"https?://[^\"' <]+", page)) == {"http://www.w3.org/2000/svg"}
    assert "<script" not in page and "<link" not in page
    assert "Baseline output length (same)" in page
    for title in ("Spend vs baseline over time", "Tier mix", "Top models by spend", "Latency by model"):
        assert title in page


def test_html_renders_in_chromium(gateway: Gateway, sim: Sim, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium); screenshot not taken")
    image_lib = pytest.importorskip("PIL.Image")
    page = _html(gateway, sim, tmp_path)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--window-size=1400,1100",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    with image_lib.open(shot) as image:
        assert image.size == (1400, 1100)
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000) or []
    seen = {colour for _, colour in colours}
    # Drawn, not blank: the routed-spend blue and the baseline orange are on the page, among many shades.
    assert BLUE in seen and ORANGE in seen and len(seen) > 50
