"""Response cache: exact match on the normalised request, optionally by embedding similarity.

The key covers what changes the answer: the resolved model, the messages (text-only content
normalised to a string), every other parameter except transport ones (`stream_options` apart from
`include_usage`, `user`, `metadata`, `store`, `service_tier`), and the caller's cache scope, so two
keys with different scopes never see each other's answers. Streamed and plain answers are kept
apart (a streamed hit is replayed as the same SSE frames). Only complete, successful answers are
stored; the hooks decide that (see hooks.py).

The semantic index (requests opt in with `x-tiergate-cache: semantic`) lives in this process: it
maps embeddings to exact keys, whose entries may live in Redis.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict, deque
from typing import Any, Protocol

import msgspec
import numpy as np
from redis.asyncio import Redis

from router.keys.config import CacheConfig
from router.keys.redisguard import RedisDown, RedisGuard

_IGNORED = {"model", "stream", "stream_options", "user", "metadata", "store", "service_tier", "tiergate"}
_sorted = msgspec.json.Encoder(order="sorted")


class Entry(msgspec.Struct, array_like=True):
    model: str
    body: bytes | None
    frames: list[bytes] | None
    prompt_tokens: int
    completion_tokens: int
    cost: str


_encode_entry = msgspec.msgpack.Encoder()
_decode_entry = msgspec.msgpack.Decoder(Entry)


class Embedder(Protocol):
    async def embed(self, text: str) -> Any: ...


def _normal_message(message: Any) -> Any:
    if not isinstance(message, dict):
        return message
    content = message.get("content")
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        message = {**message, "content": "".join(str(p.get("text", "")) for p in content)}
    return message


def params_of(body: dict[str, Any]) -> dict[str, Any]:
    params = {k: v for k, v in body.items() if k not in _IGNORED and k != "messages"}
    options = body.get("stream_options")
    params["_usage"] = bool(isinstance(options, dict) and options.get("include_usage"))
    params["_stream"] = bool(body.get("stream"))
    return params


def exact_key(scope: str, model: str, body: dict[str, Any]) -> str:
    material = {
        "scope": scope,
        "model": model,
        "params": params_of(body),
        "messages": [_normal_message(m) for m in body.get("messages") or ()],
    }
    return hashlib.sha256(_sorted.encode(material)).hexdigest()


def bucket_key(scope: str, model: str, body: dict[str, Any]) -> str:
    """Everything but the messages: semantic matches only compare requests alike in all else."""
    return hashlib.sha256(
        _sorted.encode({"scope": scope, "model": model, "params": params_of(body)})
    ).hexdigest()


def conversation_text(messages: list[dict[str, Any]]) -> str:
    parts = []
    for message in messages:
        content = _normal_message(message).get("content")
        parts.append(f"{message.get('role')}: {content if isinstance(content, str) else ''}")
    return "\n".join(parts)


async def _get_bytes(client: Redis, name: str) -> bytes | None:
    value = await client.get(name)
    return value.encode() if isinstance(value, str) else value


class LocalStore:
    def __init__(self, max_entries: int) -> None:
        self.max = max_entries
        self.items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def get(self, key: str) -> bytes | None:
        item = self.items.get(key)
        if item is None:
            return None
        if item[0] <= time.monotonic():
            del self.items[key]
            return None
        self.items.move_to_end(key)
        return item[1]

    def put(self, key: str, value: bytes, ttl: float) -> None:
        self.items[key] = (time.monotonic() + ttl, value)
        self.items.move_to_end(key)
        while len(self.items) > self.max:
            self.items.popitem(last=False)


class SemanticIndex:
    def __init__(self, max_entries: int, threshold: float) -> None:
        self.threshold = threshold
        self.entries: deque[tuple[str, np.ndarray, str]] = deque(maxlen=max_entries)

    @staticmethod
    def unit(vector: Any) -> np.ndarray:
        v = np.asarray(vector, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(v))
        return v / norm if norm > 0 else v

    def nearest(self, bucket: str, vector: np.ndarray) -> str | None:
        best, best_key = self.threshold, None
        for entry_bucket, other, key in self.entries:
            if entry_bucket != bucket or other.shape != vector.shape:
                continue
            similarity = float(np.dot(vector, other))
            if similarity >= best:
                best, best_key = similarity, key
        return best_key

    def add(self, bucket: str, vector: np.ndarray, key: str) -> None:
        self.entries.append((bucket, vector, key))


class ResponseCache:
    def __init__(self, config: CacheConfig, guard: RedisGuard | None) -> None:
        self.config = config
        self.guard = guard
        self.local = LocalStore(config.max_entries)
        self.semantic = SemanticIndex(config.semantic_max_entries, config.semantic_threshold)
        self.hits = 0
        self.misses = 0

    async def get(self, key: str) -> Entry | None:
        raw: bytes | None
        if self.guard is None:
            raw = self.local.get(key)
        else:
            name = f"{self.guard.prefix}cache:{key}"
            try:
                raw = await self.guard.call(lambda client: _get_bytes(client, name))
            except RedisDown:
                raw = None  # the cache is an optimisation: a Redis outage is a miss, never an error
        if raw is None:
            self.misses += 1
            return None
        self.hits += 1
        return _decode_entry.decode(raw)

    async def put(self, key: str, entry: Entry) -> bool:
        raw = _encode_entry.encode(entry)
        if len(raw) > self.config.max_entry_bytes:
            return False
        if self.guard is None:
            self.local.put(key, raw, self.config.ttl_s)
            return True
        name, ttl_ms = f"{self.guard.prefix}cache:{key}", int(self.config.ttl_s * 1000)

        async def store(client: Redis) -> Any:
            return await client.set(name, raw, px=ttl_ms)

        try:
            await self.guard.call(store)
        except RedisDown:
            return False
        return True
