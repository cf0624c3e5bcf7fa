"""/metrics after known traffic: every counter checked exactly against the traffic and the request log."""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal

import httpx

from router.sim.faults import FaultRule
from tests.conftest import Gateway, GatewayFactory, Sim
from tests.router.test_request_log import wait_rows

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"')


def scrape(gateway: Gateway) -> dict[str, dict[frozenset[tuple[str, str]], str]]:
    response = httpx.get(f"{gateway.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, dict[frozenset[tuple[str, str]], str]] = defaultdict(dict)
    for line in response.text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"not Prometheus text format: {line!r}"
        labels = frozenset(LABEL.findall(match.group(3) or ""))
        samples[match.group(1)][labels] = match.group(4)
    return samples


def value(samples: dict[str, dict[frozenset[tuple[str, str]], str]], name: str, **labels: str) -> str | None:
    return samples.get(name, {}).get(frozenset(labels.items()))


def _chat(gateway: Gateway, model: str, prompt: str, rid: str, **extra: object) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], **extra}
    return httpx.post(
        f"{gateway.url}/v1/chat/completions", json=body, headers={"x-request-id": rid}, timeout=30
    )


def test_metrics_match_known_traffic(gateway: Gateway, sim: Sim) -> None:
    for i in range(3):
        assert _chat(gateway, "gpt-4o-mini", f"hello {i}", f"m-plain-{i}").status_code == 200
    for i in range(2):
        response = _chat(
            gateway,
            "deepseek-v3",
            f"stream {i}",
            f"m-stream-{i}",
            stream=True,
            stream_options={"include_usage": True},
        )
        assert response.status_code == 200 and "[DONE]" in response.text
    # One retry on the same model: a 500 once, then success.
    sim.app.ctx.faults.add(FaultRule(provider="openai", match="retry me", status=500, times=1))
    assert _chat(gateway, "gpt-4o", "retry me", "m-retry").status_code == 200
    # A 400 is final: an error request, one upstream error, no retry.
    sim.app.ctx.faults.add(FaultRule(provider="deepseek", match="bad one", status=400, times=1))
    assert _chat(gateway, "deepseek-v3", "bad one", "m-bad").status_code == 400
    # Fallback: deepseek fails, the request moves on at once (no backoff on another deployment), gpt-4o-mini
    # answers.
    sim.app.ctx.faults.add(FaultRule(provider="deepseek", match="fall back", status=503, times=1))
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "auto", "messages": [{"role": "user", "content": "fall back"}]},
        headers={"x-request-id": "m-fallback", "x-tiergate-tier": "simple"},
    )
    assert response.status_code == 200 and response.headers["x-tiergate-model"] == "gpt-4o-mini"

    rows = wait_rows(gateway.engine, 8)
    assert len(rows) == 8
    samples = scrape(gateway)

    # Requests by endpoint, model, tier, status, code: exactly the logged rows.
    expected_requests: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for row in rows:
        key = (str(row["model"] or ""), str(row["tier"] or ""), str(row["status"]), str(row["http_status"]))
        expected_requests[key] += 1
    got_requests = {
        (d["model"], d["tier"], d["status"], d["code"]): int(v)
        for labels, v in samples["tiergate_requests_total"].items()
        for d in [dict(labels)]
    }
    assert got_requests == expected_requests
    assert expected_requests[("gpt-4o-mini", "simple", "ok", "200")] == 4
    assert expected_requests[("", "simple", "error", "400")] == 1  # no model answered: as in the log

    # Tokens and cost per model: the sums of the log rows, to the last digit.
    for model in ("gpt-4o-mini", "deepseek-v3", "gpt-4o"):
        mine = [r for r in rows if r["model"] == model]
        for kind, column in (("prompt", "prompt_tokens"), ("completion", "completion_tokens")):
            total = sum(int(r[column]) for r in mine)  # type: ignore[call-overload]
            assert value(samples, "tiergate_tokens_total", model=model, kind=kind) == str(total)
        cost = sum((Decimal(str(r["cost_usd"])) for r in mine), Decimal(0))
        assert Decimal(value(samples, "tiergate_cost_usd_total", model=model) or "0") == cost
        assert cost > 0

    # Latency histogram: one observation per request; TTFT only for the two streams.
    assert (
        value(samples, "tiergate_request_duration_seconds_count", endpoint="chat", model="gpt-4o-mini") == "4"
    )
    assert value(samples, "tiergate_time_to_first_token_seconds_count", model="deepseek-v3") == "2"
    # Routing decisions: only the `auto` request (forced to a tier) was routed, not the explicit ones.
    assert value(samples, "tiergate_routing_decision_seconds_count", source="forced") == "1"
    assert [k for k in samples["tiergate_routing_decision_seconds_count"]] == [
        frozenset({("source", "forced")})
    ]
    inf = value(
        samples, "tiergate_request_duration_seconds_bucket", endpoint="chat", model="gpt-4o", le="+Inf"
    )
    assert inf == "1"

    # Upstream errors, retries, fallbacks.
    errors = samples["tiergate_upstream_errors_total"]
    assert {tuple(sorted(dict(k).items())): int(v) for k, v in errors.items()} == {
        (("error_type", "upstream_500"), ("model", "gpt-4o"), ("provider", "openai")): 1,
        (("error_type", "upstream_400"), ("model", "deepseek-v3"), ("provider", "deepseek")): 1,
        (("error_type", "upstream_503"), ("model", "deepseek-v3"), ("provider", "deepseek")): 1,
    }
    assert value(samples, "tiergate_retries_total", model="gpt-4o") == "1"
    assert value(samples, "tiergate_retries_total", model="deepseek-v3") is None  # moved on, no retry
    assert value(samples, "tiergate_fallbacks_total", from_model="deepseek-v3", to_model="gpt-4o-mini") == "1"
    assert value(samples, "tiergate_cache_hits_total", model="gpt-4o-mini") is None

    # The log writer: everything written, nothing queued or dropped.
    assert value(samples, "tiergate_log_rows_written_total") == "8"
    assert value(samples, "tiergate_log_queue_depth") == "0"
    assert value(samples, "tiergate_log_rows_dropped_total") == "0"


def test_metrics_can_be_turned_off(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway(overrides={"observability": {"metrics": False}})
    assert _chat(gateway, "gpt-4o-mini", "hi", "m-off").status_code == 200
    response = httpx.get(f"{gateway.url}/metrics")
    assert response.status_code == 200 and "tiergate_requests_total" not in response.text


def test_cache_hits_and_what_they_saved(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway(overrides={"keys": {"cache": {"enabled": True}}})
    first = _chat(gateway, "gpt-4o-mini", "cache me", "m-cache-1")
    second = _chat(gateway, "gpt-4o-mini", "cache me", "m-cache-2")
    assert first.status_code == second.status_code == 200
    assert second.headers.get("x-tiergate-cache") == "hit"
    rows = {r["id"]: r for r in wait_rows(gateway.engine, 2)}
    samples = scrape(gateway)
    assert value(samples, "tiergate_cache_hits_total", model="gpt-4o-mini") == "1"
    saved = Decimal(str(rows["m-cache-2"]["cost_saved_usd"]))
    assert saved > 0
    assert Decimal(value(samples, "tiergate_cache_saved_usd_total", model="gpt-4o-mini") or "0") == saved
    # Spend counts only the request that reached a provider.
    spent = Decimal(str(rows["m-cache-1"]["cost_usd"]))
    assert Decimal(value(samples, "tiergate_cost_usd_total", model="gpt-4o-mini") or "0") == spent
    ok = value(
        samples,
        "tiergate_requests_total",
        endpoint="chat",
        model="gpt-4o-mini",
        tier="simple",
        status="ok",
        code="200",
    )
    assert ok == "2"


def test_breaker_state_per_deployment(make_gateway: GatewayFactory, sim: Sim) -> None:
    gateway = make_gateway(overrides={"routing": {"breaker": {"failures": 2, "ejection_s": 60}}})
    assert _chat(gateway, "gpt-4o-mini", "healthy", "m-healthy").status_code == 200
    sim.app.ctx.faults.add(FaultRule(provider="openai", match="always down", status=500))
    for i in range(3):
        assert _chat(gateway, "gpt-4o", "always down", f"m-down-{i}").status_code >= 500
    samples = scrape(gateway)
    assert value(samples, "tiergate_breaker_state", deployment="openai/gpt-4o") == "2"  # open
    assert value(samples, "tiergate_breaker_state", deployment="openai/gpt-4o-mini") in ("0", None)  # closed
