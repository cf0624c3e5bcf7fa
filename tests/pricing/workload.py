"""A small mixed workload driven through a real gateway on the sim, and the log rows it leaves."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import yaml
from sqlalchemy import Engine, select

from router.log.schema import requests
from router.sim.faults import FaultRule
from tests.conftest import Gateway, Sim

PROMPTS: list[tuple[str, str]] = [
    ("s1", "Hi! How are you doing today?"),
    ("s2", "Translate 'where is the train station' into French."),
    ("s3", "Extract the email address from: 'Contact Dana at dana@example.org.'"),
    ("r1", "Solve for x: 3x + 7 = 22, and show each step."),
    ("r2", "Write a Python function that returns the n-th Fibonacci number.\n```python\ndef fib(n):\n```"),
    ("h1", "Analyse the trade-offs between a monolith and microservices and recommend a strategy."),
]
NO_USAGE_PROMPT = "Thanks, that was helpful."


@dataclass
class Logged:
    gateway: Gateway
    config: Path
    rows: list[dict[str, Any]]
    no_usage_text: str


def wait_rows(engine: Engine, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            rows = [dict(r._mapping) for r in connection.execute(select(requests))]
        if len(rows) >= count:
            return rows
        time.sleep(0.1)
    return rows


def drive(gateway: Gateway, sim: Sim, config_dir: Path) -> Logged:
    client = gateway.client()
    for request_id, prompt in PROMPTS:
        client.chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": prompt}],
            extra_headers={"x-request-id": request_id},
        )
    client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "hello there"}],
        extra_headers={"x-request-id": "x1"},
    )
    stream = client.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "Prove that the sum of two odd integers is even."}],
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-request-id": "st"},
    )
    for _ in stream:
        pass
    # A stream whose provider reports no usage: the gateway counts locally and marks the cost estimated.
    sim.app.ctx.faults.add(FaultRule(provider="deepseek", usage=False))
    text = ""
    for chunk in client.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": NO_USAGE_PROMPT}],
        stream=True,
        extra_headers={"x-request-id": "nu"},
    ):
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
    sim.app.ctx.faults.clear()
    # One failure: logged as an error, zero tokens.
    sim.app.ctx.faults.add(FaultRule(provider="openai", status=400))
    httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]},
        headers={"x-request-id": "bad"},
    )
    sim.app.ctx.faults.clear()
    rows = wait_rows(gateway.engine, len(PROMPTS) + 4)
    config = config_dir / "gateway.yaml"
    config.write_text(yaml.safe_dump(msgspec.to_builtins(gateway.settings)))
    return Logged(gateway, config, rows, text)
