"""Micro-batching of blocking work for asyncio callers.

Concurrent requests each need one embedding; encoding them one by one costs a model call each, while one padded
batch of 16 short prompts costs little more than two single calls. Callers `submit` an item and await its
result; one worker task drains the queue in batches of up to `max_batch`, running the batch function in a thread
so the event loop never blocks.

When to cut a batch: with the model idle, a lone request goes at once (after one loop turn, so requests issued in
the same tick join it) unless `window_s` is set. A fixed wait would add its whole length to every request at low
load, where the latency targets apply (3 ms for a short prompt: a 1.5 ms window would be half of it). Under load
batches form by themselves: everything that arrives while a batch is encoding rides in the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


class BatcherClosed(RuntimeError):
    """The batcher was closed while a request was waiting."""


class MicroBatcher(Generic[In, Out]):
    def __init__(
        self,
        batch_fn: Callable[[Sequence[In]], Sequence[Out]],
        executor: Executor,
        *,
        max_batch: int = 32,
        window_s: float = 0.0,
    ) -> None:
        self._batch_fn = batch_fn
        self._executor = executor
        self._max_batch = max_batch
        self._window_s = window_s
        self._pending: list[tuple[In, asyncio.Future[Out]]] = []
        self._worker: asyncio.Task[None] | None = None
        self._full: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.batches = 0  # statistics for the benchmark
        self.items = 0

    async def submit(self, item: In) -> Out:
        if self._closed:
            raise BatcherClosed("the classifier is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Out] = loop.create_future()
        if self._loop is not loop:
            # First use, or a new event loop (tests, a restarted server): loop-bound state starts afresh.
            self._loop, self._full, self._worker = loop, asyncio.Event(), None
            self._pending = [(i, f) for i, f in self._pending if f.get_loop() is loop]
        self._pending.append((item, future))
        assert self._full is not None
        if len(self._pending) >= self._max_batch:
            self._full.set()
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._full is not None
        while self._pending:
            if len(self._pending) < self._max_batch:
                if self._window_s > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._full.wait(), self._window_s)
                else:
                    await asyncio.sleep(0)
            self._full.clear()
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            live = [(item, fut) for item, fut in batch if not fut.cancelled()]
            if not live:
                continue
            try:
                results = await loop.run_in_executor(self._executor, self._batch_fn, [i for i, _ in live])
            except Exception as exc:  # the batch's failure is each caller's failure
                for _, fut in live:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            self.batches += 1
            self.items += len(live)
            for (_, fut), result in zip(live, results, strict=True):
                if not fut.done():
                    fut.set_result(result)

    async def aclose(self) -> None:
        self._closed = True
        pending, self._pending = self._pending, []
        for _, fut in pending:
            if not fut.done():
                fut.set_exception(BatcherClosed("the classifier was closed"))
        if self._worker is not None and not self._worker.done():
            # The worker hands failures to its callers and never raises itself.
            await self._worker
