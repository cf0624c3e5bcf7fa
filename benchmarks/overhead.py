"""Gateway overhead, measured side by side: the sim directly, the floor, tiergate and LiteLLM's proxy.

One run starts every server as its own process (uvicorn + uvloop + httptools with
router.server_protocol's head-holding transport, one worker each), then walks the
scenario matrix with the targets interleaved (their order rotates from cell to
cell), repeats it `--runs` times and reports medians with their spread. Load: wrk
(non-streaming) and benchmarks/stream_client.py (streams, for the time to first
byte). Everything stays on 127.0.0.1.

    python -m benchmarks.overhead                # the README's table
    python -m benchmarks.overhead --setup-peers  # first create LiteLLM's own venv
    python -m benchmarks.overhead --quick        # a few seconds, no LiteLLM (smoke)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import peers
from benchmarks.load import LoadResult, run_stream_client, run_wrk, wrk_available
from benchmarks.procs import Server, cpu_seconds, free_port, post, rss_mib, settle
from benchmarks.report import render, summarise
from benchmarks.workload import SLOW_STREAM_CHUNK_MS, SLOW_STREAM_MATCH, Scenario, scenarios, slow_stream_body
from router.server_protocol import UVICORN_ARGS

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
# The floor's server command line: what `tiergate serve` runs (router.server_protocol), access log and
# proxy-headers middleware off included, so the floor never pays for something tiergate skips.
UVICORN = [*UVICORN_ARGS, "--log-level", "warning"]
GRANIAN = ["--interface", "asgi", "--host", "127.0.0.1", "--loop", "uvloop", "--no-ws", "--no-access-log"]
GRANIAN += ["--log-level", "warning"]


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def build_servers(args: argparse.Namespace, workdir: Path) -> dict[str, Server]:
    import yaml

    from router.log.store import upgrade
    from router.sim.config import sim_config

    env = {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    sim_port = free_port()
    sim_base = f"http://127.0.0.1:{sim_port}/openai/v1"
    servers: dict[str, Server] = {
        "direct": Server(
            "direct",
            _python("-m", "router.cli", "sim", "--port", str(sim_port), "--keep-attempts", "0"),
            sim_port,
            "/openai/v1/chat/completions",
            env=env,
            cpus=args.sim_cpus,
            log_file=workdir / "sim.log",
        )
    }
    floor_port = free_port()
    if args.server == "granian":
        floor_command = _python("-m", "granian", *GRANIAN, "--port", str(floor_port), "benchmarks.floor:app")
    else:
        floor_command = _python("-m", "uvicorn", "benchmarks.floor:app", "--port", str(floor_port), *UVICORN)
    servers["floor"] = Server(
        "floor",
        floor_command,
        floor_port,
        "/v1/chat/completions",
        env={**env, "FLOOR_UPSTREAM": f"{sim_base}/chat/completions"},
        cpus=args.proxy_cpus,
        log_file=workdir / "floor.log",
    )
    database_url = f"sqlite:///{workdir / 'tiergate.db'}"
    upgrade(database_url)
    config = sim_config(f"http://127.0.0.1:{sim_port}", database_url)
    config_file = workdir / "tiergate.yaml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    tg_port = free_port()
    workers = str(args.tiergate_workers)
    if args.server == "granian":
        command = _python(
            "-m", "granian", *GRANIAN, "--port", str(tg_port), "--workers", workers,
            "--factory", "router.app:app_from_environment",
        )  # fmt: skip
    else:
        command = _python(
            "-m", "router.cli", "serve", "--config", str(config_file), "--port", str(tg_port), "--workers", workers
        )  # fmt: skip
    servers["tiergate"] = Server(
        "tiergate",
        command,
        tg_port,
        "/v1/chat/completions",
        env={**env, "TIERGATE_CONFIG": str(config_file)},
        auth=args.tiergate_key,
        cpus=args.proxy_cpus,
        log_file=workdir / "tiergate.log",
    )
    if args.no_litellm:
        pass
    elif peers.litellm_available():
        ll_port = free_port()
        ll_config = peers.litellm_config(sim_base, "gpt-4o-mini", workdir / "litellm.yaml")
        servers["litellm"] = Server(
            "litellm",
            peers.litellm_command(ll_config, ll_port),
            ll_port,
            "/v1/chat/completions",
            env=peers.litellm_env(),
            auth=peers.MASTER_KEY,
            cpus=args.proxy_cpus,
            log_file=workdir / "litellm.log",
        )
    else:
        print(
            "overhead: LiteLLM is not set up (run with --setup-peers); its rows are skipped",
            file=sys.stderr,
        )
    return servers


def measure(
    server: Server,
    scenario: Scenario,
    body: Path,
    concurrency: int,
    duration: float,
    load_cpus: str | None,
    generator: str = "wrk",
) -> dict[str, Any]:
    cpu_before = cpu_seconds(server.pid)
    result: LoadResult
    if scenario.stream or generator == "python":
        result = run_stream_client(server.url, body, concurrency, duration, auth=server.auth, cpus=load_cpus)
    else:
        result = run_wrk(
            server.url,
            body,
            concurrency,
            duration,
            distinct=scenario.distinct,
            auth=server.auth,
            cpus=load_cpus,
        )
    # CPU a server spends on its backlog after the load stopped belongs to this cell too.
    settled = settle(server.pid)
    cpu = cpu_seconds(server.pid) - cpu_before
    return {
        "settle_s": settled,
        "requests": result.requests,
        "errors": result.errors,
        "rps": result.rps,
        "latency_ms": result.latency_ms,
        "ttfb_ms": result.ttfb_ms,
        "first_byte_before_end": result.first_byte_before_end,
        "cpu_ms_per_request": cpu * 1000 / result.good if result.good else None,
    }


def decision_ms_from_log(database_url_file: Path) -> dict[str, float | None]:
    """tiergate's own record of how long `auto` decisions took (the request log's decision_ms)."""
    import sqlite3

    if not database_url_file.exists():
        return {}
    with sqlite3.connect(database_url_file) as db:
        # Distinct prompts only: a repeated prompt is answered from the classifier's cache.
        rows = db.execute(
            "select decision_ms from requests where tier_source in ('classifier', 'placeholder') "
            "and prompt_hash in (select prompt_hash from requests group by prompt_hash having count(*) = 1)"
        ).fetchall()
    values = sorted(float(r[0]) for r in rows if r[0] is not None)
    if not values:
        return {}
    return {"count": len(values), "p50": values[len(values) // 2], "p99": values[int(len(values) * 0.99)]}


def prepare_classifier() -> None:
    """Build the embedding model's ONNX export before anything is timed: the first start on a machine builds it
    (~10-20 s, torch imported, ~700 MB), once; start-up and RSS are the figures of every later start."""
    started = time.perf_counter()
    subprocess.run(
        _python("-c", "from classifier.embed import onnx_path; onnx_path(True)"),
        env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
        cwd=ROOT,
        check=True,
    )
    print(f"overhead: classifier export ready ({time.perf_counter() - started:.1f} s)", file=sys.stderr)


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.load_generator == "wrk" and not wrk_available():
        raise SystemExit(
            "overhead: wrk is not installed (Debian: apt-get install -y wrk), or use --load-generator python"
        )
    workdir = Path(tempfile.mkdtemp(prefix="tiergate-bench-"))
    concurrencies = tuple(int(c) for c in args.concurrency.split(","))
    matrix = scenarios(concurrencies)
    if args.only:
        matrix = [s for s in matrix if s.name in args.only.split(",")]
    prepare_classifier()
    servers = build_servers(args, workdir)
    probe = workdir / "probe.json"
    probe.write_bytes(
        b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}'
    )
    started: dict[str, Any] = {}
    cells: list[dict[str, Any]] = []
    slow: list[dict[str, Any]] = []
    try:
        for name, server in servers.items():
            server.start(probe.read_bytes(), timeout=180 if name == "litellm" else 60)
            started[name] = {"startup_s": server.startup_s, "rss_mib_idle": rss_mib(server.pid)}
            print(f"overhead: {name} ready in {server.startup_s:.2f} s", file=sys.stderr)
        router = servers["tiergate"].first_headers.get("x-tiergate-router", "?")
        auto_probe = probe.read_bytes().replace(b'"gpt-4o-mini"', b'"auto"')
        scorer = post(servers["tiergate"].port, "/v1/chat/completions", auto_probe, servers["tiergate"].auth)[
            1
        ]
        scorer_name = scorer.get("x-tiergate-router", "?")
        print(f"overhead: tiergate `auto` decided by: {scorer_name} (explicit: {router})", file=sys.stderr)
        bodies = {s.name: s.body_file(workdir) for s in matrix}
        # Warm-up: every target sees every body once at c=16 before anything is recorded.
        for scenario in matrix if args.warmup > 0 else []:
            for name in scenario.targets:
                if name in servers:
                    body = bodies[scenario.name]
                    measure(
                        servers[name], scenario, body, 16, args.warmup, args.load_cpus, args.load_generator
                    )
        turn = 0
        for run_no in range(args.runs):
            for scenario in matrix:
                for concurrency in scenario.concurrencies:
                    names = [n for n in scenario.targets if n in servers]
                    turn += 1
                    order = names[turn % len(names) :] + names[: turn % len(names)]
                    for name in order:
                        cell = measure(
                            servers[name],
                            scenario,
                            bodies[scenario.name],
                            concurrency,
                            args.duration,
                            args.load_cpus,
                            args.load_generator,
                        )
                        cell.update(run=run_no, scenario=scenario.name, concurrency=concurrency, target=name)
                        cells.append(cell)
                        print(
                            f"  run {run_no + 1} {scenario.name:10s} c={concurrency:<3d} {name:9s} "
                            f"{cell['rps']:8.0f} req/s  p50 {cell['latency_ms']['p50']:7.2f} ms"
                            + (f"  ttfb {cell['ttfb_ms']['p50']:6.2f} ms" if cell["ttfb_ms"] else ""),
                            file=sys.stderr,
                        )
        # Pass-through: the sim paces this stream at 2 ms a chunk; the first byte must leave long before the end.
        post(
            servers["direct"].port,
            "/_sim/faults",
            json.dumps({"match": SLOW_STREAM_MATCH, "chunk_ms": SLOW_STREAM_CHUNK_MS}).encode(),
        )
        slow_body = slow_stream_body(workdir)
        for name, server in servers.items():
            result = run_stream_client(server.url, slow_body, 1, min(1.0, args.duration), auth=server.auth)
            slow.append(
                {
                    "target": name,
                    "requests": result.good,
                    "first_byte_before_end": result.first_byte_before_end,
                    "ttfb_ms": result.ttfb_ms.get("p50"),
                    "total_ms": result.latency_ms.get("p50"),
                }
            )
        for name, server in servers.items():
            started[name]["rss_mib_after_load"] = rss_mib(server.pid)
    finally:
        for server in servers.values():
            server.stop()
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "settings": {
            "runs": args.runs,
            "duration_s": args.duration,
            "concurrency": list(concurrencies),
            "load_generator": (
                "wrk -t1 + post.lua (non-streaming)"
                if args.load_generator == "wrk"
                else "benchmarks/stream_client.py (all)"
            )
            + "; benchmarks/stream_client.py on uvloop (streams)",
            "server": f"{args.server} (floor and tiergate), tiergate {args.tiergate_workers} worker(s)",
            "pinning": {"proxy": args.proxy_cpus, "sim": args.sim_cpus, "load": args.load_cpus},
            "auto_decided_by": scorer_name,
            "litellm_version": peers.litellm_version() if "litellm" in servers else None,
        },
        "servers": started,
        "decision_ms_log": decision_ms_from_log(workdir / "tiergate.db"),
        "slow_stream": slow,
        "cells": cells,
    }


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    load = os.getloadavg()
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg_at_end": [round(x, 2) for x in load],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.overhead", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument(
        "--setup-peers", action="store_true", help="create LiteLLM's venv first (pip, a few minutes)"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per cell")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up per target and body")
    parser.add_argument("--concurrency", default="1,16,64,256")
    parser.add_argument("--only", help="comma-separated scenarios (chat,stream,auto20,auto256,autostream)")
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument("--tiergate-workers", type=int, default=1, help="worker processes for tiergate")
    parser.add_argument(
        "--server",
        choices=("uvicorn", "granian"),
        default="uvicorn",
        help="ASGI server for the floor and tiergate (granian: pip install granian)",
    )
    parser.add_argument(
        "--load-generator",
        choices=("wrk", "python"),
        default="wrk",
        help="non-streaming load: wrk (default) or the asyncio client (where wrk is absent; no distinct bodies)",
    )
    parser.add_argument("--tiergate-key", default=None, help="API key to send to tiergate when auth is on")
    parser.add_argument(
        "--proxy-cpus", default=None, help="taskset CPU list for floor/tiergate/LiteLLM, e.g. 1"
    )
    parser.add_argument("--sim-cpus", default=None, help="taskset CPU list for the sim, e.g. 0")
    parser.add_argument("--load-cpus", default=None, help="taskset CPU list for the load generators, e.g. 0")
    parser.add_argument(
        "--quick", action="store_true", help="a tiny run (1 run, 1 s cells, c=1,4, no LiteLLM)"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON path (default benchmarks/results/overhead-<time>.json)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        # Tiny-mode defaults; anything given explicitly on the command line still wins.
        parser.set_defaults(runs=1, duration=0.5, warmup=0.5, concurrency="1,4", no_litellm=True)
        args = parser.parse_args(argv)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.setup_peers:
        peers.setup_litellm()
    result = run(args)
    result["summary"] = summarise(result)
    out = args.out or RESULTS / f"overhead-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(render(result))
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
