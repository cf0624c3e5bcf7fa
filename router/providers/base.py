"""The provider adapter protocol.

The gateway speaks OpenAI's chat format internally. An adapter translates one
call into its provider's dialect and back: encode the request, decode a whole
response, translate a stream, map an error. Adapters own no connections; the
shared `UpstreamClient` carries their bytes. Adding a provider is one module
implementing `ProviderAdapter` plus one line in `registry.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from router.errors import UpstreamError
from router.settings import ProviderConfig
from router.upstream import UpstreamRequest


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_creation_tokens: int = 0

    def as_openai(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
        }


@dataclass(slots=True)
class Call:
    """One attempt's input: the client's OpenAI-format body and where it goes."""

    body: dict[str, Any]
    upstream_model: str
    stream: bool
    client_wants_usage: bool
    request_id: str
    extra_headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Decoded:
    """A whole response in OpenAI's chat.completion format."""

    body: bytes
    usage: Usage | None
    completion_text: str | None = None


class StreamTranslator(Protocol):
    """Turns upstream stream bytes into OpenAI SSE frames (`data: {...}\\n\\n`)."""

    usage: Usage | None
    error: UpstreamError | None
    text_chars: int
    # OpenAI events in the frames returned so far (a frame may hold several): what a stream that breaks has got
    # through, for its log row, counted where the events are read rather than by scanning the bytes again
    events: int

    def feed(self, data: bytes) -> list[bytes]: ...

    def finish(self) -> list[bytes]:
        """Frames to send after upstream EOF: the usage chunk if asked for, then `data: [DONE]`."""
        ...


class ProviderAdapter(Protocol):
    kind: str

    def encode_request(self, call: Call, provider: ProviderConfig) -> UpstreamRequest: ...

    def decode_response(self, body: bytes, call: Call, provider_name: str) -> Decoded: ...

    def stream_translator(self, call: Call, provider_name: str) -> StreamTranslator: ...

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, provider_name: str
    ) -> UpstreamError: ...


def forwarded_headers(kind: str, extra: Mapping[str, str]) -> dict[str, str]:
    """The client headers an adapter of `kind` passes on: `anthropic-*` ones only reach Anthropic."""
    return {k: v for k, v in extra.items() if kind == "anthropic" or not k.startswith("anthropic-")}


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Retry-After in seconds (delta form; `retry-after-ms` first, as OpenAI sends it)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            return None
    return None


def malformed(provider: str, what: str = "response") -> UpstreamError:
    """The provider sent something that does not parse as its API's `what` ("response", "embeddings response",
    "stream event"): not retryable as such, reported in tiergate's words."""
    kind = "malformed_stream" if what == "stream event" else "malformed_response"
    return UpstreamError(f"provider {provider!r} sent a malformed {what}", provider=provider, error_type=kind)


def status_is_retryable(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500


def gateway_status_for(upstream_status: int) -> int:
    """What the client sees for an upstream error status."""
    if upstream_status == 429:
        return 429
    if upstream_status in (503, 529):
        # "Unavailable, come back later" is true of the gateway too when every adequate model says so: clients
        # and their SDKs treat 503 + Retry-After as a pause, 502 as a fault (reliability scenario 2).
        return 503
    if upstream_status >= 500 or upstream_status in (401, 403):
        # The provider's auth failing is our configuration's fault, not the client's.
        return 502
    return upstream_status
