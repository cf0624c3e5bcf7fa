"""Translation cost per request for each provider adapter (CPU only, no network).

    python benchmarks/translation.py [--iterations 2000]

For a typical agent turn (system prompt, a few turns, two tools, a tool result)
it times, per adapter: encoding the OpenAI request into the provider's body,
decoding a 200-word answer back into OpenAI's chat.completion, and translating
that answer streamed (a word per event; Gemini three) into OpenAI chunks. Prints a table and
writes JSON under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from router.providers.base import Call, ProviderAdapter  # noqa: E402
from router.providers.registry import ADAPTERS  # noqa: E402
from router.settings import ProviderConfig  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
WORDS = ("the gateway routes each request to a model that answers well at the lowest cost " * 14).split()[
    :200
]
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
BODY: dict[str, Any] = {
    "model": "m",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant. " * 20},
        {"role": "user", "content": "What is the weather in Paris and Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny, 21C"},
        {"role": "user", "content": "And what should I wear? " * 10},
    ],
    "tools": [TOOL, {**TOOL, "function": {**TOOL["function"], "name": "get_time"}}],
    "max_tokens": 500,
    "temperature": 0.3,
}
TEXT = " ".join(WORDS)


def responses(kind: str) -> tuple[bytes, bytes]:
    """(whole response, stream bytes) in the provider's own format."""
    if kind == "anthropic":
        whole = {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "m",
            "content": [{"type": "text", "text": TEXT}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 300, "output_tokens": 260},
        }
        events = [
            (
                "message_start",
                {"type": "message_start", "message": {**whole, "content": [], "stop_reason": None}},
            ),
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            ),
        ]
        events += [
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " " + w}},
            )
            for w in WORDS
        ]
        events += [
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn"},
                    "usage": {"output_tokens": 260},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
        stream = b"".join(f"event: {n}\ndata: {json.dumps(d)}\n\n".encode() for n, d in events)
        return json.dumps(whole).encode(), stream
    if kind == "gemini":

        def response(text: str, last: bool) -> dict[str, Any]:
            candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
            if last:
                candidate["finishReason"] = "STOP"
            return {
                "candidates": [candidate],
                "usageMetadata": {"promptTokenCount": 300, "candidatesTokenCount": 260},
                "modelVersion": "m",
                "responseId": "r",
            }

        chunks = [" ".join(WORDS[i : i + 3]) + " " for i in range(0, len(WORDS), 3)]
        stream = b"".join(
            b"data: " + json.dumps(response(c, i == len(chunks) - 1)).encode() + b"\r\n\r\n"
            for i, c in enumerate(chunks)
        )
        return json.dumps(response(TEXT, True)).encode(), stream
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    whole = {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": TEXT}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 300, "completion_tokens": 260, "total_tokens": 560},
    }
    frames = [
        {**base, "choices": [{"index": 0, "delta": {"content": " " + w}, "finish_reason": None}]}
        for w in WORDS
    ]
    frames.append({**base, "choices": [], "usage": whole["usage"]})
    stream = b"".join(b"data: " + json.dumps(f).encode() + b"\n\n" for f in frames) + b"data: [DONE]\n\n"
    return json.dumps(whole).encode(), stream


def per_call_us(fn: Callable[[], object], iterations: int) -> float:
    for _ in range(min(100, iterations)):
        fn()
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(iterations):
            fn()
        runs.append((time.perf_counter() - started) / iterations * 1e6)
    return statistics.median(runs)


def measure(kind: str, adapter: ProviderAdapter, iterations: int) -> dict[str, float]:
    provider = ProviderConfig(base_url="http://127.0.0.1:1/v1", kind=kind)  # type: ignore[arg-type]
    whole, stream = responses(kind)
    call = Call(BODY, "m", False, True, "req")
    streaming = Call(BODY, "m", True, True, "req")
    pieces = [stream[i : i + 1400] for i in range(0, len(stream), 1400)]  # ~one TCP segment at a time

    def translate() -> None:
        translator = adapter.stream_translator(streaming, kind)
        for piece in pieces:
            translator.feed(piece)
        translator.finish()

    return {
        "encode_us": per_call_us(lambda: adapter.encode_request(call, provider), iterations),
        "decode_us": per_call_us(lambda: adapter.decode_response(whole, call, kind), iterations),
        "stream_us": per_call_us(translate, max(1, iterations // 10)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000)
    args = parser.parse_args()
    rows = {kind: measure(kind, adapter, args.iterations) for kind, adapter in ADAPTERS.items()}
    print(f"{'adapter':<10} {'encode µs':>10} {'decode µs':>10} {'stream µs':>10}   (200-word answer)")
    for kind, row in rows.items():
        print(f"{kind:<10} {row['encode_us']:>10.1f} {row['decode_us']:>10.1f} {row['stream_us']:>10.1f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "translation.json"
    out.write_text(
        json.dumps(
            {"python": platform.python_version(), "iterations": args.iterations, "adapters": rows}, indent=2
        )
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
