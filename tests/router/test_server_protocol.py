"""The head-holding protocol: a response's head and first body bytes in one write, nothing held back longer
than the event loop's turn, nothing reordered or lost."""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading
from typing import Any

import pytest

from router.server_protocol import HeadHoldingTransport
from router.serving import ServerThread

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n"


class RecordingTransport:
    """Stands in for the socket's transport: the wrapper's own logic is what is under test here."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closing = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        self.writes.append(b"|".join(bytes(c) for c in chunks))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.aborted = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def wrapped() -> tuple[HeadHoldingTransport, RecordingTransport]:
    inner = RecordingTransport()
    return HeadHoldingTransport(inner, asyncio.get_running_loop()), inner  # type: ignore[arg-type]


async def test_head_and_body_leave_in_one_write() -> None:
    transport, inner = wrapped()
    transport.write(HEAD)
    assert inner.writes == []
    transport.write(b"{}")
    assert inner.writes == [HEAD + b"{}"]
    await asyncio.sleep(0)
    assert inner.writes == [HEAD + b"{}"]  # the loop's turn finds nothing left to send


async def test_a_head_alone_leaves_on_the_loops_next_turn() -> None:
    transport, inner = wrapped()
    transport.write(HEAD)
    await asyncio.sleep(0)
    assert inner.writes == [HEAD]
    transport.write(b"a4\r\n...")
    assert inner.writes == [HEAD, b"a4\r\n..."]


async def test_body_writes_pass_straight_through_in_order() -> None:
    transport, inner = wrapped()
    transport.write(b"5\r\nhello\r\n")
    transport.write(b"HTTP/1.1 is not a head without its blank line")
    transport.write(bytearray(b"0\r\n\r\n"))
    assert inner.writes == [
        b"5\r\nhello\r\n",
        b"HTTP/1.1 is not a head without its blank line",
        b"0\r\n\r\n",
    ]


async def test_a_large_body_goes_with_the_head_as_two_buffers() -> None:
    transport, inner = wrapped()
    body = b"x" * (256 * 1024)
    transport.write(HEAD)
    transport.write(body)
    assert inner.writes == [HEAD + b"|" + body]


async def test_close_sends_the_held_head_first_and_abort_drops_it() -> None:
    transport, inner = wrapped()
    transport.write(HEAD)
    transport.close()
    assert inner.writes == [HEAD] and inner.closing

    transport, inner = wrapped()
    transport.write(HEAD)
    transport.abort()
    await asyncio.sleep(0)
    assert inner.writes == [] and inner.aborted


async def test_a_closing_transport_gets_no_late_head_and_other_calls_reach_the_transport() -> None:
    transport, inner = wrapped()
    transport.write(HEAD)
    inner.closing = True
    await asyncio.sleep(0)
    assert inner.writes == []
    assert transport.is_closing()
    assert transport.get_extra_info("peername") == "info:peername"


# --- on a real socket --------------------------------------------------------------------------------------


FIRST_CHUNK_MAY_GO = threading.Event()


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/slow-stream":
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        # the first chunk waits until the client says it has the head
        await asyncio.get_running_loop().run_in_executor(None, FIRST_CHUNK_MAY_GO.wait, 10)
        await send({"type": "http.response.body", "body": b"late", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    answer = b"echo:" + body
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture(scope="module")
def server() -> Any:
    with ServerThread(_app) as running:
        yield running


def test_answers_on_one_kept_alive_connection_are_whole_and_in_order(server: ServerThread) -> None:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        for i in range(20):
            payload = f"request {i}".encode() * (i * 500 + 1)
            conn.request("POST", "/echo", body=payload)
            response = conn.getresponse()
            assert response.status == 200
            assert response.read() == b"echo:" + payload
    finally:
        conn.close()


def test_a_stream_gets_its_headers_before_a_slow_first_chunk(server: ServerThread) -> None:
    # The app sends its first chunk only once this client has the head: a head held for the chunk never
    # arrives, and the read below times out.
    FIRST_CHUNK_MAY_GO.clear()
    with socket.create_connection((server.host, server.port), timeout=3) as sock:
        sock.sendall(b"POST /slow-stream HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ") and first.endswith(b"\r\n\r\n")
        assert b"late" not in first
        FIRST_CHUNK_MAY_GO.set()
        rest = b""
        while not rest.endswith(b"0\r\n\r\n"):
            rest += sock.recv(65536)
        assert b"late" in rest


def test_a_connection_close_request_gets_its_whole_answer(server: ServerThread) -> None:
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 2\r\n\r\nhi")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 200 ")
    assert received.endswith(b"\r\n\r\necho:hi")


def test_the_command_line_form_runs_the_same_server() -> None:
    # The benchmark's floor starts uvicorn from UVICORN_ARGS; tiergate serve, the sim and the test servers pass
    # UVICORN_SERVER. uvicorn's own command-line parser must read the one as the other.
    import importlib
    import sys

    from router.server_protocol import UVICORN_ARGS, UVICORN_SERVER

    importlib.import_module("uvicorn.main")
    command = sys.modules[
        "uvicorn.main"
    ].main  # the click command (`uvicorn.main` the attribute is a function)
    params = command.make_context("uvicorn", ["app:app", *UVICORN_ARGS]).params
    parsed = {name: params[name] for name in UVICORN_SERVER}
    http = UVICORN_SERVER["http"]
    assert parsed == {**UVICORN_SERVER, "http": f"{http.__module__}:{http.__qualname__}"}
