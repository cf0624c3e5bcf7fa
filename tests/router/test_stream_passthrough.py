"""Streams pass through as they come, and a client that goes away stops the upstream stream at once."""

from __future__ import annotations

import socket
import socketserver
import threading

import msgspec

from router.sim.faults import FaultRule
from tests.conftest import GatewayFactory, Sim
from tests.router.test_request_log import wait_rows


def _post(port: int, body: bytes, request_id: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"x-request-id: {request_id}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


def _body(prompt: str) -> bytes:
    return msgspec.json.encode(
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}], "stream": True}
    )


def test_first_frame_reaches_the_client_before_the_upstream_finishes(
    sim: Sim, make_gateway: GatewayFactory
) -> None:
    # The sim pauses 3 s after every chunk, so the whole stream takes about a minute: a gateway that
    # buffered it would hand the client nothing before the socket's 10 s timeout.
    sim.app.ctx.faults.add(FaultRule(match="paced-stream", chunk_ms=3000))
    gateway = make_gateway()
    sock = _post(gateway.server.port, _body("paced-stream please answer"), "r-paced")
    received = b""
    while b"data: {" not in received:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed before the first frame"
        received += chunk
    sock.close()
    assert b"text/event-stream" in received
    assert b"[DONE]" not in received


def test_client_leaving_mid_stream_is_logged_as_cancelled(sim: Sim, make_gateway: GatewayFactory) -> None:
    sim.app.ctx.faults.add(FaultRule(match="leave-early", chunk_ms=100))  # ~1.4 s of stream
    gateway = make_gateway()
    sock = _post(gateway.server.port, _body("leave-early please"), "r-gone")
    received = b""
    while b"data: {" not in received:
        received += sock.recv(65536)
    sock.close()
    rows = {r["id"]: r for r in wait_rows(gateway.engine, 1, timeout=10)}
    row = rows["r-gone"]
    assert row["status"] == "cancelled" and row["http_status"] == 499
    assert row["streamed"] is True
    # The gateway went on serving: a whole stream right after works.
    again = gateway.client().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in again if c.choices)


def test_a_stream_whole_in_its_first_read_reaches_the_client_whole_and_is_logged(
    make_gateway: GatewayFactory,
) -> None:
    # An upstream that writes head, every event and the end at once: the gateway has the whole stream when it
    # opens it and answers with one body (router/api/chat.py), which must still be the whole stream, logged.
    words = ["one", " two", " three"]
    events = [{"choices": [{"index": 0, "delta": {"content": word}}]} for word in words]
    sse = b"".join(b"data: " + msgspec.json.encode(e) + b"\n\n" for e in events) + b"data: [DONE]\n\n"
    answer = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        + b"%x\r\n" % len(sse)
        + sse
        + b"\r\n0\r\n\r\n"
    )

    class OneWrite(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            head = b""
            while b"\r\n\r\n" not in head:
                head += self.request.recv(65536)
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            body = head.split(b"\r\n\r\n", 1)[1]
            while len(body) < length:
                body += self.request.recv(65536)
            self.request.sendall(answer)

    upstream = socketserver.ThreadingTCPServer(("127.0.0.1", 0), OneWrite)
    upstream.daemon_threads = True
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    try:
        port = upstream.server_address[1]
        gateway = make_gateway(
            overrides={"providers": {"openai": {"base_url": f"http://127.0.0.1:{port}/v1"}}}
        )
        stream = gateway.client().chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            extra_headers={"x-request-id": "r-whole"},
        )
        assert [c.choices[0].delta.content for c in stream if c.choices] == words
        row = {r["id"]: r for r in wait_rows(gateway.engine, 1)}["r-whole"]
        assert row["status"] == "ok" and row["streamed"] and row["ttft_ms"] is not None
        assert row["completion_tokens"] > 0  # no usage upstream: counted locally, from the text that passed
    finally:
        upstream.shutdown()
        upstream.server_close()
