"""`tiergate tune`: tier thresholds that minimise cost at a target quality, from the traffic's own logs.

For every routed request the log holds its classifier scores and token counts;
feedback and outcomes say how well some model answered it. A candidate pair of
thresholds (hard, reasoning) sends each request to the first model of its tier;
its quality there is the observed score when one exists, else the mean score of
that model on requests of similar difficulty (five difficulty bins, falling back
to the model's overall mean). Cost re-prices the request's logged tokens on that
model: the output length is assumed unchanged across models (stated in the
output). Quality is relative to sending everything to the baseline model.
Uncertainty at the chosen point comes from a bootstrap over requests.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from pricing.cost import tokens_cost
from router.catalog import ModelIndex
from router.feedback.schema import feedback, outcomes
from router.log.schema import requests
from router.policy import tier_for_scores
from router.settings import Settings, Thresholds, Tier

BINS = 5


@dataclass
class LoggedRequest:
    difficulty: float
    reasoning: float
    prompt_tokens: int
    completion_tokens: int
    observed: dict[str, float] = field(default_factory=dict)

    def bin(self) -> int:
        return min(BINS - 1, int(self.difficulty * BINS))


@dataclass(frozen=True)
class FrontierPoint:
    hard: float
    reasoning: float
    cost: Decimal
    quality: float  # relative to the baseline, 1.0 = as good
    mix: dict[str, int]


@dataclass
class TuneResult:
    requests: int
    signals: int
    baseline: str
    baseline_cost: Decimal
    frontier: list[FrontierPoint]
    chosen: FrontierPoint | None
    interval: tuple[float, float] | None
    note: str


def load_requests(engine: Engine, since: datetime | None) -> list[LoggedRequest]:
    query = select(
        requests.c.id,
        requests.c.prompt_hash,
        requests.c.difficulty,
        requests.c.reasoning,
        requests.c.prompt_tokens,
        requests.c.completion_tokens,
        requests.c.model,
    ).where(requests.c.difficulty.is_not(None), requests.c.status == "ok")
    if since is not None:
        query = query.where(requests.c.created_at >= since)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
        scores_by_request: dict[str, dict[str, float]] = defaultdict(dict)
        models_by_id = {r.id: r.model for r in rows}
        for f in connection.execute(select(feedback.c.request_id, feedback.c.score)):
            model = models_by_id.get(f.request_id)
            if model is not None:
                scores_by_request[f.request_id][model] = f.score
        scores_by_hash: dict[str, dict[str, float]] = defaultdict(dict)
        for o in connection.execute(
            select(outcomes.c.request_id, outcomes.c.prompt_hash, outcomes.c.model, outcomes.c.score)
        ):
            if o.request_id is not None:
                scores_by_request[o.request_id][o.model] = o.score
            elif o.prompt_hash is not None:
                scores_by_hash[o.prompt_hash][o.model] = o.score
    result = []
    for r in rows:
        observed = {**scores_by_hash.get(r.prompt_hash or "", {}), **scores_by_request.get(r.id, {})}
        result.append(
            LoggedRequest(
                float(r.difficulty), float(r.reasoning or 0.0), r.prompt_tokens, r.completion_tokens, observed
            )
        )
    return result


class QualityModel:
    """Observed score, else the model's mean in the request's difficulty bin, else its overall mean.

    A model with no evidence at all gets no credit: the lowest score any model has in that bin. The tuner
    then only moves traffic onto a model when the logs show it answers well."""

    def __init__(self, logged: list[LoggedRequest]) -> None:
        sums: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0.0, 0.0])
        overall: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for item in logged:
            for model, score in item.observed.items():
                sums[(model, item.bin())][0] += score
                sums[(model, item.bin())][1] += 1
                overall[model][0] += score
                overall[model][1] += 1
        self._bin = {k: s / n for k, (s, n) in sums.items() if n}
        self._overall = {k: s / n for k, (s, n) in overall.items() if n}

    def knows(self, model: str) -> bool:
        return model in self._overall

    def score(self, item: LoggedRequest, model: str) -> float:
        if model in item.observed:
            return item.observed[model]
        known = self._bin.get((model, item.bin()), self._overall.get(model))
        if known is not None:
            return known
        peers = [score for (_, b), score in self._bin.items() if b == item.bin()]
        return min(peers) if peers else 0.0


def _tier_model(settings: Settings, index: ModelIndex, tier: Tier) -> str:
    listed = settings.routing.tiers.get(tier)
    if listed:
        model = index.resolve(listed[0])
        assert model is not None
        return model.name
    ranked = sorted(
        (m for m in index.models.values() if m.tier == tier),
        key=lambda m: m.price.input_per_mtok + m.price.output_per_mtok,
    )
    return ranked[0].name if ranked else settings.routing.baseline or ""


def _evaluate(
    logged: list[LoggedRequest],
    thresholds: Thresholds,
    tier_models: dict[Tier, str],
    prices: dict[str, Any],
    quality: QualityModel,
) -> tuple[Decimal, float, dict[str, int]]:
    cost = Decimal(0)
    total = 0.0
    mix: dict[str, int] = defaultdict(int)
    for item in logged:
        model = tier_models[tier_for_scores(item.difficulty, item.reasoning, thresholds)]
        mix[model] += 1
        cost += tokens_cost(prices[model], item.prompt_tokens, item.completion_tokens)
        total += quality.score(item, model)
    return cost, total, dict(mix)


def tune(
    engine: Engine,
    settings: Settings,
    *,
    target_quality: float,
    baseline: str | None = None,
    since: timedelta | None = None,
    bootstrap: int = 200,
    seed: int = 0,
) -> TuneResult:
    index = ModelIndex(settings)
    baseline_name = baseline or settings.routing.baseline
    if not baseline_name or index.resolve(baseline_name) is None:
        raise ValueError("a baseline model is needed: --baseline MODEL or routing.baseline in the config")
    baseline_model = index.resolve(baseline_name)
    assert baseline_model is not None
    cutoff = datetime.now().astimezone() - since if since is not None else None
    logged = load_requests(engine, cutoff)
    quality = QualityModel(logged)
    signals = sum(len(item.observed) for item in logged)
    tier_models: dict[Tier, str] = {
        t: _tier_model(settings, index, t) for t in ("simple", "reasoning", "hard")
    }
    prices = {name: index.resolve(name).price for name in {*tier_models.values(), baseline_model.name}}  # type: ignore[union-attr]
    base_cost = sum(
        (tokens_cost(baseline_model.price, i.prompt_tokens, i.completion_tokens) for i in logged), Decimal(0)
    )
    base_quality = sum(quality.score(i, baseline_model.name) for i in logged) or 1.0
    note = (
        "output tokens per request assumed equal on every model; quality relative to all-"
        + baseline_model.name
    )
    if not logged:
        return TuneResult(
            0, 0, baseline_model.name, Decimal(0), [], None, None, "no routed requests in the window"
        )
    grid = sorted({round(x / 20, 2) for x in range(0, 21)})
    points: list[FrontierPoint] = []
    for hard in grid:
        for reasoning in grid:
            cost, total, mix = _evaluate(
                logged, Thresholds(hard=hard, reasoning=reasoning), tier_models, prices, quality
            )
            points.append(FrontierPoint(hard, reasoning, cost, total / base_quality, mix))
    points.sort(key=lambda p: (p.cost, -p.quality))
    frontier: list[FrontierPoint] = []
    best = -1.0
    for point in points:
        if point.quality > best + 1e-12:
            frontier.append(point)
            best = point.quality
    feasible = [p for p in frontier if p.quality >= target_quality - 1e-12]
    chosen = feasible[0] if feasible else None
    interval = None
    if chosen is not None and bootstrap > 0:
        rng = random.Random(seed)
        thresholds = Thresholds(hard=chosen.hard, reasoning=chosen.reasoning)
        ratios = []
        for _ in range(bootstrap):
            sample = [logged[rng.randrange(len(logged))] for _ in logged]
            _, total, _ = _evaluate(sample, thresholds, tier_models, prices, quality)
            ratios.append(total / (sum(quality.score(i, baseline_model.name) for i in sample) or 1.0))
        ratios.sort()
        interval = (ratios[int(0.05 * len(ratios))], ratios[int(0.95 * len(ratios)) - 1])
    return TuneResult(len(logged), signals, baseline_model.name, base_cost, frontier, chosen, interval, note)
