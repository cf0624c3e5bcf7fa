"""What-if: re-price the logged requests under another policy or other thresholds.

Each logged `auto` request kept its classifier scores (`difficulty`, `reasoning`). Under the other policy the
same scores go through `router.policy`'s `tier_for_scores` and `candidates_for_tier`, and the first adequate
candidate is priced on the request's logged tokens (output length per the report's stated method). What the
log cannot tell (tools, vision, json_schema in the request) is taken as not needed; the stream flag is known.
Requests without scores (an explicit model), failed ones and cache hits keep their logged cost.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import yaml

from pricing.cost import ZERO, request_cost
from pricing.logrows import LogRow
from pricing.report import OutputMethod, baseline_tokens
from router.catalog import ModelIndex
from router.policy import Needs, candidates_for_tier, tier_for_scores
from router.settings import Settings


class PolicyError(ValueError):
    """The what-if policy file cannot be used; the message names the file and the reason."""


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_policy(path: Path, settings: Settings) -> Settings:
    """The current settings with the file laid over them. The file is a gateway config (its `routing`,
    and `models` if it adds any) or a bare `routing` section (`tiers`, `thresholds`)."""
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path}: cannot read: {exc}") from None
    if not isinstance(loaded, dict):
        raise PolicyError(f"{path}: the top level must be a mapping")
    overlay = loaded if "routing" in loaded or "models" in loaded else {"routing": loaded}
    raw = _merge(msgspec.to_builtins(settings), overlay)
    raw["source"] = str(path)
    try:
        changed = msgspec.convert(raw, Settings)
    except msgspec.ValidationError as exc:
        raise PolicyError(f"{path}: {exc}") from None
    index = ModelIndex(changed)
    for tier, names in changed.routing.tiers.items():
        for name in names:
            if index.resolve(name) is None:
                raise PolicyError(f"{path}: routing.tiers.{tier}: unknown model {name!r}")
    return changed


@dataclass
class WhatIf:
    policy_source: str
    thresholds: dict[str, float]
    rerouted: int = 0  # requests decided again from their scores
    moved: int = 0  # of those, requests that land on another model
    kept: int = 0  # requests that keep their logged cost
    actual: Decimal = ZERO  # logged spend of all requests
    projected: Decimal = ZERO  # spend under the other policy
    tiers_before: Counter[str] = field(default_factory=Counter)
    tiers_after: Counter[str] = field(default_factory=Counter)
    models_after: Counter[str] = field(default_factory=Counter)

    @property
    def change(self) -> Decimal:
        return self.projected - self.actual

    @property
    def change_pct(self) -> Decimal | None:
        return self.change / self.actual * 100 if self.actual else None


def reprice(rows: list[LogRow], settings: Settings, source: str, method: OutputMethod) -> WhatIf:
    index = ModelIndex(settings)
    routing = settings.routing
    result = WhatIf(source, {"hard": routing.thresholds.hard, "reasoning": routing.thresholds.reasoning})
    for row in rows:
        result.actual += row.cost_usd
        result.tiers_before[row.tier or "(none)"] += 1
        eligible = row.routed_by_scores and row.status == "ok" and not row.cache_hit
        if not eligible:
            result.kept += 1
            result.projected += row.cost_usd
            result.tiers_after[row.tier or "(none)"] += 1
            result.models_after[row.model or "(none)"] += 1
            continue
        assert row.difficulty is not None and row.reasoning is not None
        tier = tier_for_scores(row.difficulty, row.reasoning, routing.thresholds)
        needs = Needs(prompt_tokens=row.tokens.prompt_tokens, max_output=None, streaming=row.streamed)
        candidates = candidates_for_tier(index, routing, tier, needs)
        if not candidates:
            result.kept += 1
            result.projected += row.cost_usd
            result.tiers_after[row.tier or "(none)"] += 1
            result.models_after[row.model or "(none)"] += 1
            continue
        chosen = candidates[0]
        result.rerouted += 1
        if chosen.name == row.model:
            result.projected += row.cost_usd  # same model, same tokens: the logged cost stands
        else:
            result.moved += 1
            result.projected += request_cost(chosen.price, baseline_tokens(row.tokens, method))
        result.tiers_after[tier] += 1
        result.models_after[chosen.name] += 1
    return result
