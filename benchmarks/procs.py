"""Servers under test as separate processes: start, wait for the first good answer, read CPU and RSS.

CPU and RSS are read from /proc for the process and its descendants (a server
that forks a worker is measured whole), so the figures are the proxy's own cost,
not the load generator's or the sim's.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def descendants(pid: int) -> list[int]:
    found = [pid]
    for parent in found:
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                found.extend(int(child) for child in task.read_text().split())
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process tree, in seconds (all threads included)."""
    total = 0
    for member in descendants(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total / _TICK


def rss_mib(pid: int) -> float:
    total_kib = 0
    for member in descendants(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
    return total_kib / 1024


def settle(pid: int, busy_below: float = 0.05, window_s: float = 0.2, limit_s: float = 30.0) -> float:
    """Wait until the process tree is idle (a server still working off a backlog after the load stopped
    would otherwise steal CPU from the next target); returns the seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit_s:
        before = cpu_seconds(pid)
        time.sleep(window_s)
        if (cpu_seconds(pid) - before) / window_s < busy_below:
            break
    return time.perf_counter() - started


def post(
    port: int, path: str, body: bytes, auth: str | None = None, timeout: float = 5.0
) -> tuple[int, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"content-type": "application/json"}
        if auth:
            headers["authorization"] = f"Bearer {auth}"
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


@dataclass
class Server:
    """One server process under test; `path` is where chat completions are POSTed."""

    name: str
    command: list[str]
    port: int
    path: str
    env: dict[str, str] = field(default_factory=dict)
    auth: str | None = None
    cpus: str | None = None  # taskset CPU list, e.g. "1"
    log_file: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    startup_s: float | None = None
    first_headers: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, probe: bytes, timeout: float = 120.0) -> float:
        """Starts the process; returns seconds from spawn to the first 200 on `probe`."""
        command = ["taskset", "-c", self.cpus, *self.command] if self.cpus else self.command
        out = open(self.log_file, "wb") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        started = time.perf_counter()
        self.process = subprocess.Popen(
            command,
            env={**os.environ, **self.env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode} (log: {self.log_file})"
                )
            try:
                status, headers = post(self.port, self.path, probe, self.auth, timeout=30)
            except OSError:
                time.sleep(0.02)
                continue
            if status == 200:
                self.startup_s = time.perf_counter() - started
                self.first_headers = headers
                return self.startup_s
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} gave no good answer within {timeout:.0f} s (log: {self.log_file})")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
