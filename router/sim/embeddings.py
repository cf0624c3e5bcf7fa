"""The simulated OpenAI embeddings endpoint (`/{provider}/v1/embeddings`).

Vectors are a pure function of (model, text): unit length, 1536 dimensions
(3072 for a "-large" model) unless `dimensions` asks for fewer, as floats or as
base64 little-endian float32 (what the openai SDK asks for by default).
Identical texts get identical vectors, so similarity code can be tested.
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import struct
from typing import Any

from router.api.asgi import Send
from router.sim.answers import count_tokens
from router.sim.common import SimContext, SimRequest, apply_error_fault, before_response, send_json
from router.sim.gemini import error_body as gemini_error_body
from router.sim.openai import error_body


def parse(provider: str, path: str, body: dict[str, Any], request_id: str | None) -> SimRequest:
    items = _inputs(body.get("input"))
    first = items[0] if items else ""
    prompt = first if isinstance(first, str) else " ".join(map(str, first))
    return SimRequest(provider, "openai", str(body.get("model", "")), body, request_id, False, prompt)


def _inputs(raw: Any) -> list[str | list[int]]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(x, int) for x in raw):
        return [raw]
    return list(raw) if isinstance(raw, list) else []


def vector(model: str, item: str | list[int], dimensions: int) -> list[float]:
    seed = hashlib.sha256(f"{model}\x00{item}".encode()).digest()
    rng = random.Random(seed)
    values = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def _encoded(values: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
    return values


async def handle(ctx: SimContext, request: SimRequest, send: Send) -> int:
    fault = ctx.faults.pick(request.provider, request.model, request.prompt)
    await before_response(ctx, fault)
    status = await apply_error_fault(send, fault, error_body)
    if status is not None:
        return status
    body = request.body
    items = _inputs(body.get("input"))
    if not items:
        await send_json(send, 400, error_body(400, None))
        return 400
    full = 3072 if "large" in request.model else 1536
    dimensions = min(int(body.get("dimensions") or full), full)
    encoding = str(body.get("encoding_format") or "float")
    tokens = sum(len(i) if isinstance(i, list) else count_tokens(i) for i in items)
    payload = {
        "object": "list",
        "data": [
            {
                "object": "embedding",
                "index": n,
                "embedding": _encoded(vector(request.model, item, dimensions), encoding),
            }
            for n, item in enumerate(items)
        ],
        "model": request.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    await send_json(send, 200, payload)
    return 200


# ---- Gemini: /{provider}/v1beta/models/{model}:batchEmbedContents ----


def gemini_parse(provider: str, path: str, body: dict[str, Any], request_id: str | None) -> SimRequest:
    model = path.rsplit("/models/", 1)[-1].partition(":")[0]
    texts = _gemini_texts(body)
    return SimRequest(provider, "gemini", model, body, request_id, False, texts[0] if texts else "")


def _gemini_texts(body: dict[str, Any]) -> list[str]:
    texts = []
    for request in body.get("requests") or []:
        parts = ((request or {}).get("content") or {}).get("parts") or []
        texts.append(" ".join(str(p.get("text", "")) for p in parts if isinstance(p, dict)))
    return texts


async def gemini_handle(ctx: SimContext, request: SimRequest, send: Send) -> int:
    fault = ctx.faults.pick(request.provider, request.model, request.prompt)
    await before_response(ctx, fault)
    status = await apply_error_fault(send, fault, gemini_error_body)
    if status is not None:
        return status
    texts = _gemini_texts(request.body)
    if not texts:
        await send_json(send, 400, gemini_error_body(400, None))
        return 400
    embeddings = []
    for text, item in zip(texts, request.body["requests"], strict=True):
        dimensions = min(int(item.get("outputDimensionality") or 3072), 3072)
        embeddings.append({"values": vector(request.model, text, dimensions)})
    await send_json(send, 200, {"embeddings": embeddings})
    return 200
