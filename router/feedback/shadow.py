"""Shadow evaluation: replay a share of routed requests on a reference model, judge, store outcomes.

Never on the request path: the finish hook only offers the request to a bounded queue (full -> dropped and
counted), and one background task does the work. Never over budget: each replay reserves an estimate of its
cost (reference + judge) against the day's budget before it is sent, and settles the real cost after.
Structured outputs (json_object / json_schema) are judged by exact JSON match with the reference; anything
else needs a judge model, asked for one integer grade from 1 to 10.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import msgspec
from litestar import Litestar
from sqlalchemy import Engine

from pricing.cost import request_cost, tokens_cost
from router.catalog import Model
from router.errors import AllProvidersFailed
from router.feedback.schema import outcomes
from router.gateway import Gateway
from router.pipeline import Pipeline, RequestContext
from router.providers.base import Call, Usage
from router.settings import ShadowConfig
from router.tokens import content_text, estimate_prompt_tokens, estimate_text_tokens

log = logging.getLogger("tiergate.shadow")

# The sim's judge recognises this phrase (router/sim/answers.py), as a real judge model reads the instruction.
JUDGE_INSTRUCTION = "Grade the candidate answer against the reference answer for the question below."
_GRADE = re.compile(r"\b(10|[1-9])\b")


@dataclass(slots=True)
class Replay:
    request_id: str
    body: dict[str, Any]
    routed_model: str
    answer: str


@dataclass(slots=True)
class ShadowStats:
    offered: int = 0
    judged: int = 0
    dropped: int = 0
    over_budget: int = 0
    failed: int = 0
    spent_today_usd: Decimal = Decimal(0)


def sampled(request_id: str, fraction: float) -> bool:
    """Deterministic per request id, so the share is exact over many requests and reproducible."""
    bucket = int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:8], "big") / 2**64
    return bucket < fraction


def parse_grade(text: str) -> float | None:
    match = _GRADE.search(text)
    return (int(match.group(1)) - 1) / 9 if match else None


def _structured(body: dict[str, Any]) -> bool:
    fmt = body.get("response_format")
    return isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema")


def _same_json(a: str, b: str) -> float:
    try:
        return 1.0 if json.loads(a) == json.loads(b) else 0.0
    except (json.JSONDecodeError, TypeError):
        return 0.0


class ShadowEvaluator:
    def __init__(self, gateway: Gateway, config: ShadowConfig) -> None:
        self.gateway = gateway
        self.config = config
        self.queue: asyncio.Queue[Replay] = asyncio.Queue(maxsize=config.queue_max)
        self.stats = ShadowStats()
        self._day = date.today()
        self._reserved = Decimal(0)
        self._task: asyncio.Task[None] | None = None

    def _model(self, name: str | None) -> Model | None:
        return self.gateway.index.resolve(name) if name else None

    def offer(self, ctx: RequestContext) -> None:
        outcome, route = ctx.outcome, ctx.route
        if ctx.endpoint != "chat" or ctx.stream or outcome.status != "ok" or outcome.cache_hit:
            return
        if route is None or route.tier_source not in ("classifier", "placeholder") or outcome.model is None:
            return
        reference = self.config.reference or self.gateway.settings.routing.baseline
        if outcome.model.name == reference or not sampled(ctx.request_id, self.config.fraction):
            return
        if outcome.completion_text is None:
            return
        self.stats.offered += 1
        body = {k: v for k, v in ctx.body.items() if k not in ("stream", "stream_options", "n")}
        try:
            self.queue.put_nowait(Replay(ctx.request_id, body, outcome.model.name, outcome.completion_text))
        except asyncio.QueueFull:
            self.stats.dropped += 1

    def _estimate(self, replay: Replay, reference: Model, judge: Model | None) -> Decimal:
        prompt = estimate_prompt_tokens(replay.body.get("messages") or [])
        answer = estimate_text_tokens(replay.answer)
        cost = tokens_cost(reference.price, prompt, max(answer * 2, 256))
        if judge is not None:
            cost += tokens_cost(judge.price, prompt + 3 * answer + 100, 8)
        return cost

    async def _call(self, model: Model, body: dict[str, Any], request_id: str) -> tuple[str, Usage | None]:
        call = Call(body, "", False, False, request_id)
        completed = await self.gateway.dispatcher.complete([model], call)
        return completed.decoded.completion_text or "", completed.decoded.usage

    def _spend(self, model: Model, usage: Usage | None) -> None:
        if usage is not None:
            self.stats.spent_today_usd += request_cost(model.price, usage)

    async def evaluate(self, replay: Replay) -> float | None:
        if date.today() != self._day:
            self._day, self.stats.spent_today_usd = date.today(), Decimal(0)
        reference = self._model(self.config.reference or self.gateway.settings.routing.baseline)
        judge = self._model(self.config.judge)
        if reference is None or (judge is None and not _structured(replay.body)):
            return None
        estimate = self._estimate(replay, reference, judge)
        budget = Decimal(str(self.config.daily_budget_usd))
        if self.stats.spent_today_usd + self._reserved + estimate > budget:
            self.stats.over_budget += 1
            return None
        self._reserved += estimate
        try:
            ref_text, ref_usage = await self._call(reference, replay.body, f"shadow-ref-{replay.request_id}")
            self._spend(reference, ref_usage)
            if _structured(replay.body):
                return _same_json(replay.answer, ref_text)
            assert judge is not None
            question = content_text((replay.body.get("messages") or [{}])[-1].get("content"))
            prompt = (
                f"{JUDGE_INSTRUCTION} Reply with a single integer from 1 (wrong) to 10 (as good as the reference)."
                f"\n\nQuestion:\n{question}\n\nReference answer:\n{ref_text}\n\nCandidate answer:\n{replay.answer}"
            )
            judge_body = {
                "messages": [{"role": "user", "content": prompt}],
                "max_tokens": 8,
                "temperature": 0,
            }
            verdict, judge_usage = await self._call(judge, judge_body, f"shadow-judge-{replay.request_id}")
            self._spend(judge, judge_usage)
            return parse_grade(verdict)
        finally:
            self._reserved -= estimate

    def _store(self, engine: Engine, replay: Replay, score: float, reference: str) -> None:
        """The routed model's verdict, linked to the request; and the reference's, which is the yardstick
        (1.0 by the grading's definition), linked by prompt hash only so the report's per-request quality
        stays the quality of the model that served."""
        now = datetime.now(UTC)
        digest = hashlib.sha256(msgspec.json.encode(replay.body.get("messages") or [])).hexdigest()
        verdict = {
            "request_id": replay.request_id,
            "model": replay.routed_model,
            "score": score,
            "source": "shadow",
        }
        yardstick = {"request_id": None, "model": reference, "score": 1.0, "source": "shadow-reference"}
        with engine.begin() as connection:
            for row in (verdict, yardstick):
                connection.execute(outcomes.insert().values(prompt_hash=digest, created_at=now, **row))

    async def run(self) -> None:
        while True:
            replay = await self.queue.get()
            try:
                score = await self.evaluate(replay)
                reference = self._model(self.config.reference or self.gateway.settings.routing.baseline)
                if score is not None and reference is not None:
                    await asyncio.to_thread(
                        self._store, self.gateway.writer.engine, replay, score, reference.name
                    )
                    self.stats.judged += 1
            except (AllProvidersFailed, Exception) as exc:
                self.stats.failed += 1
                log.warning("shadow evaluation of %s failed: %s", replay.request_id, type(exc).__name__)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="tiergate-shadow")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def install(
    app: Litestar, gateway: Gateway, pipeline: Pipeline
) -> Callable[[], Awaitable[None]] | None:
    config = gateway.settings.shadow
    if config.fraction <= 0:
        return None
    evaluator = ShadowEvaluator(gateway, config)
    app.state.shadow = evaluator
    pipeline.hooks.on_finish.append(evaluator.offer)
    gateway.extras.setdefault("ready_checks", {})["shadow"] = lambda: {
        "offered": evaluator.stats.offered,
        "judged": evaluator.stats.judged,
        "dropped": evaluator.stats.dropped,
        "over_budget": evaluator.stats.over_budget,
        "failed": evaluator.stats.failed,
        "spent_today_usd": float(evaluator.stats.spent_today_usd),
        "queued": evaluator.queue.qsize(),
    }
    evaluator.start()
    return evaluator.stop
