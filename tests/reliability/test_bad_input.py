"""Scenario 11: bad input never produces a 5xx; oversized bodies get 413; rejections are fast.

Schemathesis fuzzes every operation of the served OpenAPI schema; explicit cases cover what a schema-driven
fuzzer does not generate: malformed JSON, a 10 MB body, 10,000-deep nesting, invalid UTF-8, absurd values.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Gateway

# The issue asks for 2 minutes of fuzzing; the suite runs 60 s (its scenarios stay well under two minutes each)
# and TIERGATE_FUZZ_SECONDS=120 runs the full length (README figures).
FUZZ_SECONDS = int(os.environ.get("TIERGATE_FUZZ_SECONDS", "60"))


def _post(
    gateway: Gateway, content: bytes, path: str = "/v1/chat/completions"
) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = httpx.post(
        f"{gateway.url}{path}", content=content, headers={"content-type": "application/json"}, timeout=30
    )
    return response, time.perf_counter() - started


@pytest.mark.skipif(shutil.which("st") is None, reason="schemathesis is not installed (dev extra)")
def test_schemathesis_finds_no_server_error(gateway: Gateway) -> None:
    result = subprocess.run(
        [
            "st",
            "run",
            f"{gateway.url}/openapi/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-time",
            str(FUZZ_SECONDS),
            # One worker: with two, schemathesis's threads call ast.parse (Hypothesis describing a strategy) at
            # once, and CPython 3.11 can fail that with "SystemError: AST constructor recursion depth mismatch"
            # (seen in CI here: a runtime error of the fuzzer, not a server error).
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--seed",
            "1",
            "--exclude-path-regex",
            "^/ui",
        ],
        capture_output=True,
        text=True,
        timeout=FUZZ_SECONDS + 120,
    )
    tail = result.stdout[-3000:]
    assert result.returncode == 0, tail
    tested = re.search(r"Tested: (\d+)", result.stdout)
    assert tested is not None and int(tested.group(1)) >= 5, tail
    print(
        f"scenario 11: schemathesis {FUZZ_SECONDS} s: "
        + " ".join(re.findall(r"Tested: \d+|\d+ generated, \d+ passed[^\n]*", tail))
    )
    assert "Fuzzing" in result.stdout and "❌" not in result.stdout, tail


CASES: list[tuple[str, bytes, int]] = [
    ("malformed", b'{"model": "gpt-4o", "messages": [', 400),
    ("not an object", b"[1, 2, 3]", 400),
    ("invalid utf-8", b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "\xff\xfe"}]}', 400),
    ("deep nesting", b'{"model": "gpt-4o", "messages": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", 400),
    (
        "absurd max_tokens",
        b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "max_tokens": 99999999999}',
        400,
    ),
    (
        "max_tokens over model limit",
        b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "max_tokens": 9000000}',
        400,
    ),
    (
        "auto with absurd max_tokens",
        b'{"model": "auto", "messages": [{"role": "user", "content": "x"}], "max_tokens": 9000000}',
        400,
    ),
    ("negative n", b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "n": -1}', 400),
    ("empty messages", b'{"model": "gpt-4o", "messages": []}', 400),
    ("null body", b"null", 400),
    ("empty body", b"", 400),
]


@pytest.mark.parametrize(("name", "body", "status"), CASES, ids=[c[0] for c in CASES])
def test_malformed_bodies_rejected(gateway: Gateway, name: str, body: bytes, status: int) -> None:
    response, elapsed = _post(gateway, body)
    assert response.status_code == status, response.text[:300]
    assert "error" in response.json()
    assert elapsed < 2.0  # a hang detector, not a speed target


def test_ten_megabyte_body_is_413(gateway: Gateway) -> None:
    content = json.dumps(
        {"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 10_000_000}]}
    ).encode()
    response, _ = _post(gateway, content)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


message = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "system", "assistant", "tool", "bogus"]),
        "content": st.one_of(st.text(max_size=50), st.none(), st.integers()),
    }
)
bodies = st.fixed_dictionaries(
    {
        "model": st.one_of(
            st.sampled_from(["auto", "gpt-4o", "deepseek-v3", "nope", "openai/x"]), st.text(max_size=10)
        ),
        "messages": st.lists(message, max_size=3),
    },
    optional={
        "temperature": st.one_of(st.floats(allow_nan=False), st.text(max_size=3)),
        "max_tokens": st.integers(min_value=-5, max_value=10**12),
        "stream": st.booleans(),
        "n": st.integers(min_value=-2, max_value=4),
        "tools": st.lists(st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2), max_size=2),
        "response_format": st.one_of(st.none(), st.sampled_from([{"type": "json_object"}, {"type": "zzz"}])),
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=bodies)
def test_property_bodies_never_5xx(gateway: Gateway, body: dict[str, object]) -> None:
    response, _ = _post(gateway, json.dumps(body).encode())
    assert response.status_code < 500, (body, response.text[:300])
