"""Scenario 3: rate limits and overload. No attempt inside a Retry-After window (requests go elsewhere);
Anthropic's 529 is retried or fallen back; a quota 429 is tried exactly once; tiergate's own 429s say
`x-should-retry: false`."""

from __future__ import annotations

from router.errors import RateLimited, render_error
from router.sim.faults import FaultRule
from tests.conftest import GatewayFactory, Sim
from tests.reliability.load import finish, run_load
from tests.reliability.routing import SIMPLE_BODY, attempts_by_request, two_provider_gateway

RATE = 20
SECONDS = 6
WINDOW_S = 2.0


def test_rate_limits_and_overload(make_gateway: GatewayFactory, sim: Sim) -> None:
    faults = sim.app.ctx.faults
    # 1. 429 with Retry-After: 2 on every deepseek answer: deepseek sees one attempt per window.
    gateway = two_provider_gateway(make_gateway)
    faults.add(FaultRule(provider="deepseek", status=429, retry_after=WINDOW_S))
    url = f"{gateway.url}/v1/chat/completions"
    result = finish(run_load(url, rate=RATE, seconds=SECONDS, body=SIMPLE_BODY, prefix="s3a"))
    assert result.failures() == []
    limited = sorted(
        (a.at, a.ended_at or a.at)
        for a in faults.attempts
        if a.provider == "deepseek" and (a.request_id or "").startswith("s3a-")
    )
    # Each 429 opens a 2 s window (from when the gateway read it, just after the sim's `ended_at`).
    inside = [
        later
        for at, ended in limited
        for later, _ in limited
        if ended + 0.05 < later < ended + WINDOW_S - 0.01
    ]
    print(
        f"scenario 3: {len(limited)} deepseek attempts in {SECONDS} s under Retry-After {WINDOW_S}, {len(inside)} inside a window"
    )
    assert inside == []
    assert len(limited) <= SECONDS / WINDOW_S + 2

    # 2. Anthropic's 529 on half the answers: retried or fallen back, 0 client errors.
    faults.clear()
    gateway = make_gateway(overrides={"routing": {"tiers": {"hard": ["claude-sonnet-4", "gpt-4o"]}}})
    faults.add(FaultRule(provider="anthropic", status=529, rate=0.5))
    body = {**SIMPLE_BODY, "tiergate": {"tier": "hard"}}
    result = finish(
        run_load(f"{gateway.url}/v1/chat/completions", rate=RATE, seconds=SECONDS, body=body, prefix="s3b")
    )
    assert result.failures() == []
    overloaded = [a for a in faults.attempts if (a.request_id or "").startswith("s3b-") and a.status == 529]
    answered = attempts_by_request(sim, "s3b-")
    assert overloaded and all(answered[a.request_id or ""] >= 2 for a in overloaded)
    print(f"scenario 3: {len(overloaded)} 529s, all followed by another attempt, 0 client errors")

    # 3. A quota 429 (insufficient_quota): tried exactly once, then left alone for its cool-down.
    faults.clear()
    gateway = two_provider_gateway(make_gateway)
    faults.add(FaultRule(provider="deepseek", status=429, error_code="insufficient_quota"))
    result = finish(
        run_load(
            f"{gateway.url}/v1/chat/completions",
            rate=RATE,
            seconds=SECONDS / 2,
            body=SIMPLE_BODY,
            prefix="s3c",
        )
    )
    assert result.failures() == []
    quota = [
        a for a in faults.attempts if (a.request_id or "").startswith("s3c-") and a.provider == "deepseek"
    ]
    assert len(quota) == 1

    # 4. tiergate's own limits: official SDKs must not retry them.
    _, headers, _ = render_error(RateLimited("budget exhausted"))
    assert headers["x-should-retry"] == "false"
