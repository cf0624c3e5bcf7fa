"""What text of a conversation is embedded, and the JSONL data format."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from classifier import data as rd
from classifier.features import NAMES, features
from classifier.labels import reasoning_label
from classifier.text import USER_HEAD_CHARS, USER_TAIL_CHARS, conversation_text, last_user_text


def test_last_user_turn_comes_first_then_system_then_recent_context() -> None:
    messages = [
        {"role": "system", "content": "You are a maths tutor."},
        {"role": "user", "content": "oldest question"},
        {"role": "assistant", "content": "old answer"},
        {"role": "user", "content": "Let f(x) = x^2."},
        {"role": "assistant", "content": "Noted."},
        {
            "role": "user",
            "content": [{"type": "text", "text": "Now differentiate it."}, {"type": "image_url"}],
        },
    ]
    text = conversation_text(messages)
    assert text.startswith("Now differentiate it.")
    assert "System: You are a maths tutor." in text
    assert "user: Let f(x) = x^2." in text and "assistant: Noted." in text
    assert "oldest question" not in text  # only a bounded window of earlier turns
    assert last_user_text(messages) == "Now differentiate it."


def test_long_turn_keeps_head_and_tail() -> None:
    prompt = "TASK: summarise. " + "filler " * 2000 + " QUESTION: so what is x?"
    text = conversation_text([{"role": "user", "content": prompt}])
    assert text.startswith("TASK: summarise.") and text.endswith("QUESTION: so what is x?")
    assert len(text) <= USER_HEAD_CHARS + USER_TAIL_CHARS + 5


def test_no_user_turn_still_gives_text() -> None:
    assert conversation_text([{"role": "system", "content": "be brief"}]) == "be brief"


def test_features_see_code_and_maths() -> None:
    code = features("```python\ndef f(x):\n    return x + 1\n```")
    chat = features("hello, how are you?")
    maths = features("Solve 3x + 5 = 20 and compute 2^10.")
    col = {name: i for i, name in enumerate(NAMES)}
    assert code[col["log_code_marks"]] > chat[col["log_code_marks"]]
    assert maths[col["log_math_marks"]] > chat[col["log_math_marks"]]
    # A long prompt's length counts in full, its patterns only in the bounded head and tail.
    long = "x = 1 + 2\n" * 5000
    assert features(long)[col["log_chars"]] == pytest.approx(math.log1p(len(long)))
    assert features(long)[col["log_math_marks"]] < math.log1p(long.count("=") + long.count("+"))


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_format_reads_scores_labels_and_drops_contaminated(tmp_path: Path) -> None:
    rows = [
        {
            "id": "a",
            "source": "mmlu",
            "domain": "formal_logic",
            "prompt": "p1",
            "scores": {"big": 1.0, "small": 0.0},
        },
        {
            "id": "b",
            "source": "mmlu",
            "domain": "marketing",
            "prompt": "p2",
            "scores": {"big": 1, "small": 1},
            "contaminated": True,
        },
        {
            "id": "c",
            "source": "mine",
            "domain": "chat",
            "prompt": "p3",
            "scores": {},
            "difficulty": 0,
            "reasoning": 1,
        },
    ]
    records = rd.read_jsonl(_write(tmp_path / "d.jsonl", rows))
    assert [r.id for r in records] == ["a", "c"]
    assert rd.pick_pair(records, None, None) == ("big", "small")
    assert rd.difficulty_label(records[0], "big", "small") == 1
    assert rd.difficulty_label(records[1], "big", "small") == 0  # the explicit label wins
    assert reasoning_label(records[0]) == 1 and reasoning_label(records[1]) == 1


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"prompt": ""}, "'prompt' must be a non-empty string"),
        ({"prompt": "x", "scores": {"m": 2}}, "must be a number in [0, 1]"),
        ({"prompt": "x", "reasoning": "yes"}, "'reasoning' must be 0 or 1"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_bad_rows_are_reported_with_their_line(tmp_path: Path, row: object, message: str) -> None:
    path = _write(tmp_path / "bad.jsonl", [{"prompt": "fine"}, row])
    with pytest.raises(rd.DataError, match=r"bad\.jsonl:2: ") as info:
        rd.read_jsonl(path)
    assert message in str(info.value)


def test_unknown_model_is_refused(tmp_path: Path) -> None:
    records = rd.read_jsonl(_write(tmp_path / "d.jsonl", [{"prompt": "x", "scores": {"a": 1, "b": 0}}]))
    with pytest.raises(rd.DataError, match="model 'gpt' has no scores"):
        rd.pick_pair(records, "gpt", None)


def test_shipped_seed_set_follows_the_format() -> None:
    seed = Path(__file__).resolve().parents[2] / "classifier" / "data" / "seed.jsonl"
    records = rd.read_jsonl(seed)
    assert len(records) >= 200
    assert len({r.id for r in records}) == len(records)
    assert {r.difficulty for r in records} == {0, 1} and {r.reasoning for r in records} == {0, 1}
    assert {
        "small_talk",
        "extraction",
        "summarisation",
        "translation",
        "rewriting",
        "code",
        "analysis",
        "planning",
        "maths",
        "logic",
    } <= {r.domain for r in records}
