"""Shadow evaluation: verdicts from a reference and a judge become outcomes, within budget, off the path;
and the closed loop: shadow verdicts -> tune -> reload -> the failing family is routed higher and the
report's quality recovers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select

from router.feedback.schema import outcomes
from router.sim.config import sim_config
from router.sim.faults import FaultRule
from tests.conftest import Gateway, GatewayFactory, Sim, deep_merge

SHORT = "Tell me one fact about cats, number {i}."
LONG = (
    " ".join(["Explain carefully how the migration of the billing ledger should be staged"] * 5)
    + " case {i}."
)
POLICY: dict[str, Any] = {
    "routing": {
        "tiers": {"simple": ["deepseek-v3"], "reasoning": ["deepseek-r1"], "hard": ["gpt-4o"]},
        "thresholds": {"hard": 0.9, "reasoning": 0.99},
    },
    "shadow": {"fraction": 1.0, "reference": "gpt-4o", "judge": "gpt-4o", "daily_budget_usd": 1.0},
}


def shadow_stats(gateway: Gateway) -> dict[str, Any]:
    return httpx.get(f"{gateway.url}/ready", timeout=10).json()["checks"]["shadow"]  # type: ignore[no-any-return]


def wait_judged(gateway: Gateway, count: int, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    stats = shadow_stats(gateway)
    while time.monotonic() < deadline and stats["judged"] + stats["failed"] + stats["over_budget"] < count:
        time.sleep(0.2)
        stats = shadow_stats(gateway)
    return stats


def send(gateway: Gateway, prefix: str, n: int, api_key: str = "test-key") -> dict[str, str]:
    client = gateway.client(api_key=api_key)
    routed = {}
    for i in range(n):
        for family, template in (("short", SHORT), ("long", LONG)):
            request_id = f"{prefix}-{family}-{i}"
            raw = client.chat.completions.with_raw_response.create(
                model="auto",
                messages=[{"role": "user", "content": template.format(i=i)}],
                extra_headers={"x-request-id": request_id},
            )
            routed[request_id] = raw.headers["x-tiergate-model"]
    return routed


def tiergate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "router.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_shadow_verdicts_close_the_loop(
    make_gateway: GatewayFactory, sim: Sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERGATE_MASTER_KEY", "master-shadow")
    sim.app.ctx.faults.add(
        FaultRule(model="deepseek-chat", match="ledger", wrong=True)
    )  # the cheap model's weak spot
    db = f"sqlite:///{tmp_path / 'shadow.db'}"
    config_path = tmp_path / "tiergate.yaml"
    config_path.write_text(yaml.safe_dump(deep_merge(sim_config(sim.url, db), POLICY)))
    gateway = make_gateway(overrides=POLICY, database_url=db)
    state = gateway.server.app.state.gateway  # type: ignore[attr-defined]
    state.settings = type(state.settings)(
        **{
            **{f: getattr(state.settings, f) for f in state.settings.__struct_fields__},
            "source": str(config_path),
        }
    )
    auth = {"authorization": "Bearer master-shadow"}

    week1 = send(gateway, "w1", 15, "master-shadow")
    assert set(week1.values()) == {"deepseek-v3"}
    stats = wait_judged(gateway, 30)
    assert stats["judged"] == 30 and stats["failed"] == 0 and stats["dropped"] == 0
    # Each replay reached the sim as its own request: reference and judge, tagged with the routed request's id.
    seen = {a["request_id"] for a in sim.attempts()}
    assert "shadow-ref-w1-long-0" in seen and "shadow-judge-w1-long-0" in seen
    with gateway.engine.connect() as connection:
        verdicts = {
            r.request_id: r.score
            for r in connection.execute(select(outcomes).where(outcomes.c.source == "shadow"))
        }
        references = connection.execute(select(outcomes).where(outcomes.c.source == "shadow-reference")).all()
    assert (
        len(references) == 30
        and {r.model for r in references} == {"gpt-4o"}
        and references[0].request_id is None
    )
    assert all(abs(verdicts[f"w1-long-{i}"] - 1 / 9) < 1e-9 for i in range(15)), verdicts
    assert all(verdicts[f"w1-short-{i}"] == 1.0 for i in range(15))

    tuned = tiergate(
        "tune",
        "--config",
        str(config_path),
        "--target-quality",
        "0.95",
        "--out",
        str(tmp_path / "p.yaml"),
        "--apply",
    )
    assert tuned.returncode == 0, tuned.stdout + tuned.stderr
    assert httpx.post(f"{gateway.url}/admin/reload", headers=auth, timeout=10).status_code == 200

    week2_start = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    week2 = send(gateway, "w2", 15, "master-shadow")
    assert {week2[f"w2-long-{i}"] for i in range(15)} == {"gpt-4o"}
    assert {week2[f"w2-short-{i}"] for i in range(15)} == {"deepseek-v3"}
    stats = wait_judged(gateway, 45)  # only the short family is replayed: gpt-4o is the reference itself
    assert stats["judged"] == 45
    time.sleep(0.6)  # the request log writer flushes every 0.25 s

    def report(*extra: str) -> dict[str, Any]:
        result = tiergate("report", "--config", str(config_path), "--format", "json", *extra)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)  # type: ignore[no-any-return]

    first, second = report(), report("--since", week2_start)
    assert json.dumps(first).count("quality") and json.dumps(second).count("quality")
    q1, q2 = _total_quality(first), _total_quality(second)
    assert q1 is not None and q2 is not None and q2 > q1 + 0.2, (q1, q2)


def _total_quality(report: dict[str, Any]) -> float | None:
    total = report.get("total") or report.get("totals") or {}
    value = total.get("quality")
    return float(value) if value is not None else None


def test_shadow_never_exceeds_its_budget(make_gateway: GatewayFactory, sim: Sim) -> None:
    policy = deep_merge(POLICY, {"shadow": {"daily_budget_usd": 0.00001}})
    gateway = make_gateway(overrides=policy)
    send(gateway, "b", 3)
    stats = wait_judged(gateway, 6)
    assert stats["judged"] == 0 and stats["over_budget"] == 6 and stats["spent_today_usd"] == 0
    assert not [a for a in sim.attempts() if str(a["request_id"]).startswith("shadow-ref-b-")]


def test_structured_outputs_judged_by_exact_match(make_gateway: GatewayFactory) -> None:
    policy = deep_merge(POLICY, {"shadow": {"judge": None}})
    gateway = make_gateway(overrides=policy)
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    gateway.client().chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "a number please"}],
        response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": schema}},
        extra_headers={"x-request-id": "structured-1"},
    )
    gateway.client().chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "free text"}]
    )
    stats = wait_judged(gateway, 1)
    assert stats["judged"] == 1 and stats["offered"] == 2
    with gateway.engine.connect() as connection:
        (row,) = connection.execute(select(outcomes).where(outcomes.c.source == "shadow")).all()
    assert row.request_id == "structured-1" and row.score == 1.0
