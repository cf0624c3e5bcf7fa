"""LiteLLM's proxy as a peer: its own virtual environment, its own pins, pointed at the sim.

`--setup-peers` creates benchmarks/.peers/litellm (gitignored) with `python -m venv`
and installs `litellm[proxy]` there, so nothing of it touches tiergate's
environment. Offline it needs LITELLM_LOCAL_MODEL_COST_MAP=True (else it retries a
download of its price map at start) and it refuses to start without
LITELLM_MASTER_KEY.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

PEERS_DIR = Path(__file__).resolve().parent / ".peers"
LITELLM_VENV = PEERS_DIR / "litellm"
LITELLM_BIN = LITELLM_VENV / "bin" / "litellm"
MASTER_KEY = "sk-tiergate-bench"


def setup_litellm() -> None:
    PEERS_DIR.mkdir(parents=True, exist_ok=True)
    if not (LITELLM_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
    pip = str(LITELLM_VENV / "bin" / "pip")
    subprocess.run([pip, "install", "-q", "litellm[proxy]"], check=True)


def litellm_available() -> bool:
    return LITELLM_BIN.exists()


def litellm_version() -> str | None:
    if not litellm_available():
        return None
    result = subprocess.run(
        [
            str(LITELLM_VENV / "bin" / "python"),
            "-c",
            "import importlib.metadata as m; print(m.version('litellm'))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or None


def litellm_config(upstream_base: str, model: str, path: Path) -> Path:
    """One model served by the sim's OpenAI dialect; LiteLLM's own logging kept quiet."""
    config = {
        "model_list": [
            {
                "model_name": model,
                "litellm_params": {
                    "model": f"openai/{model}",
                    "api_base": upstream_base,
                    "api_key": "sk-sim",
                },
            }
        ],
        "litellm_settings": {"set_verbose": False, "drop_params": True},
        "general_settings": {"master_key": MASTER_KEY},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def litellm_command(config: Path, port: int) -> list[str]:
    return [
        str(LITELLM_BIN),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
    ]


def litellm_env() -> dict[str, str]:
    return {
        "LITELLM_MASTER_KEY": MASTER_KEY,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "DISABLE_ADMIN_UI": "True",
        "NO_DOCS": "True",
        "TELEMETRY": "False",
    }
