"""Feedback + outcomes -> `tiergate tune` -> reload: the family the cheap model fails is routed higher."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from router.sim.config import sim_config
from tests.conftest import GatewayFactory, Sim, deep_merge
from tests.router.test_request_log import wait_rows

SHORT = "Tell me one fact about cats, number {i}."
LONG = (
    " ".join(["Explain carefully how the migration of the billing ledger should be staged"] * 5)
    + " case {i}."
)
POLICY = {
    "routing": {
        "tiers": {"simple": ["deepseek-v3"], "reasoning": ["deepseek-r1"], "hard": ["gpt-4o"]},
        "thresholds": {"hard": 0.9, "reasoning": 0.99},
    }
}


def tiergate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "router.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_tune_routes_failing_family_higher(
    make_gateway: GatewayFactory, sim: Sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERGATE_MASTER_KEY", "master-test-key")
    db = f"sqlite:///{tmp_path / 'loop.db'}"
    config_path = tmp_path / "tiergate.yaml"
    config = deep_merge(sim_config(sim.url, db), POLICY)
    config_path.write_text(yaml.safe_dump(config))
    gateway = make_gateway(overrides=POLICY, database_url=db)
    # The gateway reloads from its source file, as a served one would.
    gateway.server.app.state.gateway.settings = gateway.server.app.state.gateway.settings.__class__(
        **{
            **{f: getattr(gateway.settings, f) for f in gateway.settings.__struct_fields__},
            "source": str(config_path),
        }
    )
    # With a master key set, the gateway authenticates every call (router/keys): use it as the caller's key.
    client = gateway.client(api_key="master-test-key")
    prompts: dict[str, str] = {}
    for i in range(20):
        for family, template in (("short", SHORT), ("long", LONG)):
            request_id = f"{family}-{i}"
            prompts[request_id] = template.format(i=i)
            raw = client.chat.completions.with_raw_response.create(
                model="auto",
                messages=[{"role": "user", "content": prompts[request_id]}],
                extra_headers={"x-request-id": request_id},
            )
            assert raw.headers["x-tiergate-model"] == "deepseek-v3"
    # Week one's verdicts: the cheap model fails the long family; the strong one answers everything.
    for request_id in prompts:
        score = 0.0 if request_id.startswith("long") else 1.0
        assert (
            httpx.post(
                f"{gateway.url}/v1/feedback",
                json={"request_id": request_id, "score": score},
                headers={"authorization": "Bearer master-test-key"},
            ).status_code
            == 201
        )
    outcomes = tmp_path / "eval.jsonl"
    outcomes.write_text(
        "".join(json.dumps({"prompt": p, "scores": {"gpt-4o": 1.0}}) + "\n" for p in prompts.values())
    )
    wait_rows(gateway.engine, 40)
    imported = tiergate("outcomes", "import", str(outcomes), "--config", str(config_path))
    assert imported.returncode == 0, imported.stderr
    assert "imported 40 outcomes" in imported.stdout

    out = tmp_path / "policy.yaml"
    tuned = tiergate(
        "tune", "--config", str(config_path), "--target-quality", "0.95", "--out", str(out), "--apply"
    )
    assert tuned.returncode == 0, tuned.stdout + tuned.stderr
    assert "chosen:" in tuned.stdout and "interval" in tuned.stdout
    thresholds: dict[str, Any] = yaml.safe_load(out.read_text())["routing"]["thresholds"]
    assert 0.11 < thresholds["hard"] <= 0.175
    assert yaml.safe_load(config_path.read_text())["routing"]["thresholds"] == thresholds

    before = gateway.server.app.state.gateway.policy_version
    reloaded = httpx.post(f"{gateway.url}/admin/reload", headers={"authorization": "Bearer master-test-key"})
    assert reloaded.status_code == 200, reloaded.text
    assert reloaded.json()["previous_policy_version"] == before != reloaded.json()["policy_version"]
    # Week two: the long family now goes to the strong model, the short one stays cheap.
    long_raw = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": LONG.format(i=99)}],
        extra_headers={"x-request-id": "w2"},
    )
    short_raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": SHORT.format(i=99)}]
    )
    assert long_raw.headers["x-tiergate-model"] == "gpt-4o"
    assert short_raw.headers["x-tiergate-model"] == "deepseek-v3"
    rows = {r["id"]: r for r in wait_rows(gateway.engine, 42)}
    assert rows["w2"]["policy_version"] == reloaded.json()["policy_version"]


def test_reload_needs_master_key(make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    gateway = make_gateway()
    monkeypatch.delenv("TIERGATE_MASTER_KEY", raising=False)
    assert httpx.post(f"{gateway.url}/admin/reload").status_code == 403
    monkeypatch.setenv("TIERGATE_MASTER_KEY", "m")
    assert httpx.post(f"{gateway.url}/admin/reload").status_code == 401
    assert httpx.post(f"{gateway.url}/admin/reload", headers={"authorization": "Bearer x"}).status_code == 403


def test_outcome_file_errors_leave_table_unchanged(tmp_path: Path) -> None:
    from router.log.store import upgrade

    db = tmp_path / "o.db"
    upgrade(f"sqlite:///{db}")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "model": "m", "score": 1}\n{"prompt": "b", "model": "m", "score": 7}\n')
    result = subprocess.run(
        [sys.executable, "-m", "router.cli", "outcomes", "import", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"TIERGATE_DATABASE_URL": f"sqlite:///{db}", "PATH": "/usr/bin"},
    )
    assert result.returncode == 2 and f"{bad}:2" in result.stderr
    import sqlite3

    assert sqlite3.connect(db).execute("select count(*) from outcomes").fetchone() == (0,)
