"""Embeddings, per provider dialect: a second, smaller protocol beside the chat adapter.

Not every dialect has embeddings (Anthropic does not), so they are not part of
`ProviderAdapter`: a dialect that offers them registers an `EmbeddingsAdapter`
here, and `/v1/embeddings` only dispatches to providers whose kind is listed.
The gateway speaks OpenAI's embeddings format; an adapter translates a call to
its provider and the answer back, like the chat adapters do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import msgspec

from router.catalog import Deployment
from router.errors import UpstreamError
from router.providers.base import Call, Decoded, Usage, malformed
from router.providers.gemini_embeddings import GeminiEmbeddings
from router.providers.openai_compat import upstream_error_from
from router.settings import ProviderConfig
from router.upstream import UpstreamRequest

_encoder = msgspec.json.Encoder()


class EmbeddingsAdapter(Protocol):
    def encode_embeddings(self, call: Call, provider: ProviderConfig) -> UpstreamRequest: ...

    def decode_embeddings(self, body: bytes, call: Call, provider_name: str) -> Decoded: ...

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, provider_name: str
    ) -> UpstreamError: ...


class _Usage(msgspec.Struct):
    prompt_tokens: int = 0


class _Embeddings(msgspec.Struct):
    data: list[Any]
    usage: _Usage | None = None


_decoder = msgspec.json.Decoder(_Embeddings)


class OpenAIEmbeddings:
    """`POST {base_url}/embeddings`, passed through with the upstream model id."""

    def encode_embeddings(self, call: Call, provider: ProviderConfig) -> UpstreamRequest:
        body = {**call.body, "model": call.upstream_model}
        headers = {"content-type": "application/json", "x-request-id": call.request_id, **provider.headers}
        key = provider.api_key()
        if key:
            headers["authorization"] = f"Bearer {key}"
        return UpstreamRequest(
            url=provider.base_url.rstrip("/") + "/embeddings", headers=headers, body=_encoder.encode(body)
        )

    def decode_embeddings(self, body: bytes, call: Call, provider_name: str) -> Decoded:
        try:
            parsed = _decoder.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise malformed(provider_name, "embeddings response") from None
        usage = Usage(prompt_tokens=parsed.usage.prompt_tokens) if parsed.usage is not None else None
        return Decoded(body=body, usage=usage)

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, provider_name: str
    ) -> UpstreamError:
        return upstream_error_from(status, headers, body, provider_name)


EMBEDDING_ADAPTERS: dict[str, EmbeddingsAdapter] = {
    "openai": OpenAIEmbeddings(),
    "gemini": GeminiEmbeddings(),
}


class EmbeddingsCodec:
    """The dispatcher's `Codec` for embeddings: each deployment's kind picks its adapter."""

    def _adapter(self, deployment: Deployment) -> EmbeddingsAdapter:
        return EMBEDDING_ADAPTERS[deployment.provider.kind]

    def encode(self, deployment: Deployment, call: Call) -> UpstreamRequest:
        return self._adapter(deployment).encode_embeddings(call, deployment.provider)

    def decode(self, deployment: Deployment, body: bytes, call: Call) -> Decoded:
        return self._adapter(deployment).decode_embeddings(body, call, deployment.provider_name)

    def map_error(
        self, deployment: Deployment, status: int, headers: Mapping[str, str], body: bytes
    ) -> UpstreamError:
        return self._adapter(deployment).map_error(status, headers, body, deployment.provider_name)
