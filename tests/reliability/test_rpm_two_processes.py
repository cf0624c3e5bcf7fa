"""Scenario 10: a key limited to 100 requests a minute, two gateway processes sharing Redis, 1,000
requests inside one window from two load processes: 100-102 admitted.

The limit is a sliding log in Redis, checked and recorded in one script, so it is exact across
processes. The window is the literal minute; TIERGATE_RELIABILITY_FULL=0 shrinks it to 15 s (`keys.window_s`)
with the 1,000 requests arriving within it, for a quicker local run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import Sim
from tests.keys.conftest import create_key
from tests.keys.procs import postgres_database, redis_prefix, serve, shared_config
from tests.reliability.load import finish, run_load

FULL = os.environ.get("TIERGATE_RELIABILITY_FULL", "1") == "1"
WINDOW_S = 60.0 if FULL else 15.0


def test_rpm_100_across_two_processes(sim: Sim, redis_url: str, tmp_path: Path) -> None:
    if not os.environ.get("TIERGATE_TEST_POSTGRES_URL"):
        pytest.skip("TIERGATE_TEST_POSTGRES_URL is not set")
    with postgres_database() as database:
        config = shared_config(
            sim.url, database, redis_url, redis_prefix(), window_s=WINDOW_S, redis={"timeout_s": 5.0}
        )
        a = serve(config, tmp_path)
        b = serve(config, tmp_path)
        try:
            secret = create_key(a.url, rpm=100)["key"]
            headers = {"Authorization": f"Bearer {secret}"}
            seconds = WINDOW_S - 2.0  # all 1,000 inside one window, whatever the start-up skew
            loads = [
                run_load(
                    f"{served.url}/v1/chat/completions",
                    rate=500 / seconds,
                    seconds=seconds,
                    prefix=f"rpm-{i}",
                    headers=headers,
                    timeout=30,
                )
                for i, served in enumerate((a, b))
            ]
            results = [finish(load) for load in loads]
        finally:
            a.stop()
            b.stop()
    statuses = [s for result in results for s in result.statuses]
    admitted = statuses.count(200)
    refused = [r for result in results for r in result.results if r["status"] == 429]
    print(
        f"scenario 10: {admitted} admitted of {len(statuses)} in a {WINDOW_S:.0f} s window "
        f"({[result.statuses.count(200) for result in results]} per process)"
    )
    assert len(statuses) == 1000
    assert 100 <= admitted <= 102
    assert admitted + len(refused) == 1000
    assert all(r["retry_after"] and "rate_limit_exceeded" in r["error"] for r in refused)
