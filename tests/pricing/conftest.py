"""Every pricing test reads the shipped catalog plus an overlay of its own, never the user's."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_overlay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    overlay = tmp_path / "overlay" / "catalog.json"
    monkeypatch.setenv("TIERGATE_CATALOG", str(overlay))
    return overlay
