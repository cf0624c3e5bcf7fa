"""The two load generators, each its own process so neither shares an interpreter with a server.

Non-streaming cells use wrk (Debian's package, C, one thread) with post.lua for
POST bodies; stream cells use benchmarks/stream_client.py (asyncio on uvloop),
because wrk cannot report the time to the first byte. Both return the same shape:
requests, errors, req/s and latency percentiles in milliseconds.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "benchmarks" / "post.lua"


@dataclass
class LoadResult:
    requests: int
    errors: int
    duration_s: float
    latency_ms: dict[str, float]
    ttfb_ms: dict[str, float] = field(default_factory=dict)
    first_byte_before_end: int = 0

    @property
    def good(self) -> int:
        return max(0, self.requests - self.errors)

    @property
    def rps(self) -> float:
        return self.good / self.duration_s if self.duration_s > 0 else 0.0


_INVOCATIONS = itertools.count(1)
_RUN = random.randint(100, 999)


def _invocation_tag() -> str:
    """Short and decimal: a hex tag would add a dozen word pieces to a 20-token prompt the classifier embeds."""
    return f"{_RUN}{next(_INVOCATIONS)}"


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def _taskset(cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus] if cpus else []


def run_wrk(
    url: str,
    body_file: Path,
    concurrency: int,
    duration_s: float,
    *,
    distinct: bool = False,
    auth: str | None = None,
    cpus: str | None = None,
) -> LoadResult:
    seconds = max(1, round(duration_s))
    command = [
        *_taskset(cpus),
        "wrk",
        "-t1",
        f"-c{concurrency}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        url,
        "--",
        str(body_file),
        "distinct" if distinct else "same",
        auth or "",
        _invocation_tag(),  # distinct bodies never repeat across invocations
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    line = next((x for x in reversed(done.stdout.splitlines()) if x.startswith("{")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no summary: {done.stdout[-500:]} {done.stderr[-500:]}")
    data = json.loads(line)
    errors = data["errors"]
    failed = errors["status"] + errors["timeout"] + errors["read"] + errors["write"] + errors["connect"]
    latency = {k: data["latency_us"][k] / 1000 for k in ("p50", "p90", "p99")}
    return LoadResult(
        requests=int(data["requests"]),
        errors=int(min(failed, data["requests"])),
        duration_s=data["duration_us"] / 1e6,
        latency_ms=latency,
    )


def run_stream_client(
    url: str,
    body_file: Path,
    concurrency: int,
    duration_s: float,
    *,
    auth: str | None = None,
    cpus: str | None = None,
) -> LoadResult:
    command = [
        *_taskset(cpus),
        sys.executable,
        "-m",
        "benchmarks.stream_client",
        url,
        str(body_file),
        "-c",
        str(concurrency),
        "-d",
        str(duration_s),
    ]
    if auth:
        command += ["--auth", auth]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration_s + 90, check=False, cwd=ROOT
    )
    line = next((x for x in reversed(done.stdout.splitlines()) if x.startswith("{")), None)
    if line is None:
        raise RuntimeError(f"stream client gave no summary: {done.stderr[-800:]}")
    data = json.loads(line)
    return LoadResult(
        requests=int(data["requests"]) + int(data["errors"]) + int(data["status_errors"]),
        errors=int(data["errors"]) + int(data["status_errors"]),
        duration_s=float(data["duration_s"]),
        latency_ms=data["latency_ms"],
        ttfb_ms=data["ttfb_ms"],
        first_byte_before_end=int(data["first_byte_before_end"]),
    )


async def open_loop(total: int, rate: float, one: Callable[[int], Awaitable[None]]) -> None:
    """Start `one(i)` for i in 0..total-1 at `rate` per second on a fixed schedule (open loop: a slow server
    does not slow the arrivals), then wait for all of them."""
    tasks = []
    start = time.perf_counter()
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
