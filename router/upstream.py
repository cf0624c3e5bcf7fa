"""The one place the hot-path HTTP client library is used.

aiohttp was chosen by measurement on this machine: a bare pass-through reached
~10,500 req/s on one shared aiohttp session against ~700 on httpx.AsyncClient
(README, "Performance"). Everything above this module sees only
`UpstreamRequest`, `UpstreamResponse` and `TransportError`, so the library can be
swapped without touching providers or dispatch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Literal

import aiohttp

from router.settings import Timeouts

TransportFailure = Literal["connect", "timeout", "reset"]


class TransportError(Exception):
    def __init__(self, kind: TransportFailure, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    url: str
    headers: Mapping[str, str]
    body: bytes
    method: str = "POST"


class UpstreamResponse:
    """An open response; the caller must `release()` it (or read it whole)."""

    __slots__ = ("_response", "headers", "status")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise TransportError("timeout", "reading the response body timed out") from exc
        except aiohttp.ClientError as exc:
            raise TransportError("reset", type(exc).__name__) from exc
        finally:
            self._response.release()

    async def iter_chunks(self) -> AsyncGenerator[bytes, None]:
        """Bytes as they arrive from the socket, never buffered whole."""
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise TransportError("timeout", "the stream stalled") from exc
        except aiohttp.ClientError as exc:
            raise TransportError("reset", type(exc).__name__) from exc

    def at_eof(self) -> bool:
        """Every byte of the body has been read, its end included: another read would end at once."""
        return bool(self._response.content.at_eof())

    def release(self) -> None:
        self._response.release()

    def close(self) -> None:
        """Drop the connection (used when the client went away mid-stream)."""
        self._response.close()


class UpstreamClient:
    """One shared connection pool for every provider; providers own no connections."""

    def __init__(self, *, max_connections: int = 512, max_per_host: int = 256) -> None:
        self._max_connections = max_connections
        self._max_per_host = max_per_host
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[Timeouts, aiohttp.ClientTimeout] = {}

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                limit_per_host=self._max_per_host,
                keepalive_timeout=30,
                ttl_dns_cache=300,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                skip_auto_headers=("User-Agent",),
                auto_decompress=True,
                # one session serves every client: a cookie one upstream response set must not ride along on
                # another client's request
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    def _timeout(self, timeouts: Timeouts) -> aiohttp.ClientTimeout:
        # Built once per provider config: constructing one per request showed up in the profile.
        timeout = self._timeouts.get(timeouts)
        if timeout is None:
            timeout = aiohttp.ClientTimeout(
                total=timeouts.total_s, sock_connect=timeouts.connect_s, sock_read=timeouts.first_byte_s
            )
            self._timeouts[timeouts] = timeout
        return timeout

    async def send(self, request: UpstreamRequest, timeouts: Timeouts) -> UpstreamResponse:
        try:
            response = await self._get_session().request(
                request.method,
                request.url,
                headers=request.headers,
                data=request.body,
                timeout=self._timeout(timeouts),
            )
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise TransportError("timeout", "no response headers before the deadline") from exc
        except aiohttp.ClientConnectorError as exc:
            raise TransportError("connect", "connection refused or unreachable") from exc
        except aiohttp.ClientError as exc:
            raise TransportError("reset", type(exc).__name__) from exc
        return UpstreamResponse(response)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
            await asyncio.sleep(0)
