"""Admin API for keys, guarded by the master key ($TIERGATE_MASTER_KEY): create, list, show, revoke,
spend. Documented in the served OpenAPI schema (/openapi)."""

from __future__ import annotations

import asyncio
import hmac
import os
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import msgspec
from litestar import Request, get, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from router.errors import AuthenticationFailed, NotFound, PermissionDenied
from router.keys.auth import presented_secret
from router.keys.budgets import to_usd
from router.keys.model import VirtualKey, period_id
from router.keys.service import KeyService
from router.wire.text import Name

MASTER_ENV = "TIERGATE_MASTER_KEY"
_TAGS = ["keys"]
_SECURITY: list[dict[str, list[str]]] = [{"masterKey": []}]


def master_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    master = os.environ.get(MASTER_ENV)
    if not master:
        raise PermissionDenied(
            f"the admin API is disabled: set {MASTER_ENV} to enable it", code="admin_disabled"
        )
    headers = {k.lower(): v for k, v in connection.headers.items()}
    secret = presented_secret(headers)
    if not hmac.compare_digest(secret.encode(), master.encode()):
        raise AuthenticationFailed("the admin API needs the master key", code="invalid_master_key")


class CreateKey(msgspec.Struct, forbid_unknown_fields=True):
    name: Name  # the stored columns' lengths (router/keys/schema.py)
    budget_usd: float | None = None
    budget_period: Literal["day", "month", "total"] = "month"
    rpm: int | None = None
    tpm: int | None = None
    models: list[Name] = []
    expires_at: datetime | None = None
    scope: Name | None = None


class KeyInfo(msgspec.Struct):
    id: str
    name: str
    prefix: str
    created_at: datetime
    budget_usd: float | None
    budget_period: str
    rpm: int | None
    tpm: int | None
    models: list[str]
    expires_at: datetime | None
    revoked_at: datetime | None
    scope: str | None


class CreatedKey(msgspec.Struct):
    key: str  # the secret: shown once, stored only as a hash
    info: KeyInfo


class Spend(msgspec.Struct):
    key_id: str
    period: str
    budget_usd: float | None
    spent_usd: float  # from the request log (rows written so far)
    committed_usd: float  # the live counter budgets are checked against
    reserved_usd: float  # held by requests in flight


def info_of(key: VirtualKey) -> KeyInfo:
    return KeyInfo(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        created_at=key.created_at,
        budget_usd=float(key.budget_usd) if key.budget_usd is not None else None,
        budget_period=key.budget_period,
        rpm=key.rpm,
        tpm=key.tpm,
        models=list(key.models),
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        scope=key.scope,
    )


def _service(request: Request[Any, Any, Any]) -> KeyService:
    service: KeyService = request.app.state.key_service
    return service


def _positive(name: str, value: float | int | None) -> None:
    from router.errors import InvalidRequest

    if value is not None and value <= 0:
        raise InvalidRequest(f"{name} must be positive", param=name)


@post("/admin/keys", guards=[master_only], tags=_TAGS, security=_SECURITY, status_code=201)
async def create_key(request: Request[Any, Any, Any], data: CreateKey) -> CreatedKey:
    """Create a virtual key. The secret is in the answer once and never again."""
    _positive("budget_usd", data.budget_usd)
    _positive("rpm", data.rpm)
    _positive("tpm", data.tpm)
    expires = data.expires_at
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    key, secret = await asyncio.to_thread(
        _service(request).store.create,
        data.name,
        budget_usd=Decimal(str(data.budget_usd)) if data.budget_usd is not None else None,
        budget_period=data.budget_period,
        rpm=data.rpm,
        tpm=data.tpm,
        models=data.models,
        expires_at=expires,
        scope=data.scope,
    )
    return CreatedKey(key=secret, info=info_of(key))


@get("/admin/keys", guards=[master_only], tags=_TAGS, security=_SECURITY)
async def list_keys(request: Request[Any, Any, Any]) -> list[KeyInfo]:
    """Every key (revoked ones too), by prefix; secrets are never shown."""
    keys = await asyncio.to_thread(_service(request).store.list)
    return [info_of(k) for k in keys]


async def _get(request: Request[Any, Any, Any], key_id: str) -> VirtualKey:
    key = await asyncio.to_thread(_service(request).store.get, key_id)
    if key is None:
        raise NotFound(f"no key with id {key_id!r}", param="key_id")
    return key


@get("/admin/keys/{key_id:str}", guards=[master_only], tags=_TAGS, security=_SECURITY)
async def show_key(request: Request[Any, Any, Any], key_id: str) -> KeyInfo:
    return info_of(await _get(request, key_id))


@post(
    "/admin/keys/{key_id:str}/revoke", guards=[master_only], tags=_TAGS, security=_SECURITY, status_code=200
)
async def revoke_key(request: Request[Any, Any, Any], key_id: str) -> KeyInfo:
    """Revoke a key: refused at once by this process and, with Redis, by every other one."""
    service = _service(request)
    key = await asyncio.to_thread(service.store.revoke, key_id)
    if key is None:
        raise NotFound(f"no key with id {key_id!r}", param="key_id")
    await service.revoke_everywhere(key_id)
    return info_of(key)


@get("/admin/keys/{key_id:str}/spend", guards=[master_only], tags=_TAGS, security=_SECURITY)
async def key_spend(request: Request[Any, Any, Any], key_id: str) -> Spend:
    """Spend of a key in its budget period: logged, committed and reserved."""
    service = _service(request)
    key = await _get(request, key_id)
    period = period_id(key.budget_period, datetime.now(UTC))
    spent = await asyncio.to_thread(service.store.spent, key.id, key.budget_period)
    standing = await service.ledger.standing(key.id, period)
    return Spend(
        key_id=key.id,
        period=period,
        budget_usd=float(key.budget_usd) if key.budget_usd is not None else None,
        spent_usd=float(spent),
        committed_usd=float(to_usd(standing.committed)),
        reserved_usd=float(to_usd(standing.reserved)),
    )


route_handlers = [create_key, list_keys, show_key, revoke_key, key_spend]
