"""Scenario 14: the response cache never crosses scopes, and never keeps a failed or partial answer.

Keys in different scopes asking the same thing each reach the provider; keys sharing a scope share the
answer. A stream that broke (error event or reset after a few chunks), a stream the client abandoned,
and a request that failed are not cached: asking again reaches the provider again.
"""

from __future__ import annotations

import httpx
import pytest

from router.sim.faults import FaultRule
from tests.conftest import GatewayFactory, Sim
from tests.keys.conftest import MASTER, chat, create_key


def _stream_lines(url: str, secret: str, content: str, keep: int | None = None) -> tuple[str, list[str]]:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], "stream": True}
    headers = {"Authorization": f"Bearer {secret}"}
    lines: list[str] = []
    with httpx.stream(
        "POST", f"{url}/v1/chat/completions", json=body, headers=headers, timeout=20
    ) as response:
        request_id = response.headers["x-request-id"]
        cache = response.headers.get("x-tiergate-cache", "miss")
        try:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    lines.append(line)
                if keep is not None and len(lines) >= keep:
                    break  # the client walks away mid-stream
        except httpx.HTTPError:
            pass
    return f"{cache}:{request_id}", lines


def test_cache_scopes_and_failed_streams(
    make_gateway: GatewayFactory, sim: Sim, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERGATE_MASTER_KEY", MASTER)
    gateway = make_gateway(overrides={"keys": {"cache": {"enabled": True}}})
    team_a = create_key(gateway.url, name="a1", scope="team-a")["key"]
    team_a2 = create_key(gateway.url, name="a2", scope="team-a")["key"]
    team_b = create_key(gateway.url, name="b1", scope="team-b")["key"]
    unscoped = create_key(gateway.url, name="solo")["key"]

    prompt = "What is our internal roadmap?"
    answers = {
        name: chat(gateway.url, secret, prompt)
        for name, secret in (("a1", team_a), ("b1", team_b), ("solo", unscoped), ("a2", team_a2))
    }
    crossed = [name for name in ("b1", "solo") if answers[name].headers.get("x-tiergate-cache") == "hit"]
    assert crossed == []
    assert answers["a2"].headers.get("x-tiergate-cache") == "hit"
    for name in ("b1", "solo"):
        assert sim.attempts(answers[name].headers["x-request-id"]) != []

    partial: dict[str, tuple[str, str]] = {}
    # chunk_ms: the chunks arrive apart, so the client has text before the break (no silent retry).
    sim.app.ctx.faults.add(FaultRule(match="broken-event", stream_error_after=3, times=1, chunk_ms=30))
    sim.app.ctx.faults.add(FaultRule(match="broken-reset", stream_reset_after=2, times=1, chunk_ms=30))
    for fault in ("broken-event", "broken-reset"):
        first, lines = _stream_lines(gateway.url, team_a, f"tell me a story {fault}")
        assert lines and lines[-1] != "data: [DONE]"
        second, _ = _stream_lines(gateway.url, team_a, f"tell me a story {fault}")
        partial[fault] = (first, second)
    sim.app.ctx.faults.add(FaultRule(match="abandoned", chunk_ms=100, times=1))  # slow enough to leave
    _, lines = _stream_lines(gateway.url, team_a, "tell me a story abandoned", keep=2)
    after_abandon, _ = _stream_lines(gateway.url, team_a, "tell me a story abandoned")

    sim.app.ctx.faults.add(FaultRule(match="failing-request", status=400, times=1))
    failed = chat(gateway.url, team_a, "failing-request please")
    retried = chat(gateway.url, team_a, "failing-request please")

    for fault, (_, second) in partial.items():
        assert second.startswith("miss:"), fault
        assert sim.attempts(second.split(":", 1)[1]) != [], fault
    assert len(lines) == 2 and after_abandon.startswith("miss:")
    assert failed.status_code == 400
    assert retried.status_code == 200 and "x-tiergate-cache" not in retried.headers
    print("scenario 14: 0 cross-scope hits of 2; 0 cached failed/partial answers of 4")
