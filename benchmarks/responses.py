"""What the Responses API costs on top of chat, per request (CPU only, no network).

    python benchmarks/responses.py [--iterations 2000]

For a Codex-like agent turn (instructions, developer and user messages, a replayed
reasoning item, a function call and its output, a shell tool) it times: parsing
and converting the Responses request into a chat body, turning a 200-word chat
answer into a Response and encoding it, and turning that answer streamed (a word
per chunk) into Responses events. Prints a table and writes JSON under
benchmarks/results/.
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

import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from router.providers.base import Usage  # noqa: E402
from router.responses.convert import from_completion, parse_responses_body, shell, to_chat  # noqa: E402
from router.responses.events import ResponseEvents  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
WORDS = ("the gateway routes each request to a model that answers well at the lowest cost " * 14).split()[
    :200
]
REQUEST: dict[str, Any] = {
    "model": "auto",
    "instructions": "You are a coding agent. " * 40,
    "input": [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "sandbox: on"}]},
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "What is in this repo?"}],
        },
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA" * 40},
        {"type": "function_call", "name": "shell", "arguments": '{"command":["ls"]}', "call_id": "call_1"},
        {"type": "function_call_output", "call_id": "call_1", "output": "README.md\nrouter\n" * 20},
    ],
    "tools": [
        {
            "type": "function",
            "name": "shell",
            "strict": False,
            "parameters": {
                "type": "object",
                "properties": {"command": {"type": "array", "items": {"type": "string"}}},
                "required": ["command"],
            },
        }
    ],
    "stream": True,
    "store": False,
}
COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": " ".join(WORDS)}, "finish_reason": "stop"}
    ],
}
CHUNKS = [
    b"data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": " " + word}}]}).encode() + b"\n\n"
    for word in WORDS
]
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def _request() -> None:
    request = parse_responses_body(_encode(REQUEST))
    to_chat(request, [])


def _response() -> None:
    request = parse_responses_body(_encode({**REQUEST, "stream": False}))
    _encode(from_completion(request, "resp_1", _decode(_encode(COMPLETION)), Usage(900, 200)))


def _stream() -> None:
    request = parse_responses_body(_encode(REQUEST))
    events = ResponseEvents(shell(request, "resp_1", "m"))
    events.start()
    for chunk in CHUNKS:
        events.feed(chunk)
    events.finish(Usage(900, 200))


def measure(function: Callable[[], None], iterations: int) -> float:
    """Median microseconds per call over five rounds."""
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(iterations):
            function()
        rounds.append((time.perf_counter() - started) / iterations * 1e6)
    return statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000)
    args = parser.parse_args()
    rows = {
        "request -> chat body": measure(_request, args.iterations),
        "answer -> Response (200 words)": measure(_response, args.iterations),
        "stream -> events (200 chunks)": measure(_stream, max(1, args.iterations // 10)),
    }
    print(f"{'step':<34} {'µs/request':>10}")
    for name, micros in rows.items():
        print(f"{name:<34} {micros:>10.1f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "responses.json"
    out.write_text(json.dumps({"python": platform.python_version(), "microseconds": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
