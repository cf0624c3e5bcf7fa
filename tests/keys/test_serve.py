"""`tiergate serve --workers N`, open mode, and `tiergate keys` as a user runs them (subprocesses)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from router.log.store import upgrade
from router.sim.config import sim_config
from tests.conftest import Sim
from tests.keys.procs import serve


def _config(sim: Sim, tmp_path: Path) -> dict[str, object]:
    database = f"sqlite:///{tmp_path / 'serve.db'}"
    upgrade(database)
    config = sim_config(sim.url, database)
    config["classifier"] = {"enabled": False}
    return config


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def tiergate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "TIERGATE_MASTER_KEY"}
    return subprocess.run(
        [sys.executable, "-m", "router.cli", *args],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_with_two_workers(sim: Sim, tmp_path: Path) -> None:
    served = serve(_config(sim, tmp_path), tmp_path, workers=2, master=None)
    try:
        pid = served.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        workers = [c for c in children if "router.app" in _cmdline(c) or "multiprocessing" in _cmdline(c)]
        assert len(workers) >= 2, [_cmdline(c) for c in children]
        body = {"model": "deepseek-v3", "messages": [{"role": "user", "content": "hello workers"}]}
        with httpx.Client(timeout=20) as client:
            statuses = {
                client.post(f"{served.url}/v1/chat/completions", json=body).status_code for _ in range(20)
            }
        assert statuses == {200}
    finally:
        served.stop()
    assert served.process.stderr is not None
    assert "OPEN mode" in served.process.stderr.read()


def test_open_mode_refuses_a_public_bind(sim: Sim, tmp_path: Path) -> None:
    path = tmp_path / "tiergate.yaml"
    path.write_text(yaml.safe_dump(_config(sim, tmp_path)))
    refused = tiergate("serve", "--config", str(path), "--host", "0.0.0.0", "--port", "1")
    assert refused.returncode == 2
    assert "refusing to serve on 0.0.0.0" in refused.stderr and "TIERGATE_MASTER_KEY" in refused.stderr


def test_keys_cli_create_list_revoke(sim: Sim, tmp_path: Path) -> None:
    path = tmp_path / "tiergate.yaml"
    path.write_text(yaml.safe_dump(_config(sim, tmp_path)))
    created = tiergate(
        "keys",
        "--config",
        str(path),
        "create",
        "--name",
        "ci",
        "--budget-usd",
        "5",
        "--rpm",
        "60",
        "--models",
        "gpt-4o-mini",
        "deepseek-v3",
        "--expires",
        "2099-01-01",
    )
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("tg-") and "shown only this once" in created.stderr
    listed = tiergate("keys", "--config", str(path), "list")
    assert secret[:10] in listed.stdout and secret not in listed.stdout and "active" in listed.stdout
    key_id = listed.stdout.splitlines()[1].split()[0]
    # With a key in the store, serve requires it (not open) and a public bind is allowed.
    served = serve(yaml.safe_load(path.read_text()), tmp_path, master=None)
    try:
        body = {"model": "deepseek-v3", "messages": [{"role": "user", "content": "hi"}]}
        ok = httpx.post(f"{served.url}/v1/chat/completions", json=body, headers={"x-api-key": secret})
        assert ok.status_code == 200
        assert httpx.post(f"{served.url}/v1/chat/completions", json=body).status_code == 401
    finally:
        served.stop()
    revoked = tiergate("keys", "--config", str(path), "revoke", key_id)
    assert revoked.returncode == 0 and "revoked" in revoked.stderr
    assert "revoked" in tiergate("keys", "--config", str(path), "list").stdout
    assert tiergate("keys", "--config", str(path), "revoke", "key_nope").returncode == 1


def test_keys_cli_refuses_a_name_no_database_can_store(sim: Sim, tmp_path: Path) -> None:
    path = tmp_path / "tiergate.yaml"
    path.write_text(yaml.safe_dump(_config(sim, tmp_path)))
    for flag, value, said in (
        ("--name", "n" * 201, "is at most 200 characters"),
        ("--name", "two\nlines", "is one line of printable text"),
        ("--scope", "s\tt", "is one line of printable text"),
        ("--models", "gpt-4o\n", "is one line of printable text"),
    ):
        args = ["keys", "--config", str(path), "create", "--name", "ok", flag, value]
        refused = tiergate(*args)
        assert refused.returncode == 2 and said in refused.stderr, refused.stderr
    assert "ok" not in tiergate("keys", "--config", str(path), "list").stdout.split("\n", 1)[1]
