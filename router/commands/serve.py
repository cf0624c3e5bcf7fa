"""`tiergate serve`: the gateway."""

from __future__ import annotations

import argparse
import os
import sys

from router.log.store import SchemaBehind, check_schema, make_engine
from router.settings import ConfigError, load_settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("serve", help="run the gateway")
    parser.add_argument(
        "--config", help="YAML config file (default: $TIERGATE_CONFIG, else provider keys in env)"
    )
    parser.add_argument("--host", help="bind address (default from config: 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default from config: 8080)")
    parser.add_argument("--workers", type=int, help="worker processes (default from config: 1)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from router.server_protocol import UVICORN_SERVER

    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"tiergate: config error: {exc}", file=sys.stderr)
        return 2
    try:
        check_schema(make_engine(settings.database_url))
    except SchemaBehind as exc:
        print(f"tiergate: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        print(f"tiergate: cannot reach the database: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if args.config:
        os.environ["TIERGATE_CONFIG"] = os.path.abspath(args.config)
    host = args.host or settings.server.host
    port = args.port or settings.server.port
    workers = args.workers or settings.server.workers
    from router.keys.openmode import check as check_open_mode

    allowed, message = check_open_mode(settings.database_url, host)
    if message:
        print(message, file=sys.stderr)
    if not allowed:
        return 2
    print(
        f"tiergate: serving on http://{host}:{port} ({workers} worker(s), config {settings.source})",
        file=sys.stderr,
    )
    uvicorn.run(
        "router.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **UVICORN_SERVER,
        log_level="warning",
        timeout_graceful_shutdown=10,
    )
    return 0
