"""The gateway's error hierarchy and its one renderer.

Every error a client can see is a `GatewayError`. Each class carries its HTTP
status and OpenAI error `type`; `render_error` turns any of them into OpenAI's
`{"error": {...}}` body. Nothing here ever formats a provider key: messages are
built from our own words plus the provider's *name*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import msgspec


class GatewayError(Exception):
    status: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"
    default_code: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"


class AuthenticationFailed(GatewayError):
    status = 401
    type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDenied(GatewayError):
    status = 403
    type = "permission_error"


class ModelNotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    default_code = "model_not_found"


class NotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    default_code = "not_found"


class PayloadTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"
    default_code = "request_too_large"


class RateLimited(GatewayError):
    """Our own limit or budget: official SDKs must not retry these blindly."""

    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class UpstreamError(GatewayError):
    """A provider answered with an error or could not be reached."""

    status = 502
    type = "upstream_error"
    default_code = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        upstream_status: int | None = None,
        retryable: bool = True,
        fallback: bool = True,
        retry_after: float | None = None,
        error_type: str = "upstream_error",
        status: int | None = None,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, param=param, code=code, headers=headers)
        self.provider = provider
        self.upstream_status = upstream_status
        # retryable: the same deployment may be tried again; fallback: another candidate may be tried.
        self.retryable = retryable
        self.fallback = fallback
        self.retry_after = retry_after
        self.error_type = error_type
        if status is not None:
            self.status = status  # type: ignore[misc]


class ServiceUnavailable(GatewayError):
    status = 503
    type = "server_error"
    default_code = "service_unavailable"


@dataclass
class AttemptFailure:
    model: str
    provider: str
    error: UpstreamError


@dataclass
class AllProvidersFailed(Exception):
    """Every candidate failed or was unavailable; carries each attempt so the client and the log see all
    of them. `retry_after`: seconds until some deployment may be tried again."""

    failures: list[AttemptFailure] = field(default_factory=list)
    attempts: list[Any] = field(default_factory=list)
    retry_after: int | None = None
    detail: str = ""

    def to_gateway_error(self) -> GatewayError:
        wait = {"retry-after": str(self.retry_after)} if self.retry_after is not None else {}
        if not self.failures:
            return ServiceUnavailable(
                f"no adequate model is available for this request: {self.detail or 'none was tried'}",
                headers=wait,
            )
        last = self.failures[-1].error
        summary = "; ".join(f"{f.provider}/{f.model}: {f.error.message}" for f in self.failures)
        headers = dict(last.headers)
        if last.error_type == "quota_exceeded":
            # The provider account is out of credit: a client retry cannot help for a long while.
            headers["x-should-retry"] = "false"
        elif last.retryable or last.fallback:
            # Only where another try could succeed; a 4xx that will fail again gets no Retry-After.
            for name, value in wait.items():
                headers.setdefault(name, value)
        err = UpstreamError(
            f"all {len(self.failures)} upstream attempt(s) failed: {summary}",
            provider=last.provider,
            upstream_status=last.upstream_status,
            retryable=last.retryable,
            fallback=last.fallback,
            retry_after=last.retry_after,
            error_type=last.error_type,
            status=last.status,
            code=last.code,
            headers=headers,
        )
        return err


_encoder = msgspec.json.Encoder()


def render_error(error: GatewayError) -> tuple[int, dict[str, str], bytes]:
    """Status, extra headers and JSON body for any gateway error."""
    headers = dict(error.headers)
    if isinstance(error, RateLimited):
        headers.setdefault("x-should-retry", "false")
    return error.status, headers, _encoder.encode(error.body())
