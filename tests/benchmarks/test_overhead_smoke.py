"""The overhead benchmark in a tiny mode, so the harness cannot rot: it starts the sim, the floor and tiergate as
processes, drives a few requests through each, and writes its table and JSON. No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.load import wrk_available

ROOT = Path(__file__).resolve().parents[2]


def test_overhead_harness_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "overhead.json"
    command = [
        sys.executable,
        "-m",
        "benchmarks.overhead",
        "--quick",
        "--only",
        "chat,stream",
        "--concurrency",
        "1",
        "--warmup",
        "0",
        "--out",
        str(out),
        "--load-generator",
        "wrk" if wrk_available() else "python",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    seen = {(c["scenario"], c["target"]) for c in result["cells"]}
    assert seen == {(s, t) for s in ("chat", "stream") for t in ("direct", "floor", "tiergate")}
    for cell in result["cells"]:
        assert cell["requests"] > 0 and cell["errors"] == 0, cell
        assert cell["cpu_ms_per_request"] is not None and cell["cpu_ms_per_request"] > 0
        if cell["scenario"] == "stream":
            assert cell["ttfb_ms"]["p50"] <= cell["latency_ms"]["p50"]
    assert result["servers"]["tiergate"]["startup_s"] > 0
    assert result["servers"]["tiergate"]["rss_mib_after_load"] > 0
    # The paced stream reached the client through tiergate chunk by chunk, not buffered whole.
    slow = next(s for s in result["slow_stream"] if s["target"] == "tiergate")
    assert slow["requests"] > 0 and slow["first_byte_before_end"] == slow["requests"]
    targets = {t["target"]: t for t in result["summary"]["targets"]}
    assert targets["chat c=1: added p50 over direct"]["measured"] is not None
    assert "| chat | 1 | tiergate |" in done.stdout
