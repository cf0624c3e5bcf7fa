"""Helpers every translating adapter shares: refusals, image parts, tool arguments, OpenAI request fields."""

from __future__ import annotations

import json
from typing import Any

from router.errors import UpstreamError


def untranslatable(provider_name: str, message: str, param: str | None = None) -> UpstreamError:
    """A request this provider cannot serve faithfully: a 400 that says why. Another candidate (of a
    provider that can) is still tried, so `auto` routing and fallbacks keep working."""
    return UpstreamError(
        f"provider {provider_name!r} cannot serve this request: {message}",
        provider=provider_name,
        upstream_status=None,
        retryable=False,
        fallback=True,
        error_type="untranslatable",
        status=400,
        param=param,
        code="unsupported_parameter",
    )


def refuse_openai_only(body: dict[str, Any], provider_name: str) -> None:
    """OpenAI-only fields whose absence a client would notice: refused rather than dropped."""
    n = body.get("n")
    if isinstance(n, int) and n > 1:
        raise untranslatable(provider_name, "n > 1 (several choices) has no equivalent", "n")
    if body.get("logprobs") or body.get("top_logprobs"):
        raise untranslatable(provider_name, "logprobs are not available", "logprobs")
    if body.get("audio") is not None or "audio" in (body.get("modalities") or ()):
        raise untranslatable(provider_name, "audio output is not available", "modalities")


def data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 data) of a `data:<type>;base64,<data>` URL, else None."""
    if not url.startswith("data:"):
        return None
    head, sep, data = url[5:].partition(",")
    if not sep or not head.endswith(";base64"):
        return None
    return head[: -len(";base64")] or "application/octet-stream", data


_IMAGE_TYPES = {"png": "image/png", "gif": "image/gif", "webp": "image/webp", "jpg": "image/jpeg"}


def guess_image_type(url: str) -> str:
    tail = url.split("?", 1)[0].rsplit(".", 1)[-1].lower()
    return _IMAGE_TYPES.get(tail, "image/jpeg")


def image_url_of(part: dict[str, Any]) -> str:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    return url if isinstance(url, str) else ""


def arguments_object(arguments: str, provider_name: str) -> Any:
    """An assistant tool call's `arguments` (a JSON string in OpenAI's format) as a JSON value."""
    if not arguments:
        return {}
    try:
        return json.loads(arguments)
    except ValueError:
        raise untranslatable(
            provider_name, "an assistant tool call's arguments are not valid JSON", "messages"
        ) from None


def tool_result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def stop_list(stop: Any) -> list[str]:
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list):
        return [s for s in stop if isinstance(s, str)]
    return []


def output_limit(body: dict[str, Any]) -> int | None:
    value = body.get("max_completion_tokens") or body.get("max_tokens")
    return value if isinstance(value, int) else None


def response_schema(body: dict[str, Any]) -> tuple[str, dict[str, Any] | None] | None:
    """('json_schema', schema) or ('json_object', None) from `response_format`, else None."""
    fmt = body.get("response_format")
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema") or {}
        schema = spec.get("schema") if isinstance(spec, dict) else None
        return "json_schema", schema if isinstance(schema, dict) else {"type": "object"}
    if fmt.get("type") == "json_object":
        return "json_object", None
    return None
