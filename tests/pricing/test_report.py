"""`tiergate report` on a log made by driving the sim through the gateway, checked number by number against
the rows (the expected figures below are computed from the rows by hand formulas, not by pricing/)."""

from __future__ import annotations

import csv
import io
import json
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import insert

from router.cli import main
from router.log.schema import requests
from router.tokens import estimate_prompt_tokens
from tests.conftest import Gateway, GatewayFactory, Sim
from tests.pricing.workload import NO_USAGE_PROMPT, Logged, drive, wait_rows

M = Decimal(1_000_000)
# gpt-4o, the sim config's baseline: $2.50 in, $1.25 cached in, $10.00 out per 1M; no separate reasoning rate.
GPT_4O = (Decimal("2.5"), Decimal("1.25"), Decimal("10"))
PRICES = {  # model -> (in, out) per 1M, from the sim config
    "gpt-4o": (Decimal("2.5"), Decimal("10")),
    "deepseek-v3": (Decimal("0.27"), Decimal("1.10")),
    "deepseek-r1": (Decimal("0.55"), Decimal("2.19")),
}


def gpt_4o_cost(row: dict[str, Any], completion: int | None = None) -> Decimal:
    inp, cached_in, out = GPT_4O
    cached = row["cached_tokens"]
    done = row["completion_tokens"] if completion is None else completion
    return ((row["prompt_tokens"] - cached) * inp + cached * cached_in + done * out) / M


def run_report(capsys: pytest.CaptureFixture[str], logged: Logged, *extra: str) -> str:
    capsys.readouterr()
    assert main(["report", "--config", str(logged.config), *extra]) == 0
    return capsys.readouterr().out


@pytest.fixture
def logged(gateway: Gateway, sim: Sim, tmp_path: Path) -> Logged:
    return drive(gateway, sim, tmp_path)


def test_rows_are_what_the_report_is_checked_against(logged: Logged) -> None:
    rows = {r["id"]: r for r in logged.rows}
    assert len(rows) == 10
    assert rows["bad"]["status"] == "error" and rows["bad"]["prompt_tokens"] == 0
    assert {rows[i]["tier"] for i in ("s1", "r1", "h1")} == {"simple", "reasoning", "hard"}
    for row in rows.values():
        if row["status"] != "ok":
            continue
        inp, out = PRICES[row["model"]]
        expected = (row["prompt_tokens"] * inp + row["completion_tokens"] * out) / M
        assert Decimal(row["cost_usd"]) == expected, row["id"]
    # The stream without usage: counted locally, marked estimated, priced on the routed model.
    nu = rows["nu"]
    assert nu["cost_estimated"] is True and nu["model"] == "deepseek-v3"
    assert nu["prompt_tokens"] == estimate_prompt_tokens([{"role": "user", "content": NO_USAGE_PROMPT}])
    assert nu["completion_tokens"] == len(logged.no_usage_text) // 4 > 0
    assert all(r["cost_estimated"] is False for r in rows.values() if r["id"] != "nu")


def test_json_report_matches_the_rows(logged: Logged, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(run_report(capsys, logged, "--format", "json", "--group-by", "tier"))
    assert data["baseline"]["model"] == "gpt-4o" and data["baseline"]["output_method"] == "same"
    assert "as many completion tokens as the routed model" in data["baseline"]["output_method_text"]
    expected: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"requests": 0, "errors": 0, "estimated": 0, "spend": Decimal(0), "baseline": Decimal(0)}
    )
    for row in logged.rows:
        for name in (row["tier"] or "(none)", "total"):
            group = expected[name]
            group["requests"] += 1
            group["errors"] += row["status"] != "ok"
            group["estimated"] += row["cost_estimated"]
            group["spend"] += Decimal(row["cost_usd"])
            group["baseline"] += gpt_4o_cost(row)
    reported = {g["name"]: g for g in [*data["groups"], data["total"]]}
    assert set(reported) == set(expected)
    for name, want in expected.items():
        got = reported[name]
        assert got["requests"] == want["requests"] and got["errors"] == want["errors"], name
        assert got["cost_estimated"] == want["estimated"], name
        assert Decimal(got["spend_usd"]) == want["spend"], name
        assert Decimal(got["baseline_usd"]) == want["baseline"], name
        assert Decimal(got["saved_usd"]) == want["baseline"] - want["spend"], name
        pct = (want["baseline"] - want["spend"]) / want["baseline"] * 100
        assert got["saved_pct"] == f"{pct:.2f}", name
    # The hard tier went to gpt-4o itself: no saving there; the other tiers are cheaper.
    assert Decimal(reported["hard"]["saved_usd"]) == 0
    assert Decimal(reported["simple"]["saved_usd"]) > 0 and Decimal(reported["reasoning"]["saved_usd"]) > 0
    assert data["quality"]["source"] is None and "No quality figures" in data["quality"]["note"]


def test_visible_output_method_drops_reasoning_tokens(
    logged: Logged, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(run_report(capsys, logged, "--format", "json", "--baseline-output", "visible"))
    assert data["baseline"]["output_method"] == "visible"
    want = sum(
        (gpt_4o_cost(r, r["completion_tokens"] - r["reasoning_tokens"]) for r in logged.rows), Decimal(0)
    )
    assert any(r["reasoning_tokens"] for r in logged.rows)
    assert Decimal(data["total"]["baseline_usd"]) == want


def test_group_by_model_day_key_and_other_baseline(
    logged: Logged, capsys: pytest.CaptureFixture[str]
) -> None:
    by_model = json.loads(run_report(capsys, logged, "--format", "json", "--group-by", "model"))
    counts = {g["name"]: g["requests"] for g in by_model["groups"]}
    assert counts == {
        m: sum(1 for r in logged.rows if (r["model"] or "(none)") == m)
        for m in {r["model"] or "(none)" for r in logged.rows}
    }
    by_day = json.loads(run_report(capsys, logged, "--format", "json", "--group-by", "day", "--since", "1d"))
    assert [g["requests"] for g in by_day["groups"]] == [10]
    by_key = json.loads(run_report(capsys, logged, "--format", "json", "--group-by", "key"))
    assert [g["name"] for g in by_key["groups"]] == ["(none)"]
    # A baseline from the catalog, not the config: Claude Sonnet 4.5 at $3/$15 ($0.30 cached).
    other = json.loads(run_report(capsys, logged, "--format", "json", "--baseline", "claude-sonnet-4-5"))
    want = sum(
        (
            (
                (r["prompt_tokens"] - r["cached_tokens"]) * 3
                + r["cached_tokens"] * Decimal("0.3")
                + r["completion_tokens"] * 15
            )
            / M
            for r in logged.rows
        ),
        Decimal(0),
    )
    assert Decimal(other["total"]["baseline_usd"]) == want
    future = json.loads(run_report(capsys, logged, "--format", "json", "--since", "2999-01-01"))
    assert future["total"]["requests"] == 0 and future["total"]["saved_pct"] is None


def test_table_and_csv_state_the_method(logged: Logged, capsys: pytest.CaptureFixture[str]) -> None:
    table = run_report(capsys, logged)
    assert "baseline output length: same" in table and "all requests on gpt-4o" in table
    assert "1 request(s) had no provider usage" in table
    text = run_report(capsys, logged, "--format", "csv", "--group-by", "model")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[-1]["group_by"] == "total" and int(rows[-1]["requests"]) == 10
    assert all(
        r["baseline_model"] == "gpt-4o" and r["baseline_output_method"].startswith("same:") for r in rows
    )
    total = json.loads(run_report(capsys, logged, "--format", "json"))["total"]
    assert Decimal(rows[-1]["spend_usd"]) == Decimal(total["spend_usd"])
    assert sum(Decimal(r["baseline_usd"]) for r in rows[:-1]) == Decimal(total["baseline_usd"])


def test_cache_hits_count_as_savings(logged: Logged, capsys: pytest.CaptureFixture[str]) -> None:
    before = json.loads(run_report(capsys, logged, "--format", "json"))["total"]
    source = next(r for r in logged.rows if r["id"] == "s1")
    hit = {
        **source,
        "id": "hit",
        "cost_usd": Decimal(0),
        "cost_saved_usd": source["cost_usd"],
        "cache_hit": True,
    }
    bare = {**hit, "id": "hit-bare", "prompt_tokens": 0, "completion_tokens": 0}
    with logged.gateway.engine.begin() as connection:
        connection.execute(insert(requests), [hit, bare])
    after = json.loads(run_report(capsys, logged, "--format", "json"))["total"]
    assert after["cache_hits"] == 2 and Decimal(after["spend_usd"]) == Decimal(before["spend_usd"])
    # A hit with tokens is priced on the baseline like any request; one without tokens at what it saved.
    gained = gpt_4o_cost(source) + Decimal(source["cost_usd"])
    assert Decimal(after["saved_usd"]) - Decimal(before["saved_usd"]) == gained
    assert Decimal(after["cache_saved_usd"]) == gained


def test_quality_from_feedback(logged: Logged, capsys: pytest.CaptureFixture[str]) -> None:
    for request_id, score in (("s1", 1.0), ("s2", 0.0), ("h1", 1.0)):
        response = httpx.post(
            f"{logged.gateway.url}/v1/feedback", json={"request_id": request_id, "score": score}, timeout=10
        )
        assert response.status_code < 300, response.text
    deadline = time.monotonic() + 15
    data: dict[str, Any] = {}
    while time.monotonic() < deadline:
        data = json.loads(run_report(capsys, logged, "--format", "json"))
        if data["total"]["quality_n"] == 3:
            break
        time.sleep(0.2)
    groups = {g["name"]: g for g in data["groups"]}
    assert data["quality"]["source"] == "feedback.score"
    assert groups["simple"]["quality"] == 0.5 and groups["simple"]["quality_n"] == 2
    assert groups["hard"]["quality"] == 1.0 and groups["reasoning"]["quality"] is None
    assert "quality" in run_report(capsys, logged)


def test_what_if_reprices_from_stored_scores(
    logged: Logged, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    same = tmp_path / "same.yaml"
    same.write_text(yaml.safe_dump({"routing": {"thresholds": {"hard": 0.5, "reasoning": 0.5}}}))
    data = json.loads(run_report(capsys, logged, "--format", "json", "--policy", str(same)))
    assert data["whatif"]["moved"] == 0
    assert Decimal(data["whatif"]["projected_usd"]) == Decimal(data["whatif"]["spend_usd"])

    everything_hard = tmp_path / "hard.yaml"
    everything_hard.write_text(yaml.safe_dump({"thresholds": {"hard": 0.0}}))  # a bare routing section
    data = json.loads(run_report(capsys, logged, "--format", "json", "--policy", str(everything_hard)))
    whatif = data["whatif"]
    want = Decimal(0)
    rerouted = moved = 0
    for row in logged.rows:
        scored = row["difficulty"] is not None and row["status"] == "ok"
        rerouted += scored
        if scored and row["model"] != "gpt-4o":
            moved += 1
            want += gpt_4o_cost(row)
        else:
            want += Decimal(row["cost_usd"])
    assert (whatif["rerouted"], whatif["moved"], whatif["kept"]) == (rerouted, moved, 10 - rerouted)
    assert Decimal(whatif["projected_usd"]) == want
    assert whatif["tiers_after"]["hard"] == rerouted + sum(
        1 for r in logged.rows if r["tier"] == "hard" and r["difficulty"] is None
    )
    assert "what-if under" in run_report(capsys, logged, "--policy", str(everything_hard))

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"tiers": {"simple": ["no-such-model"]}}))
    assert main(["report", "--config", str(logged.config), "--policy", str(bad)]) == 2
    assert "unknown model 'no-such-model'" in capsys.readouterr().err


def test_report_errors_are_plain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "empty.yaml"
    config.write_text(yaml.safe_dump({"database_url": f"sqlite:///{tmp_path / 'none.db'}"}))
    assert main(["report", "--config", str(config)]) == 2
    assert "no request log" in capsys.readouterr().err
    assert main(["report", "--config", str(config), "--since", "yesterday"]) == 2
    assert "--since 'yesterday'" in capsys.readouterr().err
    assert main(["report", "--config", str(config), "--baseline", "nonexistent-model-x"]) == 2
    assert "nonexistent-model-x" in capsys.readouterr().err


def test_report_on_postgres(
    make_gateway: GatewayFactory,
    postgres_url: str,
    sim: Sim,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    logged = drive(make_gateway(database_url=postgres_url), sim, tmp_path)
    data = json.loads(run_report(capsys, logged, "--format", "json"))
    assert data["total"]["requests"] == 10
    assert Decimal(data["total"]["spend_usd"]) == sum(
        (Decimal(r["cost_usd"]) for r in logged.rows), Decimal(0)
    )
    assert Decimal(data["total"]["baseline_usd"]) == sum((gpt_4o_cost(r) for r in logged.rows), Decimal(0))


def test_cache_writes_are_repriced_on_the_baseline(
    logged: Logged, capsys: pytest.CaptureFixture[str]
) -> None:
    """An Anthropic-style row with 1000 cache-write tokens: gpt-4o has no write rate, so they cost its input
    rate, 1000 x $2.50 per 1M = $0.0025 on top of the row's other tokens."""
    assert all(r["cache_creation_tokens"] == 0 for r in logged.rows)
    before = json.loads(run_report(capsys, logged, "--format", "json"))["total"]
    source = next(r for r in logged.rows if r["id"] == "h1")
    with logged.gateway.engine.begin() as connection:
        connection.execute(insert(requests), [{**source, "id": "write", "cache_creation_tokens": 1000}])
    after = json.loads(run_report(capsys, logged, "--format", "json"))["total"]
    added = Decimal(after["baseline_usd"]) - Decimal(before["baseline_usd"])
    assert added == gpt_4o_cost(source) + Decimal("0.0025")


def test_real_cache_hits_from_the_gateway_count_as_savings(
    make_gateway: GatewayFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The gateway's response cache answers the second identical request for free: the report prices the
    hit on the baseline like any request (all saved) and names it in cache_saved."""
    gateway = make_gateway(overrides={"keys": {"cache": {"enabled": True}}})
    body = {
        "model": "deepseek-v3",
        "messages": [{"role": "user", "content": "What does a cache do?"}],
        "temperature": 0,
    }
    first = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=20)
    second = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=20)
    assert second.headers["x-tiergate-cache"] == "hit" and first.status_code == 200
    rows = sorted(wait_rows(gateway.engine, 2), key=lambda r: r["cache_hit"])
    miss, hit = rows
    assert hit["cache_hit"] is True and Decimal(hit["cost_usd"]) == 0
    assert Decimal(hit["cost_saved_usd"]) == Decimal(miss["cost_usd"]) > 0
    config = tmp_path / "cache.yaml"
    config.write_text(yaml.safe_dump({"database_url": gateway.settings.database_url}))
    assert main(["report", "--config", str(config), "--format", "json"]) == 0
    total = json.loads(capsys.readouterr().out)["total"]
    assert total["cache_hits"] == 1
    assert Decimal(total["spend_usd"]) == Decimal(miss["cost_usd"])
    assert Decimal(total["cache_saved_usd"]) == gpt_4o_cost(hit)
    assert Decimal(total["saved_usd"]) == gpt_4o_cost(miss) + gpt_4o_cost(hit) - Decimal(miss["cost_usd"])
