"""The policy picks the cheapest adequate model for each need, and ranks by expected cost, then health."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from router.catalog import ModelIndex
from router.policy import Needs, candidates_for_tier, expected_cost
from router.settings import RoutingConfig, Settings, Tier


def _model(tier: str, inp: float, out: float, caps: list[str], context: int = 32_000) -> dict[str, Any]:
    return {
        "provider": "p",
        "upstream": "u",
        "tier": tier,
        "input_per_mtok": inp,
        "output_per_mtok": out,
        "context_window": context,
        "max_output": 4096,
        "capabilities": caps,
    }


MODELS = {
    "bare": _model("simple", 0.05, 0.10, []),  # cheapest of all, but cannot even stream
    "plain": _model("simple", 0.10, 0.20, ["streaming"]),
    "tooled": _model("simple", 0.20, 0.40, ["streaming", "tools"]),
    "json": _model("simple", 0.25, 0.50, ["streaming", "json_schema"]),
    "seeing": _model("simple", 0.30, 0.60, ["streaming", "vision"]),
    "everything": _model("simple", 2.0, 4.0, ["streaming", "tools", "vision", "json_schema"], 400_000),
    "thinker": _model("reasoning", 0.50, 1.00, ["streaming", "tools"]),
    "heavy": _model("hard", 3.0, 15.0, ["streaming", "tools", "vision", "json_schema"], 200_000),
}


def _index(models: dict[str, Any] = MODELS) -> tuple[ModelIndex, RoutingConfig]:
    settings = msgspec.convert(
        {"providers": {"p": {"base_url": "http://127.0.0.1:1/v1"}}, "models": models}, Settings
    )
    return ModelIndex(settings), settings.routing


@pytest.mark.parametrize(
    ("needs", "tier", "expected"),
    [
        (Needs(100, None), "simple", "bare"),
        (Needs(100, None, streaming=True), "simple", "plain"),
        (Needs(100, None, tools=True), "simple", "tooled"),
        (Needs(100, None, json_schema=True), "simple", "json"),
        (Needs(100, None, vision=True), "simple", "seeing"),
        (Needs(100, None, tools=True, vision=True), "simple", "everything"),
        (Needs(100, None, tools=True, json_schema=True, streaming=True), "simple", "everything"),
        # Context window: prompt + max output must fit; only the 400k model takes a 100k prompt.
        (Needs(100_000, 1000), "simple", "everything"),
        (Needs(31_500, 1000, streaming=True), "simple", "everything"),
        (Needs(30_000, 1000, streaming=True), "simple", "plain"),
        # Tier floor: a reasoning request never goes to a simple model, a hard one only to `heavy`.
        (Needs(100, None, tools=True), "reasoning", "thinker"),
        (Needs(100, None), "hard", "heavy"),
        # Max output above every simple model's 4096 limit is not adequate anywhere.
        (Needs(100, 5000), "simple", None),
    ],
)
def test_cheapest_adequate_for_each_constraint(needs: Needs, tier: Tier, expected: str | None) -> None:
    index, routing = _index()
    chosen = candidates_for_tier(index, routing, tier, needs)
    assert (chosen[0].name if chosen else None) == expected
    costs = [expected_cost(m, needs, routing, tier) for m in chosen]
    assert costs == sorted(costs)  # the fallbacks follow in cost order too


def test_expected_cost_weighs_prompt_against_expected_output() -> None:
    models = {
        "cheap_in": _model("reasoning", 0.10, 2.00, ["streaming"], 200_000),
        "cheap_out": _model("reasoning", 1.00, 0.20, ["streaming"], 200_000),
    }
    index, routing = _index(models)

    def first(tier: Tier, needs: Needs) -> str:
        return candidates_for_tier(index, routing, tier, needs)[0].name

    assert first("reasoning", Needs(50_000, None)) == "cheap_in"  # a long prompt: input price dominates
    assert first("reasoning", Needs(20, None)) == "cheap_out"  # a short one: output price dominates
    # The same 1,000-token prompt: a simple request expects 150 output tokens, a reasoning one 600.
    assert first("simple", Needs(1000, None)) == "cheap_in"
    assert first("reasoning", Needs(1000, None)) == "cheap_out"
    assert first("reasoning", Needs(1000, 100)) == "cheap_in"  # max_tokens=100 caps the expectation


def test_equal_cost_goes_to_the_healthier() -> None:
    models = {"a": _model("simple", 0.1, 0.2, []), "b": _model("simple", 0.1, 0.2, [])}
    index, routing = _index(models)
    assert [m.name for m in candidates_for_tier(index, routing, "simple", Needs(10, None))] == ["a", "b"]
    sick = {"a": 2, "b": 0}
    ranked = candidates_for_tier(index, routing, "simple", Needs(10, None), lambda m: sick[m.name])
    assert [m.name for m in ranked] == ["b", "a"]


def test_configured_list_keeps_its_order_unless_sorted_by_cost() -> None:
    index, _ = _index()
    listed = RoutingConfig(tiers={"simple": ["tooled", "plain", "seeing"]})
    names = [m.name for m in candidates_for_tier(index, listed, "simple", Needs(10, None, vision=True))]
    assert names == ["seeing"]  # only adequate ones survive
    names = [m.name for m in candidates_for_tier(index, listed, "simple", Needs(10, None))]
    assert names == ["tooled", "plain", "seeing"]
    by_cost = RoutingConfig(tiers={"simple": ["tooled", "plain", "seeing"]}, order="cost")
    names = [m.name for m in candidates_for_tier(index, by_cost, "simple", Needs(10, None))]
    assert names == ["plain", "tooled", "seeing"]
