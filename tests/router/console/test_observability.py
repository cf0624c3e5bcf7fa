"""JSON process logs carry the request id; OpenTelemetry spans per request and per upstream attempt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from router.log.store import upgrade
from router.sim.config import sim_config
from router.sim.faults import FaultRule
from tests.conftest import GatewayFactory, Sim
from tests.keys.procs import Served, free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[3]


def test_serve_writes_json_lines_and_spans_with_the_request_id(sim: Sim, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'log.db'}"
    upgrade(database)
    config = sim_config(sim.url, database)
    config["classifier"] = {"enabled": False}
    config["observability"] = {"access_log": True, "log_level": "DEBUG"}
    path = tmp_path / "tiergate.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    # The standard variable alone turns tracing on (console exporter: spans as JSON on stdout).
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OTEL_TRACES_EXPORTER": "console"}
    process = subprocess.Popen(
        [sys.executable, "-m", "router.cli", "serve", "--config", str(path), "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(Served(process, url))
        response = httpx.post(
            url + "/v1/chat/completions",
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-request-id": "req-json-log-1"},
        )
        assert response.status_code == 200
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=30)
    # (Only our lines: the host may have attached a handler of its own to the root logger.)
    records: list[dict[str, Any]] = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    tagged = [r for r in records if r.get("request_id") == "req-json-log-1"]
    # The pipeline's own debug line does not pass the id: it comes from the request's context.
    finished = [r for r in tagged if r["logger"] == "tiergate.request"]
    assert len(finished) == 1 and "req-json-log-1" in finished[0]["msg"], stderr
    access = [r for r in tagged if r["logger"] == "tiergate.access"]
    assert len(access) == 1, stderr
    line = access[0]
    assert (
        line["logger"] == "tiergate.access" and line["level"] == "info" and line["msg"] == "request finished"
    )
    assert line["model"] == "gpt-4o-mini" and line["http_status"] == 200 and line["attempts"] == 1
    assert set(line) >= {"ts", "tier", "latency_ms", "cost_usd", "endpoint"}
    assert '"name": "tiergate chat"' in stdout and '"tiergate.request_id": "req-json-log-1"' in stdout
    assert '"name": "upstream openai"' in stdout


def test_spans_per_request_and_attempt(make_gateway: GatewayFactory, sim: Sim) -> None:
    pytest.importorskip("opentelemetry.sdk", reason="opentelemetry-sdk is not installed")
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    gateway = make_gateway(overrides={"observability": {"tracing": "global"}})
    sim.app.ctx.faults.add(FaultRule(provider="openai", match="trace me", status=500, times=1))
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "trace me"}]},
        headers={"x-request-id": "req-traced"},
    )
    assert response.status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
        s.name == "tiergate chat" for s in exporter.get_finished_spans()
    ):
        time.sleep(0.05)
    spans = exporter.get_finished_spans()
    request = next(
        s for s in spans if s.attributes and s.attributes.get("tiergate.request_id") == "req-traced"
    )
    assert request.attributes["gen_ai.response.model"] == "gpt-4o"  # type: ignore[index]
    assert request.attributes["tiergate.attempts"] == 2  # type: ignore[index]
    children = sorted(
        (s for s in spans if s.parent is not None and s.parent.span_id == request.context.span_id),
        key=lambda s: s.start_time or 0,
    )
    assert [c.name for c in children] == ["upstream openai", "upstream openai"]
    assert children[0].attributes["error.type"] == "upstream_500"  # type: ignore[index]
    assert children[0].status.status_code == trace.StatusCode.ERROR
    assert children[1].attributes["http.response.status_code"] == 200  # type: ignore[index]
    assert request.start_time <= children[0].start_time and children[1].end_time <= request.end_time  # type: ignore[operator]
