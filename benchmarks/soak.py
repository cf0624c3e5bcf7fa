"""Soak (reliability scenario 16): a long open-loop run with one provider failing, watching for leaks.

The gateway (`tiergate serve`) and the sim run as their own processes; this process is the load (open
loop, a fixed rate whatever the gateway does) and the probe: every few seconds it reads the gateway's
RSS and open descriptors from /proc and its asyncio task count from /ready. deepseek (first in the simple
tier) fails `--failure-rate` of its requests with a 500; gpt-4o-mini is up, so clients should see no error.

    python -m benchmarks.soak [--requests 10000] [--rate 100] [--failure-rate 0.3]

Prints a table and writes benchmarks/results/soak.json. Pass figures (issue 13, #16): RSS growth <= 20 MB
after warm-up; descriptors and tasks flat; late latency within 1.5x of early.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from benchmarks.load import open_loop
from benchmarks.procs import Server, free_port, rss_mib
from router.sim.config import sim_config

ROOT = Path(__file__).resolve().parent.parent
BODY = {
    "model": "auto",
    "messages": [{"role": "user", "content": "hello from the soak"}],
    "tiergate": {"tier": "simple"},
}


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def _load(
    url: str, rate: float, total: int, probe: Any, probe_every_s: float
) -> tuple[list[tuple[int, float]], list[dict[str, float]]]:
    import aiohttp

    results: list[tuple[int, float]] = [(0, 0.0)] * total
    samples: list[dict[str, float]] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> None:
            started = time.perf_counter()
            try:
                async with session.post(
                    url,
                    json=BODY,
                    headers={"x-request-id": f"soak-{i}"},
                    timeout=aiohttp.ClientTimeout(total=30),
                ) as response:
                    await response.read()
                    status = response.status
            except Exception:
                status = 0
            results[i] = (status, time.perf_counter() - started)

        async def sampler() -> None:
            while True:
                samples.append(await asyncio.to_thread(probe))
                await asyncio.sleep(probe_every_s)

        sampling = asyncio.create_task(sampler())
        await open_loop(total, rate, one)
        sampling.cancel()
    samples.append(probe())
    return results, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--failure-rate", type=float, default=0.3)
    parser.add_argument("--warmup", type=int, default=1000, help="requests before the baseline is taken")
    parser.add_argument("--window", type=int, default=1000, help="requests in the early and late windows")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "soak.json"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        sim_port, gw_port = free_port(), free_port()
        sim = Server(
            "sim",
            [sys.executable, "-m", "router.cli", "sim", "--port", str(sim_port)],
            sim_port,
            "/openai/v1/chat/completions",
        )
        probe_body = json.dumps(
            {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        ).encode()
        sim.start(probe_body)
        database_url = f"sqlite:///{tmp}/soak.db"
        config = sim_config(f"http://127.0.0.1:{sim_port}", database_url)
        config["routing"]["tiers"]["simple"] = ["deepseek-v3", "gpt-4o-mini"]
        config_path = Path(tmp) / "soak.yaml"
        config_path.write_text(yaml.safe_dump(config))
        env = {"TIERGATE_CONFIG": str(config_path), "TIERGATE_CLASSIFIER__ENABLED": "false"}
        subprocess.run(
            [sys.executable, "-m", "router.cli", "db", "upgrade"],
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        gateway = Server(
            "tiergate",
            [sys.executable, "-m", "router.cli", "serve", "--port", str(gw_port)],
            gw_port,
            "/v1/chat/completions",
            env=env,
            log_file=Path(tmp) / "gateway.log",
        )
        try:
            gateway.start(probe_body)
            httpx.post(
                f"http://127.0.0.1:{sim_port}/_sim/faults",
                json={"provider": "deepseek", "status": 500, "rate": args.failure_rate},
            ).raise_for_status()
            started = time.monotonic()

            def probe() -> dict[str, float]:
                runtime = httpx.get(f"http://127.0.0.1:{gw_port}/ready", timeout=10).json()["checks"][
                    "runtime"
                ]
                return {
                    "t_s": time.monotonic() - started,
                    "rss_mib": rss_mib(gateway.pid),
                    "fds": _fds(gateway.pid),
                    "tasks": runtime["asyncio_tasks"],
                }

            results, samples = asyncio.run(_load(gateway.url, args.rate, args.requests, probe, 5.0))
            attempts = httpx.get(f"http://127.0.0.1:{sim_port}/_sim/attempts").json()["attempts"]
        finally:
            for server in (gateway, sim):
                if server.process is not None:
                    server.stop()

    warm_t = args.warmup / args.rate
    after = [s for s in samples if s["t_s"] >= warm_t] or samples[-1:]
    failures = sum(1 for status, _ in results if status != 200)
    early = [lat for _, lat in results[args.warmup : args.warmup + args.window]]
    late = [lat for _, lat in results[-args.window :]]
    upstream = sum(1 for a in attempts if str(a.get("request_id", "")).startswith("soak-"))
    report: dict[str, Any] = {
        "requests": args.requests,
        "rate": args.rate,
        "failure_rate": args.failure_rate,
        "client_failures": failures,
        "upstream_attempts_per_request": round(upstream / args.requests, 3),
        "rss_mib_after_warmup": round(after[0]["rss_mib"], 1),
        "rss_mib_end": round(samples[-1]["rss_mib"], 1),
        "rss_growth_mib": round(samples[-1]["rss_mib"] - after[0]["rss_mib"], 1),
        "fds_after_warmup": [min(s["fds"] for s in after), max(s["fds"] for s in after)],
        "tasks_after_warmup": [min(s["tasks"] for s in after), max(s["tasks"] for s in after)],
        "early_ms": {"p50": _percentile(early, 0.5) * 1000, "p99": _percentile(early, 0.99) * 1000},
        "late_ms": {"p50": _percentile(late, 0.5) * 1000, "p99": _percentile(late, 0.99) * 1000},
        "late_over_early_p50": round(statistics.median(late) / statistics.median(early), 2),
        "load_average": os.getloadavg(),
        "samples": samples,
    }
    rows = [
        ("client failures", f"{failures} of {args.requests}"),
        ("upstream attempts / request", f"{report['upstream_attempts_per_request']}"),
        ("RSS after warm-up -> end", f"{report['rss_mib_after_warmup']} -> {report['rss_mib_end']} MiB"),
        ("RSS growth", f"{report['rss_growth_mib']} MiB (pass <= 20)"),
        ("open fds after warm-up (min-max)", "{}-{}".format(*report["fds_after_warmup"])),
        ("asyncio tasks after warm-up (min-max)", "{}-{}".format(*report["tasks_after_warmup"])),
        ("early p50 / p99", "{p50:.1f} / {p99:.1f} ms".format(**report["early_ms"])),
        ("late p50 / p99", "{p50:.1f} / {p99:.1f} ms".format(**report["late_ms"])),
        ("late / early p50", f"{report['late_over_early_p50']} (pass <= 1.5)"),
        ("load average", " ".join(f"{x:.1f}" for x in report["load_average"])),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
