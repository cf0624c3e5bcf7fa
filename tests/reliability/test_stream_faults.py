"""Scenario 6: stream faults. Before the first chunk a failure falls back unseen; after it there is no
retry and no duplicated text, only a terminal error event; a client leaving closes the upstream at once."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from router.sim.faults import FaultRule
from tests.conftest import Gateway, GatewayFactory, Sim
from tests.keys.conftest import MASTER, create_key, spend
from tests.reliability.load import finish, run_load
from tests.reliability.routing import SIMPLE_BODY, attempts_by_request, ready, two_provider_gateway
from tests.router.test_request_log import wait_rows

STREAM = {**SIMPLE_BODY, "stream": True}


def _events(gateway: Gateway, request_id: str) -> list[tuple[float, dict[str, Any]]]:
    """(arrival time, event) for every SSE data event of one streamed request."""
    out: list[tuple[float, dict[str, Any]]] = []
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        json=STREAM,
        headers={"x-request-id": request_id},
        timeout=10,
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                out.append((time.monotonic(), json.loads(line[6:])))
    return out


def _text(events: list[tuple[float, dict[str, Any]]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for _, c in events if c.get("choices"))


def test_stream_faults(make_gateway: GatewayFactory, sim: Sim, monkeypatch: pytest.MonkeyPatch) -> None:
    gateway = two_provider_gateway(make_gateway)
    faults = sim.app.ctx.faults
    full = _text(_events(gateway, "s6-clean"))  # deepseek's whole answer to this prompt

    # 1. An error before the first chunk: transparent fallback under load, 0 client errors.
    faults.add(FaultRule(provider="deepseek", stream_error_after=0))
    result = finish(
        run_load(f"{gateway.url}/v1/chat/completions", rate=20, seconds=3, body=STREAM, prefix="s6a")
    )
    assert result.failures() == []
    # Two attempts each (deepseek, then openai) until deepseek's breaker opens; then one.
    assert set(attempts_by_request(sim, "s6a-").values()) <= {1, 2}

    # 2. Three chunks, then an error event or a reset: no retry, no duplicated text, a terminal error event.
    # (A fresh gateway for each: five such breaks open deepseek's breaker, as they should.)
    gaps: list[float] = []
    for fault in ("stream_error_after", "stream_reset_after"):
        gateway = two_provider_gateway(make_gateway)
        faults.clear()
        faults.add(FaultRule(provider="deepseek", chunk_ms=20, **{fault: 3}))  # type: ignore[arg-type]
        for i in range(4):
            request_id = f"s6b-{fault}-{i}"
            events = _events(gateway, request_id)
            assert [("error" in e) for _, e in events] == [False, False, False, True]
            text = _text(events)
            assert text and full.startswith(text) and len(text) < len(full)
            assert len(sim.attempts(request_id)) == 1
            gaps.append(events[-1][0] - events[-2][0])
        broken = wait_rows(gateway.engine, 4)
        assert len(broken) == 4
        assert all(
            r["status"] == "error" and r["stream_broke_at"] == 3 and r["attempt_count"] == 1 for r in broken
        )
        assert all(r["completion_tokens"] > 0 for r in broken)  # the partial usage, counted locally
    assert max(gaps) < 1.0

    # 3. The client leaves mid-stream: the upstream is closed at once, nothing is left running, and the
    # key's budget reservation is released (what was streamed is committed, nothing stays reserved).
    monkeypatch.setenv("TIERGATE_MASTER_KEY", MASTER)
    gateway = two_provider_gateway(make_gateway)
    created = create_key(gateway.url, budget_usd=1.0, budget_period="day")
    auth = {"authorization": f"Bearer {created['key']}"}
    faults.clear()
    tasks_before = ready(gateway)["checks"]["runtime"]["asyncio_tasks"]
    faults.add(FaultRule(provider="deepseek", chunk_ms=100))
    closes: list[float] = []
    for i in range(5):
        request_id = f"s6c-{i}"
        with httpx.stream(
            "POST",
            f"{gateway.url}/v1/chat/completions",
            json=STREAM,
            headers={"x-request-id": request_id, **auth},
            timeout=10,
        ) as response:
            assert response.status_code == 200
            seen = 0
            for line in response.iter_lines():
                seen += line.startswith("data: ")
                if seen == 3:
                    break
            left = time.time()
        deadline = time.monotonic() + 5
        while sim.attempts(request_id)[0]["client_gone_at"] is None and time.monotonic() < deadline:
            time.sleep(0.01)
        gone = sim.attempts(request_id)[0]["client_gone_at"]
        assert gone is not None
        closes.append(gone - left)
    rows = {r["id"]: r for r in wait_rows(gateway.engine, 5)}
    assert all(rows[f"s6c-{i}"]["status"] == "cancelled" for i in range(5))
    tasks_after = ready(gateway)["checks"]["runtime"]["asyncio_tasks"]
    report = spend(gateway.url, created["info"]["id"])
    assert report["reserved_usd"] == 0 and report["committed_usd"] > 0
    print(
        f"scenario 6: error-event gap max {max(gaps) * 1000:.0f} ms; upstream closed "
        f"{max(closes) * 1000:.0f} ms after the client left (max of 5); tasks {tasks_before} -> {tasks_after}"
    )
    assert max(closes) < 1.0
    assert tasks_after <= tasks_before
