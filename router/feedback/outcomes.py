"""`tiergate outcomes import FILE`: load an offline evaluation as outcomes.

Each JSONL line is either the classifier's training format
  {"id": ..., "source": ..., "domain": ..., "prompt": "...", "scores": {"model-a": 1.0, "model-b": 0.0}}
or one verdict
  {"request_id": "req_...", "model": "deepseek-v3", "score": 0.0}   (or "prompt" instead of "request_id").
The whole file is checked before anything is written, and written in one transaction: a bad line (reported
with its number) leaves the table as it was.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import Engine

from router.feedback.schema import outcomes


class OutcomeFileError(ValueError):
    pass


def prompt_hash(prompt: str) -> str:
    """The request log's hash of a single-user-message conversation with this prompt."""
    messages = [{"role": "user", "content": prompt}]
    return hashlib.sha256(msgspec.json.encode(messages)).hexdigest()


def _score(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
        raise OutcomeFileError(f"{where}: score must be a number in [0, 1], got {value!r}")
    return float(value)


def parse_outcomes(path: Path, source: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    with path.open() as handle:
        for number, line in enumerate(handle, 1):
            where = f"{path}:{number}"
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise OutcomeFileError(f"{where}: not valid JSON ({exc.msg})") from None
            if not isinstance(item, dict):
                raise OutcomeFileError(f"{where}: each line must be a JSON object")
            prompt = item.get("prompt")
            request_id = item.get("request_id")
            if prompt is not None and not isinstance(prompt, str):
                raise OutcomeFileError(f"{where}: prompt must be a string")
            if prompt is None and request_id is None:
                raise OutcomeFileError(f"{where}: needs `prompt` or `request_id`")
            base = {
                "request_id": request_id,
                "prompt_hash": prompt_hash(prompt) if prompt is not None else None,
                "prompt": prompt,
                "source": str(item.get("source") or source),
                "domain": item.get("domain"),
                "created_at": now,
            }
            if isinstance(item.get("scores"), dict):
                for model, value in item["scores"].items():
                    rows.append({**base, "model": str(model), "score": _score(value, where)})
            elif "model" in item and "score" in item:
                rows.append({**base, "model": str(item["model"]), "score": _score(item["score"], where)})
            else:
                raise OutcomeFileError(f"{where}: needs `scores` {{model: score}} or `model` and `score`")
    return rows


def import_outcomes(engine: Engine, path: Path, source: str = "import") -> int:
    rows = parse_outcomes(path, source)
    if rows:
        with engine.begin() as connection:
            connection.execute(outcomes.insert(), rows)
    return len(rows)
