"""A lean load client for SSE streams, run as its own process (wrk cannot see the first byte).

C keep-alive HTTP/1.1 connections on uvloop each POST the same body in a loop for
D seconds and read the chunked response to its end. Per request it records the
time to the first `data:` byte of the body (TTFB) and to the end. Parsing is the
minimum HTTP/1.1 needs (status line, content-length or chunked), so the client
stays cheap next to the server it measures. Prints one JSON object.

    python -m benchmarks.stream_client URL BODY_FILE -c 16 -d 3 [--auth KEY]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlsplit

import uvloop


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    at = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[at]


class Stats:
    def __init__(self) -> None:
        self.ttfb: list[float] = []
        self.total: list[float] = []
        self.errors = 0
        self.status_errors = 0
        self.first_before_end = 0


async def read_response(reader: asyncio.StreamReader, started: float, stats: Stats) -> bool:
    """Reads one response; returns whether the connection can be reused."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    first: float | None = None
    if b"transfer-encoding: chunked" in lower:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            data = await reader.readexactly(size + 2)
            if first is None and b"data:" in data:
                first = time.perf_counter()
    else:
        at = lower.find(b"content-length:")
        length = int(lower[at + 15 : lower.index(b"\r\n", at)]) if at >= 0 else 0
        if length:
            await reader.readexactly(length)
        first = time.perf_counter()
    end = time.perf_counter()
    if status != 200:
        stats.status_errors += 1
        return b"connection: close" not in lower
    stats.ttfb.append((first or end) - started)
    stats.total.append(end - started)
    if first is not None and end - first > 0.25 * (end - started):
        stats.first_before_end += 1
    return b"connection: close" not in lower


async def connection(host: str, port: int, request: bytes, deadline: float, stats: Stats) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while time.perf_counter() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            assert reader is not None
            started = time.perf_counter()
            writer.write(request)
            remaining = deadline + 10 - time.perf_counter()
            reusable = await asyncio.wait_for(read_response(reader, started, stats), remaining)
            if not reusable:
                writer.close()
                writer = None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, TimeoutError):
            stats.errors += 1
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


async def run(
    url: str, body: bytes, concurrency: int, duration: float, auth: str | None
) -> dict[str, object]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    headers = [
        f"POST {parts.path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if auth:
        headers.append(f"Authorization: Bearer {auth}")
    request = ("\r\n".join(headers) + "\r\n\r\n").encode() + body
    stats = Stats()
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(*(connection(host, port, request, deadline, stats) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    ttfb, total = sorted(stats.ttfb), sorted(stats.total)
    ms = 1000.0
    return {
        "requests": len(total),
        "duration_s": elapsed,
        "errors": stats.errors,
        "status_errors": stats.status_errors,
        "first_byte_before_end": stats.first_before_end,
        "latency_ms": {q: percentile(total, p) * ms for q, p in (("p50", 50), ("p90", 90), ("p99", 99))},
        "ttfb_ms": {q: percentile(ttfb, p) * ms for q, p in (("p50", 50), ("p90", 90), ("p99", 99))},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("url")
    parser.add_argument("body_file")
    parser.add_argument("-c", type=int, default=16)
    parser.add_argument("-d", type=float, default=3.0)
    parser.add_argument("--auth")
    args = parser.parse_args()
    body = Path(args.body_file).read_bytes()
    result = uvloop.run(run(args.url, body, args.c, args.d, args.auth))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
