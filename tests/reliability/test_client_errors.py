"""Scenario 4: a provider's 400/401/404/422 is one attempt, OpenAI's error format, no fallback."""

from __future__ import annotations

import json

from router.sim.faults import FaultRule
from tests.conftest import GatewayFactory, Sim
from tests.openapi_schema import validate
from tests.reliability.load import finish, run_load
from tests.reliability.routing import SIMPLE_BODY, attempts_by_request, two_provider_gateway

RATE = 20
SECONDS = 2


def test_client_errors_are_final(make_gateway: GatewayFactory, sim: Sim) -> None:
    gateway = two_provider_gateway(make_gateway)
    for status, seen in ((400, 400), (401, 502), (404, 404), (422, 422)):
        sim.app.ctx.faults.clear()
        sim.app.ctx.faults.add(FaultRule(provider="deepseek", status=status))
        prefix = f"s4-{status}"
        result = finish(
            run_load(
                f"{gateway.url}/v1/chat/completions",
                rate=RATE,
                seconds=SECONDS,
                body=SIMPLE_BODY,
                prefix=prefix,
            )
        )
        assert {r["status"] for r in result.results} == {seen}
        per_request = attempts_by_request(sim, prefix + "-")
        assert len(per_request) == RATE * SECONDS and set(per_request.values()) == {1}
        providers = {
            a.provider for a in sim.app.ctx.faults.attempts if (a.request_id or "").startswith(prefix)
        }
        assert providers == {"deepseek"}  # no fallback
        validate(json.loads(result.results[0]["error"]), "ErrorResponse")
