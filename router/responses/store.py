"""Stored Responses conversations, in the gateway's SQL database, for `previous_response_id`.

Each row keeps the whole chat history up to and including that response (one
read serves the next turn, however long the chain), plus the Response object.
A row is written before the response is returned, so a client may chain on it
at once. Rows expire after `responses.retention_hours`: an expired row is never
served, and a background task deletes them. A row written under an API key is
only served to that key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, insert, select

from router.errors import NotFound, ServiceUnavailable
from router.log.schema import ID_LENGTH, stored_responses
from router.log.store import make_engine
from router.settings import ResponsesConfig
from router.wire.text import plain_id

log = logging.getLogger("tiergate.responses")


@dataclass(slots=True)
class StoredResponse:
    id: str
    history: list[dict[str, Any]]
    response: dict[str, Any]


class ResponseStore:
    def __init__(self, engine: Engine, config: ResponsesConfig) -> None:
        self.engine = engine
        self.config = config
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tiergate-responses")
        self._purger: asyncio.Task[None] | None = None

    @classmethod
    def open(cls, database_url: str, config: ResponsesConfig) -> ResponseStore:
        return cls(make_engine(database_url), config)

    async def _run(self, function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _save(self, row: dict[str, Any]) -> None:
        with self.engine.begin() as connection:
            connection.execute(insert(stored_responses), [row])

    async def save(
        self,
        response_id: str,
        key_id: str | None,
        model: str,
        history: list[dict[str, Any]],
        response: dict[str, Any],
    ) -> None:
        now = datetime.now(UTC)
        row = {
            "id": response_id,
            "created_at": now,
            "expires_at": now + timedelta(hours=self.config.retention_hours),
            "key_id": key_id,
            "model": model,
            "history": history,
            "response": response,
        }
        await self._run(self._save, row)

    def _load(self, response_id: str, key_id: str | None) -> StoredResponse | None:
        if not plain_id(response_id, ID_LENGTH):
            # Never one of ours (`resp_` + 32 hex): not found. Asked of PostgreSQL, a NUL was its DataError, and the
            # client was told the database was down (503).
            return None
        query = select(
            stored_responses.c.id,
            stored_responses.c.key_id,
            stored_responses.c.history,
            stored_responses.c.response,
            stored_responses.c.expires_at,
        ).where(stored_responses.c.id == response_id)
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None or (row.key_id is not None and row.key_id != key_id):
            return None
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
        if expires <= datetime.now(UTC):
            return None
        return StoredResponse(row.id, list(row.history), dict(row.response))

    async def load(self, response_id: str, key_id: str | None, param: str) -> StoredResponse:
        try:
            stored: StoredResponse | None = await self._run(self._load, response_id, key_id)
        except Exception as exc:  # the database is down: say so, in OpenAI's error shape
            log.warning("reading a stored response failed: %s", type(exc).__name__)
            raise ServiceUnavailable("the stored-response database is unavailable; retry shortly") from None
        if stored is None:
            raise NotFound(f"Response with id '{response_id}' not found.", param=param)
        return stored

    def _delete(self, response_id: str, key_id: str | None) -> bool:
        if self._load(response_id, key_id) is None:
            return False
        with self.engine.begin() as connection:
            connection.execute(delete(stored_responses).where(stored_responses.c.id == response_id))
        return True

    async def delete(self, response_id: str, key_id: str | None) -> None:
        if not await self._run(self._delete, response_id, key_id):
            raise NotFound(f"Response with id '{response_id}' not found.", param="response_id")

    def _purge(self, now: datetime) -> int:
        with self.engine.begin() as connection:
            result = connection.execute(delete(stored_responses).where(stored_responses.c.expires_at <= now))
        return int(result.rowcount or 0)

    async def purge(self, now: datetime | None = None) -> int:
        """Delete expired rows; returns how many."""
        count: int = await self._run(self._purge, now or datetime.now(UTC))
        return count

    async def _purge_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.purge_interval_s)
            try:
                removed = await self.purge()
            except Exception as exc:  # the database may be down; the next round tries again
                log.warning("purging expired stored responses failed: %s", type(exc).__name__)
                continue
            if removed:
                log.info("purged %d expired stored responses", removed)

    def start(self) -> Callable[[], Awaitable[None]]:
        self._purger = asyncio.create_task(self._purge_forever(), name="tiergate-responses-purge")
        return self.close

    async def close(self) -> None:
        if self._purger is not None:
            self._purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._purger
        self._executor.shutdown(wait=False)
        self.engine.dispose()
