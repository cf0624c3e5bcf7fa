"""The console's login session: a signed, HTTP-only, SameSite=Strict cookie.

The cookie holds no secret: `<expiry>.<nonce>.<signature>`, signed with a key
derived from the master key, so rotating the master key ends every session.
Forms carry a CSRF token derived from the session (SameSite already stops
cross-site posts; the token is the second lock). Logout remembers the nonce
in this process so the cookie cannot be replayed here after it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from litestar import Request

COOKIE = "tiergate_console"
LIFETIME_S = 12 * 3600
CONSOLE_HEADER = (
    "x-tiergate-console"  # the playground's fetches set it: a header cross-site pages cannot send
)


@dataclass
class ConsoleAuth:
    master_key: str | None
    _secret: bytes = b""
    _logged_out: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.master_key:
            self._secret = hmac.new(
                self.master_key.encode(), b"tiergate-console-session/1", "sha256"
            ).digest()

    @classmethod
    def from_environment(cls) -> ConsoleAuth:
        return cls(os.environ.get("TIERGATE_MASTER_KEY") or None)

    @property
    def enabled(self) -> bool:
        return bool(self.master_key)

    def check_key(self, candidate: str) -> bool:
        if not self.master_key:
            return False
        return hmac.compare_digest(candidate.encode(), self.master_key.encode())

    def _sign(self, payload: str) -> str:
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()

    def issue(self, now: float | None = None) -> str:
        expires = int((now or time.time()) + LIFETIME_S)
        payload = f"{expires}.{secrets.token_hex(12)}"
        return f"{payload}.{self._sign(payload)}"

    def verify(self, cookie: str | None, now: float | None = None) -> str | None:
        """The session's nonce when `cookie` is a live session, else None."""
        if not cookie or not self.enabled:
            return None
        parts = cookie.split(".")
        if len(parts) != 3 or not parts[0].isdigit():
            return None
        payload = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(self._sign(payload), parts[2]):
            return None
        if int(parts[0]) < (now or time.time()) or parts[1] in self._logged_out:
            return None
        return parts[1]

    def csrf_token(self, nonce: str) -> str:
        return self._sign(f"csrf.{nonce}")[:32]

    def check_csrf(self, nonce: str, token: str) -> bool:
        return hmac.compare_digest(self.csrf_token(nonce), token)

    def log_out(self, nonce: str) -> None:
        self._logged_out.add(nonce)

    def session_of(self, request: Request[Any, Any, Any]) -> str | None:
        return self.verify(request.cookies.get(COOKIE))

    def cookie_from_header(self, header: str) -> str | None:
        for part in header.split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE:
                return value
        return None
