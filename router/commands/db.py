"""`tiergate db upgrade|current`."""

from __future__ import annotations

import argparse
import sys

from router.settings import ConfigError, load_settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("db", help="database migrations")
    parser.add_argument("action", choices=["upgrade", "check"])
    parser.add_argument("--config")
    parser.add_argument("--url", help="database URL (default: config / $TIERGATE_DATABASE_URL)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from router.log.store import SchemaBehind, check_schema, make_engine, upgrade

    try:
        url = args.url or load_settings(args.config).database_url
    except ConfigError as exc:
        print(f"tiergate: config error: {exc}", file=sys.stderr)
        return 2
    if args.action == "upgrade":
        upgrade(url)
        print("tiergate: database is at the newest schema", file=sys.stderr)
        return 0
    try:
        check_schema(make_engine(url))
    except SchemaBehind as exc:
        print(f"tiergate: {exc}", file=sys.stderr)
        return 1
    print("tiergate: database schema is current", file=sys.stderr)
    return 0
