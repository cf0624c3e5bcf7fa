"""`POST /v1/feedback`: a client rates a logged request.

Idempotent per (request id, source): sending the same rating again changes
nothing, and a new rating from the same source replaces the old one. Only the key
that made the request (or the master key) may rate it. Rows are written in
batches, so a request answered a moment ago may not be in the table yet: recent
ids are remembered in memory (`RecentRequests`) and checked first.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Litestar, Request, Response, post
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from router.errors import InvalidRequest, NotFound, PermissionDenied, ServiceUnavailable
from router.feedback.schema import feedback
from router.gateway import Gateway
from router.log.schema import ID_LENGTH, requests
from router.pipeline import Pipeline, RequestContext
from router.wire.text import NO_NUL, ONE_LINE

_UNSET = object()


class FeedbackIn(msgspec.Struct, forbid_unknown_fields=True):
    request_id: Annotated[str, msgspec.Meta(min_length=1, max_length=ID_LENGTH, pattern=ONE_LINE)]
    score: float | bool | str
    source: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=ONE_LINE)] = "api"
    label: Annotated[str, msgspec.Meta(max_length=200, pattern=ONE_LINE)] | None = None
    comment: Annotated[str, msgspec.Meta(max_length=10_000, pattern=NO_NUL)] | None = None


def normalise_score(value: float | bool | str) -> float:
    """0..1, or thumbs: "up"/"down" (also true/false)."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, str):
        thumbs = {"up": 1.0, "down": 0.0, "thumbs_up": 1.0, "thumbs_down": 0.0}
        if value.lower() in thumbs:
            return thumbs[value.lower()]
        raise InvalidRequest("score must be a number in [0, 1] or 'up'/'down'", param="score")
    if not 0.0 <= value <= 1.0:
        raise InvalidRequest(f"score {value} is out of range; expected a number in [0, 1]", param="score")
    return float(value)


class RecentRequests:
    """request id -> key id of the last N requests this process answered."""

    def __init__(self, size: int = 50_000) -> None:
        self._size = size
        self._items: OrderedDict[str, str | None] = OrderedDict()

    def add(self, request_id: str, key_id: str | None) -> None:
        self._items[request_id] = key_id
        if len(self._items) > self._size:
            self._items.popitem(last=False)

    def get(self, request_id: str) -> Any:
        return self._items.get(request_id, _UNSET)


def _lookup_key(engine: Engine, request_id: str) -> Any:
    with engine.connect() as connection:
        row = connection.execute(select(requests.c.key_id).where(requests.c.id == request_id)).first()
    return _UNSET if row is None else row.key_id


def _store(engine: Engine, item: FeedbackIn, score: float, key_id: str | None) -> bool:
    """Insert or replace; True when a new row was created."""
    now = datetime.now(UTC)
    values = {"score": score, "label": item.label, "comment": item.comment, "updated_at": now}
    match = (feedback.c.request_id == item.request_id) & (feedback.c.source == item.source)
    with engine.begin() as connection:
        if connection.execute(select(feedback.c.id).where(match)).first() is None:
            try:
                with connection.begin_nested():
                    connection.execute(
                        feedback.insert().values(
                            request_id=item.request_id,
                            source=item.source,
                            key_id=key_id,
                            created_at=now,
                            **values,
                        )
                    )
                return True
            except IntegrityError:
                pass  # a concurrent duplicate won the race: fall through to update
        connection.execute(update(feedback).where(match).values(**values))
        return False


@post("/v1/feedback", status_code=200)
async def submit_feedback(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    app: Litestar = request.app
    gateway: Gateway = app.state.gateway
    pipeline: Pipeline = app.state.pipeline
    ctx = RequestContext(request_id="feedback", endpoint="feedback", headers=dict(request.headers))
    await pipeline.authenticate(ctx)
    raw = await request.body()
    try:
        item = msgspec.json.decode(raw, type=FeedbackIn)
    except msgspec.ValidationError as exc:
        text = str(exc)
        param = text.rsplit("at `$.", 1)[1].rstrip("`") if "at `$." in text else None
        raise InvalidRequest(f"invalid feedback: {text}", param=param) from None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        raise InvalidRequest("request body is not a valid JSON object") from None
    score = normalise_score(item.score)
    recent: RecentRequests = app.state.recent_requests
    engine = gateway.writer.engine
    owner = recent.get(item.request_id)
    if owner is _UNSET:
        try:
            owner = await asyncio.to_thread(_lookup_key, engine, item.request_id)
        except Exception as exc:
            raise ServiceUnavailable(f"the request log is unavailable ({type(exc).__name__})") from None
    if owner is _UNSET:
        raise NotFound(
            f"no request with id {item.request_id!r}", param="request_id", code="request_not_found"
        )
    caller = getattr(ctx.key, "id", None)
    if owner is not None and caller != owner and not getattr(ctx.key, "is_master", False):
        raise PermissionDenied("only the key that made the request, or the master key, may rate it")
    try:
        created = await asyncio.to_thread(_store, engine, item, score, owner)
    except Exception as exc:
        raise ServiceUnavailable(f"the feedback store is unavailable ({type(exc).__name__})") from None
    body = {
        "object": "feedback",
        "request_id": item.request_id,
        "source": item.source,
        "score": score,
        "label": item.label,
        "created": created,
    }
    return Response(body, status_code=201 if created else 200)


route_handlers = [submit_feedback]


async def install(app: Litestar, gateway: Gateway, pipeline: Pipeline) -> None:
    recent = RecentRequests()
    app.state.recent_requests = recent

    def remember(ctx: RequestContext) -> None:
        recent.add(ctx.request_id, getattr(ctx.key, "id", None))

    pipeline.hooks.on_finish.append(remember)
