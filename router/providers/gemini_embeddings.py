"""Gemini embeddings: `POST {base_url}/models/{model}:batchEmbedContents`, translated to OpenAI's format.

Gemini takes text only (token-id inputs are a 400 here) and reports no token
usage, so the gateway counts the input locally and marks the cost estimated.
`dimensions` becomes `outputDimensionality`; `encoding_format: base64` is
produced here (little-endian float32, as OpenAI encodes it).
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping
from typing import Any

import msgspec

from router.errors import InvalidRequest, UpstreamError
from router.providers.base import Call, Decoded, forwarded_headers, malformed
from router.providers.gemini import map_gemini_error
from router.settings import ProviderConfig
from router.tokens import estimate_text_tokens
from router.upstream import UpstreamRequest

_encoder = msgspec.json.Encoder()


class _Embedding(msgspec.Struct):
    values: list[float]


class _Batch(msgspec.Struct):
    embeddings: list[_Embedding]


_decoder = msgspec.json.Decoder(_Batch)


def _texts(call: Call) -> list[str]:
    raw = call.body.get("input")
    items = [raw] if isinstance(raw, str) else list(raw or [])
    if not all(isinstance(item, str) for item in items):
        raise InvalidRequest("Gemini embeddings take text input only, not token ids", param="input")
    return items


class GeminiEmbeddings:
    def encode_embeddings(self, call: Call, provider: ProviderConfig) -> UpstreamRequest:
        model = f"models/{call.upstream_model}"
        request: dict[str, Any] = {"model": model}
        if call.body.get("dimensions"):
            request["outputDimensionality"] = call.body["dimensions"]
        requests = [{**request, "content": {"parts": [{"text": text}]}} for text in _texts(call)]
        headers = {"content-type": "application/json", "x-request-id": call.request_id, **provider.headers}
        key = provider.api_key()
        if key:
            headers["x-goog-api-key"] = key
        headers.update(forwarded_headers("gemini", call.extra_headers))
        url = f"{provider.base_url.rstrip('/')}/{model}:batchEmbedContents"
        return UpstreamRequest(url=url, headers=headers, body=_encoder.encode({"requests": requests}))

    def decode_embeddings(self, body: bytes, call: Call, provider_name: str) -> Decoded:
        try:
            batch = _decoder.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise malformed(provider_name, "embeddings response") from None
        as_base64 = call.body.get("encoding_format") == "base64"
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": (
                    base64.b64encode(struct.pack(f"<{len(e.values)}f", *e.values)).decode()
                    if as_base64
                    else e.values
                ),
            }
            for i, e in enumerate(batch.embeddings)
        ]
        tokens = sum(estimate_text_tokens(text) for text in _texts(call))
        payload = {
            "object": "list",
            "data": data,
            "model": call.upstream_model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        # usage None: the figure above is our estimate, and the log row says so
        return Decoded(body=_encoder.encode(payload), usage=None)

    def map_error(
        self, status: int, headers: Mapping[str, str], body: bytes, provider_name: str
    ) -> UpstreamError:
        return map_gemini_error(status, headers, body, provider_name)
