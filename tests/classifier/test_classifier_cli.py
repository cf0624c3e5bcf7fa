"""`tiergate classifier train` and `eval` end to end, through `python -m router.cli`, on a small file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from classifier import embed

ROOT = Path(__file__).resolve().parents[2]

# Prompts where the weak model fails are maths and code; it holds up on chat. Groups (domains) number >= 5 so
# the held-out folds run too.
EASY = [
    "hi, how are you?",
    "Translate 'good night' to German.",
    "Summarise: the meeting moved to Friday.",
    "What is the capital of Spain?",
    "Fix the typo: 'teh cat'",
    "Write a haiku about rain.",
    "Say thanks to my colleague.",
    "List three fruits.",
]
HARD = [
    "Prove that the square root of 3 is irrational.",
    "Solve 3x^2 - 7x + 2 = 0 step by step.",
    "Write a Python function that merges k sorted lists in O(n log k).",
    "A train covers 120 km in 1.5 h, then 80 km in 40 min; what is its average speed?",
    "Compute the determinant of [[2, 1, 0], [1, 3, 1], [0, 1, 4]].",
    "Implement binary search in C and prove it terminates.",
    "How many 5-card hands contain exactly two pairs?",
    "Find all integer solutions of x^2 - y^2 = 15.",
]


def _rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for i, prompt in enumerate(EASY):
        rows.append(
            {
                "id": f"e{i}",
                "source": "toy",
                "domain": f"chat{i % 5}",
                "prompt": prompt,
                "scores": {"big": 1.0, "small": 1.0},
            }
        )
    for i, prompt in enumerate(HARD):
        rows.append(
            {
                "id": f"h{i}",
                "source": "toy",
                "domain": f"math{i % 5}",
                "prompt": prompt,
                "scores": {"big": 1.0, "small": 0.0},
                "reasoning": 1,
            }
        )
    return rows


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "router.cli", "classifier", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    # Embedding caches go to a scratch directory; the ONNX export is shared with the user cache (built once).
    onnx_dir = embed.onnx_path(quantized=False).parent.parent
    scratch = tmp_path / "cache"
    scratch.mkdir()
    (scratch / "onnx").symlink_to(onnx_dir, target_is_directory=True)
    return {**os.environ, "PYTHONPATH": str(ROOT), "TIERGATE_CACHE_DIR": str(scratch)}


def test_train_then_eval_on_a_small_file(tmp_path: Path, env: dict[str, str]) -> None:
    data = tmp_path / "toy.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _rows()))
    seed = ROOT / "classifier" / "data" / "seed.jsonl"
    out = tmp_path / "toy.npz"
    trained = _run("train", "--data", str(data), str(seed), "--out", str(out), env=env)
    assert trained.returncode == 0, trained.stderr
    assert "strong=big, weak=small" in trained.stdout and out.is_file()

    evaluated = _run("eval", "--data", str(data), "--artifact", str(out), "--json", env=env)
    assert evaluated.returncode == 0, evaluated.stderr
    result = json.loads(evaluated.stdout)
    assert result["rows"] == len(EASY) + len(HARD)
    assert (result["strong"], result["weak"]) == ("big", "small")
    ours = result["classifier"]
    # Separable on its own training data, so the hard prompts rank first: a perfect router, whose PGR climbs to 1
    # at share 0.5 (half the prompts gain) and stays there, has APGR 0.5 * 0.5 + 0.5 = 0.75 and CPT(50%) 0.25.
    assert ours["auc"] == pytest.approx(1.0)
    assert ours["apgr"] == pytest.approx(0.75)
    assert ours["cpt50"] == pytest.approx(0.25)
    assert 0.0 <= result["random"]["apgr"] <= 1.0

    table = _run("eval", "--data", str(data), "--artifact", str(out), env=env)
    assert table.returncode == 0, table.stderr
    assert "APGR" in table.stdout and "CPT(50%)" in table.stdout and "classifier" in table.stdout


def test_eval_refuses_unknown_model_and_missing_artifact(tmp_path: Path, env: dict[str, str]) -> None:
    data = tmp_path / "toy.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _rows()))
    unknown = _run("eval", "--data", str(data), "--strong", "gpt-9", env=env)
    assert unknown.returncode == 2 and "model 'gpt-9' has no scores" in unknown.stderr
    missing = _run("eval", "--data", str(data), "--artifact", str(tmp_path / "none.npz"), env=env)
    assert missing.returncode == 2 and "not found" in missing.stderr
