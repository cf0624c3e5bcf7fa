"""The routing-data JSONL format, shared by the training data, the shipped seed set and users' own files.

One JSON object per line:

```
{"id": "mmlu-aed74928ca0a",            # unique, stable
 "source": "mmlu",                      # data set the prompt comes from
 "domain": "abstract_algebra",          # subject / task type; evaluation splits keep a domain on one side
 "prompt": "Find the degree ...",       # the user's prompt, as the models saw it
 "scores": {"gpt-4-1106-preview": 1.0,  # model name -> quality of its answer in [0, 1] (correct = 1.0,
            "mistralai/Mixtral-8x7B-Instruct-v0.1": 0.0},  #  or a judge's 1-10 divided by 10); may be {}
 "contaminated": false,                 # optional; true rows are dropped
 "difficulty": 1,                       # optional label: 1 if a cheap model fails where a strong one succeeds
 "reasoning": 0}                        # optional label: 1 if answering needs multi-step reasoning
```

Where `difficulty` is absent it is derived from the scores of the strong and weak model (strong beats weak by
more than DIFFICULTY_MARGIN). Where `reasoning` is absent it is derived from the source and domain by the table
in labels.py, or left unknown. Evaluation (`tiergate classifier eval`) needs only `prompt` and `scores`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DIFFICULTY_MARGIN = 0.2


class DataError(ValueError):
    """A data file is unreadable or a row does not follow the format."""


@dataclass(frozen=True)
class Record:
    id: str
    source: str
    domain: str
    prompt: str
    scores: Mapping[str, float] = field(default_factory=dict)
    difficulty: int | None = None
    reasoning: int | None = None


def _label(row: Mapping[str, Any], key: str, where: str) -> int | None:
    value = row.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or (isinstance(value, int | float) and value in (0, 1)):
        return int(value)
    raise DataError(f"{where}: {key!r} must be 0 or 1, got {value!r}")


def parse_row(row: Any, where: str) -> Record | None:
    """One validated record, or None for a contaminated row."""
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object")
    if row.get("contaminated") is True:
        return None
    prompt = row.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise DataError(f"{where}: 'prompt' must be a non-empty string")
    raw_scores = row.get("scores") or {}
    if not isinstance(raw_scores, dict):
        raise DataError(f"{where}: 'scores' must be an object of model -> score")
    scores: dict[str, float] = {}
    for model, score in raw_scores.items():
        if isinstance(score, bool) or not isinstance(score, int | float) or not 0.0 <= score <= 1.0:
            raise DataError(f"{where}: score for {model!r} must be a number in [0, 1], got {score!r}")
        scores[str(model)] = float(score)
    return Record(
        id=str(row.get("id") or hashlib.sha256(prompt.encode()).hexdigest()[:12]),
        source=str(row.get("source") or "unknown"),
        domain=str(row.get("domain") or row.get("source") or "unknown"),
        prompt=prompt,
        scores=scores,
        difficulty=_label(row, "difficulty", where),
        reasoning=_label(row, "reasoning", where),
    )


def read_jsonl(path: str | Path) -> list[Record]:
    """The records of one file, contaminated rows dropped."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from exc
    records: list[Record] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        record = parse_row(row, f"{path}:{number}")
        if record is not None:
            records.append(record)
    return records


def read_all(paths: Iterable[str | Path]) -> list[Record]:
    records: list[Record] = []
    for path in paths:
        records.extend(read_jsonl(path))
    return records


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def model_names(records: Iterable[Record]) -> dict[str, tuple[int, float]]:
    """Model name -> (rows scored, mean score)."""
    totals: dict[str, list[float]] = {}
    for record in records:
        for model, score in record.scores.items():
            totals.setdefault(model, []).append(score)
    return {model: (len(s), sum(s) / len(s)) for model, s in totals.items()}


def pick_pair(records: list[Record], strong: str | None, weak: str | None) -> tuple[str, str]:
    """The (strong, weak) model names: as given, or the best- and worst-scoring of the models present."""
    stats = model_names(records)
    for name in (strong, weak):
        if name is not None and name not in stats:
            known = ", ".join(sorted(stats)) or "none"
            raise DataError(f"model {name!r} has no scores in the data (models present: {known})")
    if strong is not None and weak is not None:
        return strong, weak
    ranked = sorted(stats, key=lambda m: (stats[m][1], m), reverse=True)
    if len(ranked) < 2:
        raise DataError("the data must score at least two models (or name them with --strong/--weak)")
    strong = strong or next(m for m in ranked if m != weak)
    weak = weak or next(m for m in reversed(ranked) if m != strong)
    return strong, weak


def difficulty_label(record: Record, strong: str, weak: str) -> int | None:
    """The explicit label, else 1 when the strong model beats the weak one by more than the margin."""
    if record.difficulty is not None:
        return record.difficulty
    if strong in record.scores and weak in record.scores:
        return int(record.scores[strong] - record.scores[weak] > DIFFICULTY_MARGIN)
    return None
