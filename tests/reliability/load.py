"""Open-loop load from a separate process: a fixed request rate, whatever the server does.

Run as `python -m tests.reliability.load URL --rate R --seconds S [--body JSON] [--prefix ID]`; prints one JSON
document with every request's id, status, latency and error. Requests are bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from benchmarks.load import open_loop

DEFAULT_BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello from the load test"}]}


@dataclass
class LoadResult:
    results: list[dict[str, Any]]

    @property
    def statuses(self) -> list[int]:
        return [r["status"] for r in self.results]

    def failures(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r["status"] != 200]

    def latencies(self) -> list[float]:
        return sorted(r["latency_s"] for r in self.results)

    def percentile(self, q: float) -> float:
        values = self.latencies()
        return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


async def _run(
    url: str,
    rate: float,
    seconds: float,
    body: dict[str, Any],
    prefix: str,
    timeout: float,
    extra_headers: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    import aiohttp

    results: list[dict[str, Any]] = []
    total = int(rate * seconds)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> None:
            request_id = f"{prefix}-{i}"
            started = time.perf_counter()
            record: dict[str, Any] = {"id": request_id, "sent_at": time.time()}
            try:
                async with session.post(
                    url,
                    json=body,
                    headers={**(extra_headers or {}), "x-request-id": request_id},
                    timeout=aiohttp.ClientTimeout(total=timeout),
                ) as response:
                    payload = await response.read()
                    record["status"] = response.status
                    if response.status != 200:
                        record["error"] = payload[:300].decode("utf-8", "replace")
                        record["retry_after"] = response.headers.get("retry-after")
            except Exception as exc:
                record["status"] = 0
                record["error"] = type(exc).__name__
            record["latency_s"] = time.perf_counter() - started
            results.append(record)

        await open_loop(total, rate, one)
    return results


def run_load(
    url: str,
    *,
    rate: float,
    seconds: float,
    body: dict[str, Any] | None = None,
    prefix: str = "load",
    timeout: float = 30.0,
    headers: dict[str, str] | None = None,
) -> subprocess.Popen[str]:
    """Start the load in its own process; `finish(proc)` collects the result."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.reliability.load",
            url,
            "--rate",
            str(rate),
            "--seconds",
            str(seconds),
            "--body",
            json.dumps(body or DEFAULT_BODY),
            "--prefix",
            prefix,
            "--timeout",
            str(timeout),
            "--headers",
            json.dumps(headers or {}),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 180.0) -> LoadResult:
    out, _ = proc.communicate(timeout=timeout)
    return LoadResult(json.loads(out)["results"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--body", default=json.dumps(DEFAULT_BODY))
    parser.add_argument("--prefix", default="load")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--headers", default="{}", help="extra request headers as a JSON object")
    args = parser.parse_args()
    results = asyncio.run(
        _run(
            args.url,
            args.rate,
            args.seconds,
            json.loads(args.body),
            args.prefix,
            args.timeout,
            json.loads(args.headers),
        )
    )
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
