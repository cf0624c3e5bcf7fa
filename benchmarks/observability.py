"""What observability costs a request: the /metrics on_finish hook, the request-id hook, tracing off.

    python benchmarks/observability.py [--requests 200000]

Calls the hooks exactly as the pipeline does, on realistic finished contexts
(one attempt; every 10th with a retry and a fallback), and times a scrape with
many series. Prints a table and writes benchmarks/results/observability.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from router.dispatch import Attempt  # noqa: E402
from router.gateway import Route  # noqa: E402
from router.metrics import GatewayMetrics  # noqa: E402
from router.observability import tag_request  # noqa: E402
from router.pipeline import Outcome, RequestContext  # noqa: E402
from router.providers.base import Usage  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
MODELS = ["deepseek-v3", "gpt-4o-mini", "deepseek-r1", "gpt-4o", "claude-haiku-4.5", "claude-sonnet-4"]


@dataclass
class _Stats:
    dropped: int = 0
    written: int = 0
    failures: int = 0


@dataclass
class _Writer:
    queued: int = 0
    stats: _Stats = field(default_factory=_Stats)


@dataclass
class _Gateway:
    writer: _Writer = field(default_factory=_Writer)
    dispatcher: object = None
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Model:
    name: str


def contexts(n: int) -> list[RequestContext]:
    made = []
    for i in range(n):
        model = MODELS[i % len(MODELS)]
        attempts = [Attempt(model, "sim", f"sim/{model}", 200, 5.0)]
        if i % 10 == 0:
            attempts = [
                Attempt("gpt-4o", "openai", "openai/gpt-4o", 503, 3.0, "upstream_503"),
                Attempt("gpt-4o", "openai", "openai/gpt-4o", 503, 3.0, "upstream_503"),
                *attempts,
            ]
        outcome = Outcome(
            model=_Model(model),  # type: ignore[arg-type]
            attempts=attempts,
            usage=Usage(120, 80, 0, 16 if i % 3 == 0 else 0),
            cost=Decimal("0.00012345"),
            ttft_ms=40.0 if i % 2 else None,
        )
        ctx = RequestContext(f"req_{i}", "chat", {}, outcome=outcome)
        ctx.route = Route("auto", "simple", "classifier", [], 0.2, 0.1, 1.5)
        made.append(ctx)
    return made


def per_call_ns(func: Any, items: list[RequestContext]) -> float:
    started = time.perf_counter_ns()
    for ctx in items:
        func(ctx)
    return (time.perf_counter_ns() - started) / len(items)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200_000)
    args = parser.parse_args()
    items = contexts(min(args.requests, 1_000_000))
    metrics = GatewayMetrics(_Gateway())  # type: ignore[arg-type]
    per_call_ns(metrics.observe, items[:1000])  # warm-up
    observe_ns = min(per_call_ns(metrics.observe, items) for _ in range(3))

    async def tags() -> float:
        started = time.perf_counter_ns()
        for ctx in items:
            await tag_request(ctx)
        return (time.perf_counter_ns() - started) / len(items)

    tag_ns = min(asyncio.run(tags()) for _ in range(3))
    started = time.perf_counter()
    body = metrics.render()
    render_ms = (time.perf_counter() - started) * 1000
    lines = body.count(b"\n")
    rows = [
        ("metrics on_finish hook", f"{observe_ns / 1000:.2f} µs/request"),
        ("request-id hook", f"{tag_ns / 1000:.2f} µs/request"),
        ("tracing (off)", "0 (no hook installed)"),
        (f"/metrics render ({lines} lines)", f"{render_ms:.2f} ms/scrape"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"observability overhead, {len(items):,} finished requests, Python {platform.python_version()}")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {
        "requests": len(items),
        "metrics_hook_ns": observe_ns,
        "request_id_hook_ns": tag_ns,
        "render_ms": render_ms,
        "render_lines": lines,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    (RESULTS / "observability.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
