"""`tiergate keys create|list|revoke`: manage virtual keys in the configured database."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from router.wire.text import name_problem


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("keys", help="virtual keys: create, list, revoke")
    parser.add_argument("--config")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a key (its secret is printed once)")
    create.add_argument("--name", required=True, type=_name)
    create.add_argument("--budget-usd", type=_money)
    create.add_argument("--budget-period", choices=["day", "month", "total"], default="month")
    create.add_argument("--rpm", type=_positive, help="requests per minute")
    create.add_argument("--tpm", type=_positive, help="tokens per minute")
    create.add_argument(
        "--models", nargs="+", type=_name, default=[], help="models the key may use (default: all)"
    )
    create.add_argument(
        "--expires", type=_when, help="expiry, ISO 8601 (e.g. 2027-01-31 or 2027-01-31T12:00Z)"
    )
    create.add_argument(
        "--scope", type=_name, help="cache scope: keys sharing it share cached answers (default: the key)"
    )
    revoke = actions.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id")
    listing = actions.add_parser("list", help="list keys (prefixes only)")
    listing.add_argument("--active", action="store_true", help="hide revoked keys")
    for action in (create, revoke, listing):
        # `tiergate keys create --config F ...` as well as `tiergate keys --config F create ...`
        action.add_argument("--config", default=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def _name(text: str) -> str:
    problem = name_problem(text)  # the admin API's rule (router/wire/text.py): what either database stores
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def _money(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _revoke_in_redis(settings: object, key_id: str) -> str:
    from redis import Redis

    config = settings.keys  # type: ignore[attr-defined]
    if config.backend != "redis":
        return "running gateways refuse it within keys.key_cache_ttl_s"
    try:
        client = Redis.from_url(config.redis.url, socket_timeout=2, socket_connect_timeout=2)
        client.sadd(f"{config.redis.prefix}revoked", key_id)
        client.close()
    except Exception as exc:
        return f"could not reach Redis ({type(exc).__name__}): gateways refuse it within keys.key_cache_ttl_s"
    return "every gateway sharing Redis refuses it now"


def run(args: argparse.Namespace) -> int:
    from router.keys.store import KeyStore
    from router.log.store import make_engine
    from router.settings import ConfigError, load_settings

    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"tiergate: config error: {exc}", file=sys.stderr)
        return 2
    store = KeyStore(make_engine(settings.database_url))
    if args.action == "create":
        key, secret = store.create(
            args.name,
            budget_usd=args.budget_usd,
            budget_period=args.budget_period,
            rpm=args.rpm,
            tpm=args.tpm,
            models=args.models,
            expires_at=args.expires,
            scope=args.scope,
        )
        print(secret)
        print(
            f"tiergate: created {key.id} ({key.name}); the key above is shown only this once. "
            "A gateway started before the first key existed runs open: restart it.",
            file=sys.stderr,
        )
        return 0
    if args.action == "revoke":
        revoked = store.revoke(args.key_id)
        if revoked is None:
            print(f"tiergate: no key with id {args.key_id!r}", file=sys.stderr)
            return 1
        print(
            f"tiergate: revoked {revoked.id} ({revoked.prefix}); {_revoke_in_redis(settings, revoked.id)}",
            file=sys.stderr,
        )
        return 0
    rows = store.list(include_revoked=not args.active)
    print(f"{'id':<22} {'name':<20} {'prefix':<14} {'budget':>12} {'rpm':>6} {'tpm':>8}  status")
    for key in rows:
        budget = f"${key.budget_usd:.2f}/{key.budget_period}" if key.budget_usd is not None else "-"
        status = "revoked" if key.revoked_at else "expired" if key.expired() else "active"
        print(
            f"{key.id:<22} {key.name[:20]:<20} {key.prefix:<14} {budget:>12} "
            f"{key.rpm or '-':>6} {key.tpm or '-':>8}  {status}"
        )
    return 0
