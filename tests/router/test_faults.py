"""Fault injection through the openai SDK: what the client sees, what the sim saw, what the log says.

The `simple` tier lists deepseek-v3 (provider `deepseek`) before gpt-4o-mini (provider `openai`), so a
fault on `deepseek` must fall back to `openai`; explicit single-deployment models show retries.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import openai
import pytest

from router.sim.faults import FaultRule
from tests.conftest import Gateway, GatewayFactory, Sim
from tests.router.test_request_log import wait_rows
from tests.sse import post_sse

# Pinned here so these expectations do not move with the sim's default config.
ROUTING = {
    "routing": {
        "tiers": {
            "simple": ["deepseek-v3", "gpt-4o-mini", "claude-haiku-4.5"],
            "hard": ["gpt-4o", "claude-sonnet-4"],
        }
    }
}
SIMPLE = {"x-tiergate-tier": "simple"}
HELLO = [{"role": "user", "content": "hello there"}]
FAST = {"connect_s": 1.0, "first_byte_s": 0.5, "total_s": 3.0}


@pytest.fixture
def gateway(make_gateway: GatewayFactory) -> Gateway:
    return make_gateway(overrides=ROUTING)


def ask(gateway: Gateway, request_id: str, **kwargs: Any) -> Any:
    kwargs.setdefault("model", "auto")
    kwargs.setdefault("messages", HELLO)
    headers = {**SIMPLE, "x-request-id": request_id, **kwargs.pop("extra_headers", {})}
    return gateway.client().chat.completions.with_raw_response.create(extra_headers=headers, **kwargs)


def seen(sim: Sim, request_id: str) -> list[tuple[str, int]]:
    return [(a["provider"], a["status"]) for a in sim.attempts(request_id)]


def row(gateway: Gateway, request_id: str, count: int = 1) -> dict[str, Any]:
    rows = {r["id"]: r for r in wait_rows(gateway.engine, count)}
    return rows[request_id]


def logged(r: dict[str, Any]) -> list[tuple[str, int | None, str | None, bool]]:
    return [(a["provider"], a["status"], a["error_type"], a["skipped"]) for a in r["attempts"]]


def test_429_retry_after_goes_elsewhere_and_remembers_the_window(gateway: Gateway, sim: Sim) -> None:
    sim.app.ctx.faults.add(FaultRule(provider="deepseek", status=429, retry_after=2, times=1))
    first = ask(gateway, "ra-1")
    assert first.headers["x-tiergate-model"] == "gpt-4o-mini"
    assert seen(sim, "ra-1") == [("deepseek", 429), ("openai", 200)]
    # Inside the 2 s window deepseek is not tried at all, though it would now answer.
    second = ask(gateway, "ra-2")
    assert second.headers["x-tiergate-model"] == "gpt-4o-mini"
    assert seen(sim, "ra-2") == [("openai", 200)]
    r1, r2 = row(gateway, "ra-1", 2), row(gateway, "ra-2", 2)
    assert logged(r1) == [("deepseek", 429, "upstream_429", False), ("openai", 200, None, False)]
    assert r1["attempt_count"] == 2 and r1["status"] == "ok"
    assert logged(r2) == [
        ("deepseek", None, "retry_after_window", True),
        ("openai", 200, None, False),
    ]
    assert r2["attempt_count"] == 1 and r2["provider"] == "openai"


def test_429_on_the_only_deployment_returns_retry_after(gateway: Gateway, sim: Sim) -> None:
    sim.app.ctx.faults.add(FaultRule(provider="openai", status=429, retry_after=30))
    with pytest.raises(openai.RateLimitError) as info:
        gateway.client().chat.completions.create(
            model="gpt-4o", messages=HELLO, extra_headers={"x-request-id": "ra-only"}
        )
    assert info.value.response.headers["retry-after"] == "30"
    assert seen(sim, "ra-only") == [("openai", 429)]


@pytest.mark.parametrize("status", [500, 503, 529])
def test_5xx_falls_back_to_the_other_provider(gateway: Gateway, sim: Sim, status: int) -> None:
    # 529 is Anthropic's "overloaded"; sent here in the OpenAI dialect, it gets the same 5xx treatment.
    sim.app.ctx.faults.add(FaultRule(provider="deepseek", status=status))
    raw = ask(gateway, f"s{status}")
    assert raw.parse().choices[0].message.content
    assert seen(sim, f"s{status}") == [("deepseek", status), ("openai", 200)]
    r = row(gateway, f"s{status}")
    assert logged(r) == [("deepseek", status, f"upstream_{status}", False), ("openai", 200, None, False)]
    assert r["model"] == "gpt-4o-mini" and r["status"] == "ok"


def test_anthropic_529_is_retried_and_fallback_crosses_dialects(gateway: Gateway, sim: Sim) -> None:
    sim.app.ctx.faults.add(FaultRule(provider="anthropic", status=529, times=1))
    completion = gateway.client().chat.completions.create(
        model="claude-sonnet-4", messages=HELLO, extra_headers={"x-request-id": "ov-1"}
    )
    assert completion.choices[0].message.content
    assert seen(sim, "ov-1") == [("anthropic", 529), ("anthropic", 200)]
    assert logged(row(gateway, "ov-1"))[0][2] == "upstream_overloaded"
    # Fallback crosses dialects: the hard tier's gpt-4o fails, Anthropic's claude-sonnet-4 answers.
    sim.app.ctx.faults.add(FaultRule(provider="openai", status=503))
    raw = ask(gateway, "ov-2", extra_headers={"x-tiergate-tier": "hard"})
    assert raw.headers["x-tiergate-model"] == "claude-sonnet-4"
    assert seen(sim, "ov-2") == [("openai", 503), ("anthropic", 200)]


def test_5xx_on_a_single_deployment_is_retried_after_backoff(gateway: Gateway, sim: Sim) -> None:
    sim.app.ctx.faults.add(FaultRule(provider="openai", status=503, times=1))
    completion = gateway.client().chat.completions.create(
        model="gpt-4o", messages=HELLO, extra_headers={"x-request-id": "retry-1"}
    )
    assert completion.choices[0].message.content
    assert seen(sim, "retry-1") == [("openai", 503), ("openai", 200)]
    assert row(gateway, "retry-1")["attempt_count"] == 2


def test_everything_failing_is_bounded_and_says_retry_after(gateway: Gateway, sim: Sim) -> None:
    sim.app.ctx.faults.add(FaultRule(status=500))
    with pytest.raises(openai.InternalServerError) as info:
        ask(gateway, "all-500")
    assert info.value.status_code == 502
    assert int(info.value.response.headers["retry-after"]) >= 1
    attempts = seen(sim, "all-500")
    assert len(attempts) == 4  # routing.retry.max_attempts
    # Round one: each simple-tier candidate once; round two: back to the first, after a backoff.
    assert [p for p, _ in attempts] == ["deepseek", "openai", "anthropic", "deepseek"]
    assert row(gateway, "all-500")["attempt_count"] == 4


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_4xx_that_will_fail_again_is_one_attempt(gateway: Gateway, sim: Sim, status: int) -> None:
    sim.app.ctx.faults.add(FaultRule(provider="deepseek", status=status))
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "auto", "messages": HELLO},
        headers={**SIMPLE, "x-request-id": f"c{status}"},
        timeout=10,
    )
    assert response.status_code == (502 if status == 401 else status)
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert "retry-after" not in response.headers
    assert seen(sim, f"c{status}") == [("deepseek", status)]
    r = row(gateway, f"c{status}")
    assert r["attempt_count"] == 1 and r["status"] == "error"


def test_quota_429_is_tried_once_then_cooled(gateway: Gateway, sim: Sim) -> None:
    sim.app.ctx.faults.add(FaultRule(provider="deepseek", status=429, error_code="insufficient_quota"))
    ask(gateway, "q-1")
    ask(gateway, "q-2")
    assert seen(sim, "q-1") == [("deepseek", 429), ("openai", 200)]
    assert seen(sim, "q-2") == [("openai", 200)]
    r2 = row(gateway, "q-2", 2)
    assert logged(r2)[0] == ("deepseek", None, "quota_cooldown", True)
    # Asked for by name while its account is out of credit: refused at once, nothing sent.
    with pytest.raises(openai.InternalServerError) as info:
        gateway.client().chat.completions.create(
            model="deepseek-v3", messages=HELLO, extra_headers={"x-request-id": "q-3"}
        )
    assert info.value.status_code == 503 and int(info.value.response.headers["retry-after"]) >= 50
    assert seen(sim, "q-3") == []


def test_timeout_before_headers_falls_back(make_gateway: GatewayFactory, sim: Sim) -> None:
    gateway = make_gateway(overrides={**ROUTING, "providers": {"deepseek": {"timeouts": FAST}}})
    sim.app.ctx.faults.add(FaultRule(provider="deepseek", hang="before_headers", hang_s=3))
    started = time.monotonic()
    raw = ask(gateway, "hang-1")
    waited = time.monotonic() - started
    assert raw.headers["x-tiergate-model"] == "gpt-4o-mini"
    assert [p for p, _ in seen(sim, "hang-1")] == ["deepseek", "openai"]
    assert logged(row(gateway, "hang-1"))[0][2] == "timeout"
    assert waited < 3  # the fallback came from our deadline, not from the sim giving up


def test_slow_first_byte_falls_back(make_gateway: GatewayFactory, sim: Sim) -> None:
    gateway = make_gateway(overrides={**ROUTING, "providers": {"deepseek": {"timeouts": FAST}}})
    sim.app.ctx.faults.add(FaultRule(provider="deepseek", latency_ms=1500))
    raw = ask(gateway, "slow-1")
    assert raw.headers["x-tiergate-model"] == "gpt-4o-mini"
    assert logged(row(gateway, "slow-1"))[0][2] == "timeout"


def test_stream_stalled_after_headers_falls_back_before_commit(
    make_gateway: GatewayFactory, sim: Sim
) -> None:
    gateway = make_gateway(overrides={**ROUTING, "providers": {"deepseek": {"timeouts": FAST}}})
    sim.app.ctx.faults.add(FaultRule(provider="deepseek", hang="after_headers", hang_s=3))
    stream = gateway.client().chat.completions.create(
        model="auto", messages=HELLO, stream=True, extra_headers={**SIMPLE, "x-request-id": "stall-1"}
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert len(text.split()) >= 5
    r = row(gateway, "stall-1")
    assert logged(r)[0][:3] == ("deepseek", 200, "timeout") and r["status"] == "ok"
    assert r["model"] == "gpt-4o-mini"


def test_connection_reset_falls_back(gateway: Gateway, sim: Sim) -> None:
    sim.app.ctx.faults.add(FaultRule(provider="deepseek", reset=True))
    raw = ask(gateway, "reset-1")
    assert raw.headers["x-tiergate-model"] == "gpt-4o-mini"
    assert logged(row(gateway, "reset-1"))[0][2] == "reset"


def test_malformed_json_falls_back(gateway: Gateway, sim: Sim) -> None:
    sim.app.ctx.faults.add(FaultRule(provider="deepseek", malformed=True))
    raw = ask(gateway, "bad-json")
    assert raw.parse().choices[0].message.content
    assert seen(sim, "bad-json") == [("deepseek", 200), ("openai", 200)]
    assert logged(row(gateway, "bad-json"))[0][2] == "malformed_response"


def test_stream_error_before_first_chunk_is_transparent(gateway: Gateway, sim: Sim) -> None:
    sim.app.ctx.faults.add(FaultRule(provider="deepseek", stream_error_after=0))
    stream = gateway.client().chat.completions.create(
        model="auto", messages=HELLO, stream=True, extra_headers={**SIMPLE, "x-request-id": "early"}
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert seen(sim, "early") == [("deepseek", 200), ("openai", 200)]
    r = row(gateway, "early")
    assert r["status"] == "ok" and r["stream_broke_at"] is None


def _raw_stream(gateway: Gateway, request_id: str) -> list[str]:
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        json={"model": "auto", "messages": HELLO, "stream": True},
        headers={**SIMPLE, "x-request-id": request_id},
        timeout=10,
    ) as response:
        assert response.status_code == 200
        return [line[6:] for line in response.iter_lines() if line.startswith("data: ")]


@pytest.mark.parametrize("fault", ["stream_error_after", "stream_reset_after"])
def test_break_after_first_chunk_is_an_error_event_not_a_switch(
    gateway: Gateway, sim: Sim, fault: str
) -> None:
    # Paced, so the first chunks reach the client before the break (unpaced, one read may carry the
    # chunks and the error together, and then the fallback is transparent: nothing was sent yet).
    sim.app.ctx.faults.add(FaultRule(provider="deepseek", chunk_ms=30, **{fault: 3}))  # type: ignore[arg-type]
    events = _raw_stream(gateway, f"mid-{fault}")
    chunks = [json.loads(e) for e in events]
    assert [("error" in c) for c in chunks] == [False, False, False, True]
    assert chunks[-1]["error"]["type"] == "upstream_error"
    assert seen(sim, f"mid-{fault}") == [("deepseek", 200 if fault == "stream_error_after" else -1)]
    r = row(gateway, f"mid-{fault}")
    assert r["status"] == "error" and r["stream_broke_at"] == 3 and r["attempt_count"] == 1
    assert r["completion_tokens"] > 0  # the partial text, estimated  # type: ignore[operator]
    # Through the SDK the same break is an APIError raised mid-iteration, after the text already shown.
    with pytest.raises(openai.APIError):
        for _ in gateway.client().chat.completions.create(
            model="auto", messages=HELLO, stream=True, extra_headers=SIMPLE
        ):
            pass


def test_client_disconnect_closes_upstream_and_logs_partial(make_gateway: GatewayFactory, sim: Sim) -> None:
    gateway = make_gateway(overrides=ROUTING)
    baseline = httpx.get(f"{gateway.url}/ready").json()["checks"]["runtime"]["asyncio_tasks"]
    sim.app.ctx.faults.add(FaultRule(provider="deepseek", chunk_ms=200))
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        json={"model": "auto", "messages": HELLO, "stream": True},
        headers={**SIMPLE, "x-request-id": "gone"},
        timeout=10,
    ) as response:
        got: list[str] = []
        for line in response.iter_lines():
            if line.startswith("data: "):
                got.append(line)
            if len(got) == 3:
                break
        left_at = time.time()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and sim.attempts("gone")[0]["client_gone_at"] is None:
        time.sleep(0.02)
    (attempt,) = sim.attempts("gone")
    assert attempt["client_gone_at"] is not None and attempt["client_gone_at"] - left_at < 1.0
    r = row(gateway, "gone")
    assert r["status"] == "cancelled" and r["http_status"] == 499
    assert r["completion_tokens"] > 0 and r["cost_estimated"] is True  # type: ignore[operator]
    tasks = httpx.get(f"{gateway.url}/ready").json()["checks"]["runtime"]["asyncio_tasks"]
    assert tasks <= baseline


def test_total_deadline_bounds_a_body_that_never_ends(make_gateway: GatewayFactory, sim: Sim) -> None:
    """Headers come, the body stalls, and the per-read (first byte) timeout is long: `total_s` still cuts
    the attempt, and the request falls back."""
    slow_reads = {"connect_s": 1.0, "first_byte_s": 10.0, "total_s": 0.8}
    gateway = make_gateway(overrides={**ROUTING, "providers": {"deepseek": {"timeouts": slow_reads}}})
    sim.app.ctx.faults.add(FaultRule(provider="deepseek", hang="after_headers", hang_s=5))
    started = time.monotonic()
    raw = ask(gateway, "total-1")
    assert raw.headers["x-tiergate-model"] == "gpt-4o-mini"
    assert time.monotonic() - started < 5  # cut by our deadline, not by the sim giving up
    assert logged(row(gateway, "total-1"))[0][:3] == ("deepseek", 200, "timeout")


@pytest.mark.parametrize(
    ("model", "provider"), [("claude-sonnet-4", "anthropic"), ("gemini-2.5-flash", "gemini")]
)
def test_a_translated_stream_that_breaks_logs_the_events_its_client_got(
    gateway: Gateway, sim: Sim, model: str, provider: str
) -> None:
    # Anthropic's and Gemini's events become OpenAI ones (not one for one); the log counts what the client got.
    sim.app.ctx.faults.add(FaultRule(provider=provider, stream_reset_after=5))
    request_id = f"broken-{provider}"
    body = {"model": model, "messages": [{"role": "user", "content": "Tell me a long story"}], "stream": True}
    pairs = post_sse(
        f"{gateway.url}/v1/chat/completions", body, timeout=20, headers={"x-request-id": request_id}
    )
    events = [json.loads(data) for _, data in pairs]
    assert "error" in events[-1] and all("error" not in e for e in events[:-1])
    got = len(events) - 1
    assert got > 0
    logged_row = row(gateway, request_id)
    assert logged_row["status"] == "error" and logged_row["stream_broke_at"] == got
