"""Open mode: with no master key and no keys, the gateway serves without authentication, and only on
loopback (anyone who can reach a non-loopback address would otherwise spend the provider keys)."""

from __future__ import annotations

import ipaddress
import os

from router.keys.admin import MASTER_ENV


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check(database_url: str, host: str) -> tuple[bool, str | None]:
    """(may start, message to print). Counts keys in the store (an unreachable store is not `open`)."""
    from router.keys.store import KeyStore
    from router.log.store import make_engine

    if os.environ.get(MASTER_ENV):
        return True, None
    engine = make_engine(database_url)
    try:
        active = KeyStore(engine).count_active()
    except Exception:
        return True, None
    finally:
        engine.dispose()
    if active:
        return True, None
    if not is_loopback(host):
        return False, (
            f"tiergate: refusing to serve on {host}: no master key (${MASTER_ENV}) and no keys exist, so "
            "the gateway would be open to anyone who can reach it. Set $TIERGATE_MASTER_KEY or create a "
            "key (`tiergate keys create --name N`), or bind to 127.0.0.1."
        )
    return True, (
        "tiergate: OPEN mode: no master key and no keys, so requests are not authenticated; "
        "serving on loopback only"
    )
