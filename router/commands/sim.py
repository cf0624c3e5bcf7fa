"""`tiergate sim`: simulated providers on loopback."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from router.sim.faults import KEEP_ATTEMPTS


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sim", help="run simulated providers (OpenAI, Anthropic and Gemini wire formats, faults)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9090)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added before every response")
    parser.add_argument("--chunk-ms", type=float, default=0.0, help="pause between stream chunks")
    parser.add_argument(
        "--keep-attempts",
        type=int,
        default=KEEP_ATTEMPTS,
        help="attempts kept for /_sim/attempts (0: none, as the benchmarks run it: after 40 s at c=64 the kept "
        "records had the sim's own c=1 p99 at 1.2-1.3 ms, against 0.6-1.1 ms keeping none)",
    )
    parser.add_argument("--write-config", metavar="FILE", help="write a gateway config pointing at this sim")
    parser.add_argument("--database-url", default="sqlite:///tiergate.db", help="for --write-config")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from router.server_protocol import UVICORN_SERVER
    from router.sim.app import create_sim_app
    from router.sim.config import sim_config

    if args.write_config:
        config = sim_config(f"http://{args.host}:{args.port}", args.database_url)
        Path(args.write_config).write_text(yaml.safe_dump(config, sort_keys=False))
        print(f"tiergate sim: wrote {args.write_config}", file=sys.stderr)
    print(f"tiergate sim: listening on http://{args.host}:{args.port}", file=sys.stderr)
    uvicorn.run(
        create_sim_app(args.latency_ms, args.chunk_ms, args.keep_attempts),
        host=args.host,
        port=args.port,
        **UVICORN_SERVER,
        log_level="warning",
    )
    return 0
