"""The gateway's long-lived parts, created once per process by the app's lifespan."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from router.catalog import Model, ModelIndex
from router.controls import NO_CONTROLS, Controls
from router.dispatch import Dispatcher
from router.errors import InvalidRequest, ModelNotFound
from router.log.schema import requests as requests_table
from router.log.store import check_schema, make_engine
from router.log.writer import LogWriter
from router.policy import (
    Needs,
    candidates_for_tier,
    capped_cost,
    needs_of,
    placeholder_scores,
    tier_for_scores,
    within_cost,
)
from router.settings import Settings, Tier
from router.upstream import UpstreamClient
from router.wire.chat import ChatRequest

log = logging.getLogger("tiergate")


def runtime_counts() -> dict[str, int]:
    """Open file descriptors and asyncio tasks, for `/ready`: both must stay flat under load (leak check)."""
    try:
        fds = len(os.listdir("/proc/self/fd"))
    except OSError:
        fds = -1
    return {"asyncio_tasks": len(asyncio.all_tasks()), "open_fds": fds}


class Scorer(Protocol):
    """What the gateway needs of a classifier (see classifier/)."""

    version: str

    async def score(self, messages: list[dict[str, Any]]) -> Any: ...

    async def aclose(self) -> None: ...


def policy_version(settings: Settings) -> str:
    """A short hash of everything that decides routing: the policy, thresholds and model set."""
    encoded = msgspec.json.encode([settings.routing, settings.models])
    return hashlib.sha256(encoded).hexdigest()[:12]


@dataclass(slots=True)
class Route:
    requested: str
    tier: Tier | None
    tier_source: str
    candidates: list[Model]
    difficulty: float | None = None
    reasoning: float | None = None
    decision_ms: float | None = None
    needs: Needs | None = None


@dataclass
class Gateway:
    settings: Settings
    index: ModelIndex
    client: UpstreamClient
    dispatcher: Dispatcher
    writer: LogWriter
    scorer: Scorer | None = None
    policy_version: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    async def start(cls, settings: Settings, *, scorer: Scorer | None = None) -> Gateway:
        engine = make_engine(settings.database_url)
        check_schema(engine)
        client = UpstreamClient()
        writer = LogWriter(engine, requests_table, settings.log)
        writer.start()
        gateway = cls(
            settings=settings,
            index=ModelIndex(settings),
            client=client,
            dispatcher=Dispatcher(client, settings.routing.retry, settings.routing.breaker),
            writer=writer,
            scorer=scorer,
            policy_version=policy_version(settings),
        )
        checks = gateway.extras.setdefault("ready_checks", {})
        checks["deployments"] = gateway.dispatcher.health.snapshot
        checks["runtime"] = runtime_counts
        return gateway

    async def reload(self, settings: Settings, scorer: Scorer | None) -> None:
        """Swap policy and classifier in place; requests already routed finish on what they had."""
        old_scorer = self.scorer
        self.index = ModelIndex(settings)
        self.dispatcher.reconfigure(settings.routing.retry, settings.routing.breaker)
        self.settings = settings
        self.scorer = scorer
        self.policy_version = policy_version(settings)
        if old_scorer is not None and old_scorer is not scorer:
            await old_scorer.aclose()

    async def close(self) -> None:
        await self.writer.close()
        await self.client.aclose()
        if self.scorer is not None:
            await self.scorer.aclose()

    async def route(
        self, request: ChatRequest, messages: list[dict[str, Any]], controls: Controls = NO_CONTROLS
    ) -> Route:
        routing = self.settings.routing
        if request.model != "auto":
            model = self.index.resolve(request.model)
            if model is None:
                raise ModelNotFound(f"The model `{request.model}` does not exist", param="model")
            limit = request.output_limit()
            if limit is not None and limit > model.config.max_output:
                raise InvalidRequest(
                    f"max_tokens {limit} exceeds {model.name}'s limit of {model.config.max_output} output tokens",
                    param="max_tokens",
                )
            if controls.models is not None and model.name not in {m.name for m in controls.models}:
                raise InvalidRequest(
                    f"model {request.model!r} is not among the models allowed by {controls.models_param}",
                    param=controls.models_param,
                )
            route = Route(request.model, model.tier, "explicit", [model])
            if controls.max_cost_usd is not None:
                # An explicit model needs no prompt count to be routed: it is counted only for a cost cap (and,
                # later, where a key's limits or a missing usage ask for it; RequestContext.prompt_estimate).
                route.needs = needs_of(request, messages)
                self._check_cost(route, controls)
            return route
        needs = needs_of(request, messages)
        started = time.perf_counter()
        difficulty: float | None = None
        reasoning: float | None = None
        if controls.tier is not None:
            tier: Tier = controls.tier
            source = "forced"
        elif self.scorer is not None:
            scores = await self.scorer.score(messages)
            difficulty, reasoning = float(scores.difficulty), float(scores.reasoning)
            tier = tier_for_scores(difficulty, reasoning, routing.thresholds)
            source = "classifier"
        else:
            difficulty, reasoning = placeholder_scores(messages)
            tier = tier_for_scores(difficulty, reasoning, routing.thresholds)
            source = "placeholder"
        decision_ms = (time.perf_counter() - started) * 1000
        candidates = candidates_for_tier(self.index, routing, tier, needs, self.dispatcher.penalty)
        if not candidates:
            # The request asks for something no model here offers: the client's to change, so a 400.
            raise InvalidRequest(
                f"no configured model is adequate for this request at tier {tier!r}: it needs "
                f"{needs.prompt_tokens} prompt + {needs.max_output or 0} output tokens"
                + "".join(f", {cap}" for cap in ("tools", "vision", "json_schema") if getattr(needs, cap)),
                code="no_adequate_model",
            )
        if controls.models is not None:
            allowed = {m.name for m in controls.models}
            candidates = [m for m in candidates if m.name in allowed]
            if not candidates:
                raise InvalidRequest(
                    f"none of the models allowed by {controls.models_param} is adequate for this request "
                    f"at tier {tier!r}",
                    param=controls.models_param,
                    code="no_adequate_model",
                )
        route = Route("auto", tier, source, candidates, difficulty, reasoning, decision_ms, needs)
        if controls.max_cost_usd is not None:
            self._check_cost(route, controls)
        return route

    def _check_cost(self, route: Route, controls: Controls) -> None:
        """Drop candidates whose expected cost is above the client's cap (fallbacks included); refuse
        with a 400 naming the cheapest adequate figure when none is left. Never drops below the tier."""
        assert controls.max_cost_usd is not None and route.needs is not None and route.tier is not None
        cap, needs, routing = controls.max_cost_usd, route.needs, self.settings.routing
        kept = within_cost(route.candidates, needs, routing, route.tier, cap)
        if not kept:
            cheapest = min(capped_cost(m, needs, routing, route.tier) for m in route.candidates)
            raise InvalidRequest(
                f"the cheapest adequate model for this request is expected to cost ${cheapest:.6f}, above "
                f"the ${cap} allowed by {controls.max_cost_param}",
                param=controls.max_cost_param,
                code="max_cost_exceeded",
            )
        route.candidates = kept
