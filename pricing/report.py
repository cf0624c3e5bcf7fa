"""The savings report: what the logged requests cost against what the baseline model alone would have cost.

Actual spend is the logged `cost_usd` of each request (exact, as billed from the provider's usage; rows marked
`cost_estimated` were counted locally). The baseline is computed per request from its logged tokens at the
baseline model's prices, so the figures add up row by row. The baseline's output length is an estimate and
every output format states which one (`OUTPUT_METHODS`). Cache hits cost nothing and are priced on the
baseline like any other request, so what the cache avoided counts as savings; `cache_saved` is that part.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pricing.cost import ZERO, Price, Tokens, request_cost
from pricing.logrows import LogRow
from pricing.quality import QualityScores

GroupBy = Literal["tier", "model", "day", "key"]
GROUP_BYS: tuple[GroupBy, ...] = ("tier", "model", "day", "key")
OutputMethod = Literal["same", "visible"]

OUTPUT_METHODS: dict[OutputMethod, str] = {
    "same": (
        "the baseline is assumed to write as many completion tokens as the routed model did "
        "(reasoning tokens included, priced at the baseline's reasoning rate); prompt and cached "
        "prompt tokens are the logged ones"
    ),
    "visible": (
        "the baseline is assumed to write only the routed model's visible answer tokens "
        "(completion minus reasoning tokens: a non-reasoning baseline does not think aloud); "
        "prompt and cached prompt tokens are the logged ones"
    ),
}


def baseline_tokens(tokens: Tokens, method: OutputMethod) -> Tokens:
    if method == "visible":
        visible = max(tokens.completion_tokens - tokens.reasoning_tokens, 0)
        return Tokens(tokens.prompt_tokens, visible, tokens.cached_tokens, 0, tokens.cache_creation_tokens)
    return tokens


def _has_tokens(tokens: Tokens) -> bool:
    return tokens.prompt_tokens > 0 or tokens.completion_tokens > 0


def baseline_cost(row: LogRow, price: Price, method: OutputMethod) -> Decimal:
    if row.cache_hit and not _has_tokens(row.tokens):
        # A cache hit logged without tokens: the cost it avoided on the routed model is all we know.
        return row.cost_saved_usd
    return request_cost(price, baseline_tokens(row.tokens, method))


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile: an observed value, no interpolation."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(len(ordered) * share))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Group:
    name: str
    requests: int = 0
    ok: int = 0
    errors: int = 0
    cache_hits: int = 0
    estimated: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    actual: Decimal = ZERO
    baseline: Decimal = ZERO
    cache_saved: Decimal = ZERO
    latencies: list[float] = field(default_factory=list, repr=False)
    quality_sum: float = 0.0
    quality_n: int = 0

    @property
    def saved(self) -> Decimal:
        return self.baseline - self.actual

    @property
    def saved_pct(self) -> Decimal | None:
        return self.saved / self.baseline * 100 if self.baseline else None

    @property
    def quality(self) -> float | None:
        return self.quality_sum / self.quality_n if self.quality_n else None

    @property
    def p50_ms(self) -> float | None:
        return percentile(self.latencies, 0.5)

    @property
    def p95_ms(self) -> float | None:
        return percentile(self.latencies, 0.95)

    def add(self, row: LogRow, base: Decimal, quality: float | None) -> None:
        self.requests += 1
        if row.status == "ok":
            self.ok += 1
            if row.latency_ms is not None and not row.cache_hit:
                self.latencies.append(row.latency_ms)
        else:
            self.errors += 1
        self.cache_hits += row.cache_hit
        self.estimated += row.cost_estimated
        self.prompt_tokens += row.tokens.prompt_tokens
        self.completion_tokens += row.tokens.completion_tokens
        self.actual += row.cost_usd
        self.baseline += base
        if row.cache_hit:
            self.cache_saved += base
        if quality is not None:
            self.quality_sum += quality
            self.quality_n += 1


def group_key(row: LogRow, group_by: GroupBy) -> str:
    if group_by == "day":
        return row.created_at.date().isoformat()
    value = {"tier": row.tier, "model": row.model, "key": row.key_id}[group_by]
    return value or "(none)"


@dataclass
class TimePoint:
    at: datetime
    actual: Decimal  # cumulative
    baseline: Decimal  # cumulative


@dataclass
class Report:
    baseline_model: str
    baseline_price: Price
    method: OutputMethod
    group_by: GroupBy
    since: datetime | None
    total: Group
    groups: list[Group]
    by_tier: list[Group]
    by_model: list[Group]
    timeline: list[TimePoint]
    quality_source: str | None
    first: datetime | None
    last: datetime | None
    whatif: object | None = None  # pricing.whatif.WhatIf, attached by the caller

    @property
    def method_text(self) -> str:
        return OUTPUT_METHODS[self.method]

    @property
    def quality_note(self) -> str:
        if self.quality_source is None:
            return "No quality figures: no feedback or outcome is recorded for these requests"
        return f"Quality = mean of {self.quality_source} over the requests that have one (0..1)"


def _grouped(
    rows: Iterable[tuple[LogRow, Decimal, float | None]], key: Callable[[LogRow], str]
) -> list[Group]:
    groups: dict[str, Group] = {}
    for row, base, quality in rows:
        name = key(row)
        groups.setdefault(name, Group(name)).add(row, base, quality)
    return list(groups.values())


def build_report(
    rows: list[LogRow],
    baseline_model: str,
    baseline_price: Price,
    group_by: GroupBy = "tier",
    method: OutputMethod = "same",
    since: datetime | None = None,
    quality: QualityScores | None = None,
) -> Report:
    scores = quality.by_request if quality is not None else {}
    priced = [(row, baseline_cost(row, baseline_price, method), scores.get(row.id)) for row in rows]
    total = Group("total")
    timeline: list[TimePoint] = []
    for row, base, score in priced:
        total.add(row, base, score)
        timeline.append(TimePoint(row.created_at, total.actual, total.baseline))
    groups = _grouped(priced, lambda r: group_key(r, group_by))
    groups.sort(key=lambda g: g.name if group_by == "day" else (-g.actual, g.name))
    by_model = sorted(_grouped(priced, lambda r: group_key(r, "model")), key=lambda g: (-g.actual, g.name))
    by_tier = sorted(_grouped(priced, lambda r: group_key(r, "tier")), key=lambda g: g.name)
    return Report(
        baseline_model=baseline_model,
        baseline_price=baseline_price,
        method=method,
        group_by=group_by,
        since=since,
        total=total,
        groups=groups,
        by_tier=by_tier,
        by_model=by_model,
        timeline=timeline,
        quality_source=quality.source if quality is not None else None,
        first=rows[0].created_at if rows else None,
        last=rows[-1].created_at if rows else None,
    )
