"""Tier + request needs -> ordered adequate candidates. Pure: no I/O.

Until a classifier artifact is loaded, `placeholder_scores` decides `auto` from
cheap text markers; responses routed that way say `x-tiergate-router:
placeholder`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pricing.cost import tokens_cost
from router.catalog import TIER_RANK, Model, ModelIndex
from router.settings import RoutingConfig, Thresholds, Tier
from router.tokens import content_text, estimate_prompt_tokens
from router.wire.chat import ChatRequest


@dataclass(frozen=True, slots=True)
class Needs:
    prompt_tokens: int
    max_output: int | None
    tools: bool = False
    vision: bool = False
    json_schema: bool = False
    streaming: bool = False


def needs_of(request: ChatRequest, messages: list[dict[str, Any]]) -> Needs:
    vision = any(
        isinstance(m.get("content"), list)
        and any(isinstance(p, dict) and p.get("type") == "image_url" for p in m["content"])
        for m in messages
    )
    return Needs(
        prompt_tokens=estimate_prompt_tokens(messages),
        max_output=request.output_limit(),
        tools=bool(request.tools),
        vision=vision,
        json_schema=request.response_format is not None and request.response_format.type == "json_schema",
        streaming=bool(request.stream),
    )


def is_adequate(model: Model, needs: Needs) -> bool:
    config = model.config
    if model.supports("embeddings"):
        return False
    if needs.prompt_tokens + (needs.max_output or 0) > config.context_window:
        return False
    if needs.max_output is not None and needs.max_output > config.max_output:
        return False
    wanted = (
        ("tools", needs.tools),
        ("vision", needs.vision),
        ("json_schema", needs.json_schema),
        ("streaming", needs.streaming),
    )
    return all(model.supports(cap) for cap, needed in wanted if needed)


def expected_output(needs: Needs, routing: RoutingConfig, tier: Tier) -> int:
    """Output tokens expected for a request of `tier`: the tier's typical length, or less when the client
    capped it lower with max_tokens."""
    typical = routing.expected_output_tokens.get(tier, 500)
    return min(needs.max_output, typical) if needs.max_output else typical


def expected_cost(model: Model, needs: Needs, routing: RoutingConfig, tier: Tier) -> Decimal:
    return tokens_cost(model.price, needs.prompt_tokens, expected_output(needs, routing, tier))


def capped_cost(model: Model, needs: Needs, routing: RoutingConfig, tier: Tier) -> Decimal:
    """The figure a client's max cost is checked against: with max_tokens set it is a true upper bound
    (prompt estimate + the full max_tokens); without it, the tier's expected output."""
    output = needs.max_output or routing.expected_output_tokens.get(tier, 500)
    return tokens_cost(model.price, needs.prompt_tokens, output)


Health = Callable[[Model], int]


def candidates_for_tier(
    index: ModelIndex, routing: RoutingConfig, tier: Tier, needs: Needs, health: Health | None = None
) -> list[Model]:
    """Adequate models for `tier`. A configured list keeps its written order (or is sorted by cost with
    `routing.order: cost`); without one, every model whose tier is at least this one, cheapest expected
    cost first, then healthiest (`health`: 0 healthy, higher worse), then the higher tier."""
    configured = routing.tiers.get(tier)
    if configured:
        listed = [index.resolve(name) for name in configured]
        pool = [m for m in listed if m is not None and is_adequate(m, needs)]
        if routing.order == "listed":
            return pool
    else:
        pool = [
            m for m in index.models.values() if TIER_RANK[m.tier] >= TIER_RANK[tier] and is_adequate(m, needs)
        ]
    penalty: Health = health or _healthy
    pool.sort(key=lambda m: (expected_cost(m, needs, routing, tier), penalty(m), -TIER_RANK[m.tier], m.name))
    return pool


def _healthy(_: Model) -> int:
    return 0


def within_cost(
    candidates: list[Model], needs: Needs, routing: RoutingConfig, tier: Tier, cap: Decimal
) -> list[Model]:
    return [m for m in candidates if capped_cost(m, needs, routing, tier) <= cap]


def tier_for_scores(difficulty: float, reasoning: float, thresholds: Thresholds) -> Tier:
    if difficulty >= thresholds.hard:
        return "hard"
    if reasoning >= thresholds.reasoning:
        return "reasoning"
    return "simple"


_CODE = re.compile(r"```|\bdef |\bclass |\bfunction\b|\breturn\b|[{};]\s*$|\bSELECT\b|\bimport\b", re.M)
_MATH = re.compile(
    r"\d+\s*[-+*/^=]\s*\d+|\bprove\b|\bsolve\b|\bequation\b|\bintegral\b|\bprobability\b", re.I
)
_HARD = re.compile(r"\b(analy[sz]e|trade-?offs?|design|architecture|compare|evaluate|strategy)\b", re.I)


def placeholder_scores(messages: list[dict[str, Any]]) -> tuple[float, float]:
    """(difficulty, reasoning) from text markers. A stand-in used only when no classifier is loaded."""
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    text = content_text(last_user.get("content")) if last_user else ""
    words = len(text.split())
    reasoning = 0.2 + 0.4 * bool(_CODE.search(text)) + 0.4 * bool(_MATH.search(text))
    difficulty = min(1.0, 0.1 + 0.5 * bool(_HARD.search(text)) + min(words, 400) / 800)
    return difficulty, min(reasoning, 1.0)
