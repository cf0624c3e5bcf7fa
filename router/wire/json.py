"""Decoding a client's JSON body: every way it can be broken becomes a 400, never a 500."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from router.errors import InvalidRequest

_decoder = msgspec.json.Decoder()
T = TypeVar("T")


def decode_json_object(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise InvalidRequest("request body is empty; expected a JSON object")
    try:
        body = _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    except UnicodeDecodeError:
        raise InvalidRequest("request body is not valid UTF-8") from None
    except RecursionError:
        raise InvalidRequest("request body is nested too deeply") from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    return body


def convert_body(body: dict[str, Any], struct: type[T]) -> T:
    """Validate a decoded body into a wire struct; a failure is a 400 naming the field."""
    try:
        return msgspec.convert(body, struct)
    except msgspec.ValidationError as exc:
        text = str(exc)
        param = text.rsplit("at `$.", 1)[1].rstrip("`") if "at `$." in text else None
        raise InvalidRequest(f"invalid request: {text}", param=param) from None


def decode_body(raw: bytes, struct: type[T]) -> tuple[dict[str, Any], T]:
    """The raw JSON object (passed on as sent) and its validated view, for every ingress."""
    body = decode_json_object(raw)
    return body, convert_body(body, struct)
