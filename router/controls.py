"""Per-request routing controls a client can set without a new SDK.

Headers (`extra_headers=` in the openai SDK):
  x-tiergate-tier: simple|reasoning|hard        force the tier of an `auto` request
  x-tiergate-max-cost-usd: 0.002                 refuse candidates whose expected cost is above this
  x-tiergate-models: gpt-4o-mini,deepseek-v3     only these models may serve the request
or the same as an optional `tiergate` object in the body (`extra_body=`), for clients that cannot set
headers: {"tiergate": {"tier": "hard", "max_cost_usd": 0.002, "models": ["gpt-4o"]}}. A header wins over
the body field of the same name. Any unknown field or value is a 400 naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from router.catalog import Model, ModelIndex
from router.errors import InvalidRequest
from router.settings import TIERS, Tier

TIER_HEADER = "x-tiergate-tier"
MAX_COST_HEADER = "x-tiergate-max-cost-usd"
MODELS_HEADER = "x-tiergate-models"


class BodyControls(msgspec.Struct, forbid_unknown_fields=True):
    tier: str | None = None
    max_cost_usd: float | str | None = None
    models: list[str] | None = None


@dataclass(frozen=True, slots=True)
class Controls:
    tier: Tier | None = None
    max_cost_usd: Decimal | None = None
    max_cost_param: str = MAX_COST_HEADER
    models: tuple[Model, ...] | None = None
    models_param: str = MODELS_HEADER


NO_CONTROLS = Controls()


def _body_controls(value: Any) -> BodyControls:
    if not isinstance(value, dict):
        raise InvalidRequest("`tiergate` must be an object", param="tiergate")
    try:
        return msgspec.convert(value, BodyControls)
    except msgspec.ValidationError as exc:
        text = str(exc)
        field = text.rsplit("at `$.", 1)[1].rstrip("`") if "at `$." in text else ""
        if "unknown field" in text:
            field = text.split("`", 2)[1] if "`" in text else field
        raise InvalidRequest(
            f"invalid `tiergate` object: {text}", param=f"tiergate.{field}".rstrip(".")
        ) from None


def _tier(value: str, param: str) -> Tier:
    if value not in TIERS:
        raise InvalidRequest(f"unknown tier {value!r}; expected one of {', '.join(TIERS)}", param=param)
    return value  # type: ignore[return-value]


def _cost(value: float | str, param: str) -> Decimal:
    try:
        cost = Decimal(str(value).strip())
    except InvalidOperation:
        cost = Decimal("NaN")
    if not cost.is_finite() or cost <= 0:
        raise InvalidRequest(f"{param} must be a positive number of US dollars, got {value!r}", param=param)
    return cost


def _models(names: list[str], param: str, index: ModelIndex) -> tuple[Model, ...]:
    wanted = [n.strip() for n in names if n.strip()]
    if not wanted:
        raise InvalidRequest(f"{param} names no model", param=param)
    resolved: list[Model] = []
    for name in wanted:
        model = index.resolve(name)
        if model is None:
            raise InvalidRequest(f"{param} names an unknown model {name!r}", param=param)
        if model not in resolved:
            resolved.append(model)
    return tuple(resolved)


def parse_controls(headers: dict[str, str], body_value: Any, index: ModelIndex) -> Controls:
    """Controls from the request's headers and its popped `tiergate` body object."""
    tier_raw = headers.get(TIER_HEADER)
    cost_raw = headers.get(MAX_COST_HEADER)
    models_raw = headers.get(MODELS_HEADER)
    if body_value is None and tier_raw is None and cost_raw is None and models_raw is None:
        return NO_CONTROLS  # the common case costs three dict lookups
    body = _body_controls(body_value) if body_value is not None else BodyControls()
    tier: Tier | None = None
    if tier_raw is not None:
        tier = _tier(tier_raw.strip(), TIER_HEADER)
    elif body.tier is not None:
        tier = _tier(body.tier, "tiergate.tier")
    cost: Decimal | None = None
    cost_param = MAX_COST_HEADER
    if cost_raw is not None:
        cost = _cost(cost_raw, MAX_COST_HEADER)
    elif body.max_cost_usd is not None:
        cost_param = "tiergate.max_cost_usd"
        cost = _cost(body.max_cost_usd, cost_param)
    models: tuple[Model, ...] | None = None
    models_param = MODELS_HEADER
    if models_raw is not None:
        models = _models(models_raw.split(","), MODELS_HEADER, index)
    elif body.models is not None:
        models_param = "tiergate.models"
        models = _models(body.models, models_param, index)
    return Controls(tier, cost, cost_param, models, models_param)
