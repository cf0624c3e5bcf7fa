"""The gateway's long-lived parts, created once per process by the app's lifespan."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from router.catalog import Model, ModelIndex
from router.dispatch import Dispatcher
from router.errors import InvalidRequest, ModelNotFound
from router.log.schema import requests as requests_table
from router.log.store import check_schema, make_engine
from router.log.writer import LogWriter
from router.policy import Needs, candidates_for_tier, needs_of, placeholder_scores, tier_for_scores
from router.settings import TIERS, Settings, Tier
from router.upstream import UpstreamClient
from router.wire.chat import ChatRequest

log = logging.getLogger("tiergate")


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
            dispatcher=Dispatcher(client, settings.routing.retry),
            writer=writer,
            scorer=scorer,
            policy_version=policy_version(settings),
        )
        return gateway

    async def reload(self, settings: Settings, scorer: Scorer | None) -> None:
        """Swap policy and classifier in place; requests already routed finish on what they had."""
        old_scorer = self.scorer
        self.index = ModelIndex(settings)
        self.dispatcher._retry = settings.routing.retry
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
        self, request: ChatRequest, messages: list[dict[str, Any]], forced_tier: str | None
    ) -> Route:
        needs = needs_of(request, messages)
        if forced_tier is not None and forced_tier not in TIERS:
            raise InvalidRequest(
                f"unknown tier {forced_tier!r}; expected one of {', '.join(TIERS)}", param="x-tiergate-tier"
            )
        if request.model != "auto":
            model = self.index.resolve(request.model)
            if model is None:
                raise ModelNotFound(f"The model `{request.model}` does not exist", param="model")
            limit = needs.max_output
            if limit is not None and limit > model.config.max_output:
                raise InvalidRequest(
                    f"max_tokens {limit} exceeds {model.name}'s limit of {model.config.max_output} output tokens",
                    param="max_tokens",
                )
            return Route(request.model, model.tier, "explicit", [model], needs=needs)
        started = time.perf_counter()
        difficulty: float | None = None
        reasoning: float | None = None
        if forced_tier is not None:
            tier: Tier = forced_tier  # type: ignore[assignment]
            source = "forced"
        elif self.scorer is not None:
            scores = await self.scorer.score(messages)
            difficulty, reasoning = float(scores.difficulty), float(scores.reasoning)
            tier = tier_for_scores(difficulty, reasoning, self.settings.routing.thresholds)
            source = "classifier"
        else:
            difficulty, reasoning = placeholder_scores(messages)
            tier = tier_for_scores(difficulty, reasoning, self.settings.routing.thresholds)
            source = "placeholder"
        decision_ms = (time.perf_counter() - started) * 1000
        candidates = candidates_for_tier(self.index, self.settings.routing, tier, needs)
        if not candidates:
            # The request asks for something no model here offers: the client's to change, so a 400.
            raise InvalidRequest(
                f"no configured model is adequate for this request at tier {tier!r}: it needs "
                f"{needs.prompt_tokens} prompt + {needs.max_output or 0} output tokens"
                + "".join(f", {cap}" for cap in ("tools", "vision", "json_schema") if getattr(needs, cap)),
                code="no_adequate_model",
            )
        return Route("auto", tier, source, candidates, difficulty, reasoning, decision_ms, needs)
