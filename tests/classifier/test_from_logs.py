"""`tiergate classifier train --from-logs`: shadow verdicts on logged traffic retrain the classifier so the family
the cheap model fails scores harder; a candidate that loses on held-out log prompts is refused (exit 1)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from classifier.data import read_jsonl
from classifier.fromlogs import difficulty_scores, load_examples, split
from classifier.model import SHIPPED_ARTIFACT, load_model
from router.feedback.schema import feedback, outcomes
from router.log.schema import requests
from router.log.store import make_engine, upgrade
from router.sim.config import sim_config
from router.sim.faults import FaultRule
from tests.conftest import GatewayFactory, Sim, deep_merge
from tests.router.feedback.test_shadow import LONG, SHORT, send, wait_judged

SEED_DATA = Path(__file__).resolve().parents[2] / "classifier" / "data" / "seed.jsonl"
# Few base rows: training time grows with them, and the log signal is what this test is about.
BASE_ROWS = "300"


def policy(artifact: Path) -> dict[str, Any]:
    return {
        "routing": {
            "tiers": {"simple": ["deepseek-v3"], "reasoning": ["deepseek-r1"], "hard": ["gpt-4o"]},
            "thresholds": {"hard": 0.99, "reasoning": 0.999},
        },
        "shadow": {"fraction": 1.0, "reference": "gpt-4o", "judge": "gpt-4o", "daily_budget_usd": 1.0},
        "log": {"store_text": True},
        "classifier": {"path": str(artifact)},
    }


def tiergate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "router.cli", "classifier", "train", "--from-logs", *args],
        capture_output=True,
        text=True,
        timeout=280,
    )


def family_gap(artifact: Path) -> float:
    """Mean difficulty of unseen prompts of the failing family minus that of the other family."""
    model, _ = load_model(artifact)
    long = difficulty_scores(model, [LONG.format(i=100 + i) for i in range(5)], "onnx")
    short = difficulty_scores(model, [SHORT.format(i=100 + i) for i in range(5)], "onnx")
    return float(np.mean(long) - np.mean(short))


def test_shadow_verdicts_retrain_the_classifier(
    make_gateway: GatewayFactory, sim: Sim, tmp_path: Path
) -> None:
    sim.app.ctx.faults.add(FaultRule(model="deepseek-chat", match="ledger", wrong=True))
    artifact = tmp_path / "router.npz"
    shutil.copyfile(SHIPPED_ARTIFACT, artifact)
    db = f"sqlite:///{tmp_path / 'logs.db'}"
    config = tmp_path / "tiergate.yaml"
    config.write_text(yaml.safe_dump(deep_merge(sim_config(sim.url, db), policy(artifact))))
    gateway = make_gateway(overrides=policy(artifact), database_url=db, load_classifier=True)

    routed = send(gateway, "fl", 15)
    assert set(routed.values()) == {"deepseek-v3"}
    stats = wait_judged(gateway, 30)
    assert stats["judged"] == 30, stats
    time.sleep(0.6)  # the request log writer flushes every 0.25 s

    before = family_gap(artifact)
    out = tmp_path / "candidate.npz"
    result = tiergate("--config", str(config), "--base-rows", BASE_ROWS, "--out", str(out), "--apply")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "30 prompts with a label" in result.stdout, result.stdout
    assert "current " in result.stdout and "candidate " in result.stdout
    assert out.is_file() and artifact.read_bytes() == out.read_bytes()
    after = family_gap(artifact)
    assert after > before + 0.05, (before, after)


def test_missing_prompt_text_is_bad_input(make_gateway: GatewayFactory, sim: Sim, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'logs.db'}"
    overrides = deep_merge(policy(SHIPPED_ARTIFACT), {"log": {"store_text": False}})
    config = tmp_path / "tiergate.yaml"
    config.write_text(yaml.safe_dump(deep_merge(sim_config(sim.url, db), overrides)))
    gateway = make_gateway(overrides=overrides, database_url=db)
    send(gateway, "nt", 2)
    wait_judged(gateway, 4)
    time.sleep(0.6)
    result = tiergate("--config", str(config), "--out", str(tmp_path / "c.npz"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "log.store_text: true" in result.stderr
    assert not (tmp_path / "c.npz").exists()


def test_worse_candidate_is_refused(sim: Sim, tmp_path: Path) -> None:
    """The labels are the current artifact's own ranking (it is perfect on any held-out slice), the base data
    is noise: the candidate can at best tie, and here it loses; the margin is printed and nothing written."""
    seed = read_jsonl(SEED_DATA)
    logged, base = seed[:40], seed[40:]
    current, _ = load_model(SHIPPED_ARTIFACT)
    scores = difficulty_scores(current, [r.prompt for r in logged], "onnx")
    median = float(np.median(scores))
    outcomes = tmp_path / "outcomes.jsonl"
    outcomes.write_text(
        "".join(
            json.dumps({"prompt": r.prompt, "scores": {"gpt-4o": 1.0, "deepseek-v3": float(s <= median)}})
            + "\n"
            for r, s in zip(logged, scores, strict=True)
        )
    )
    rng = np.random.default_rng(7)
    noise = tmp_path / "noise.jsonl"
    noise.write_text(
        "".join(
            json.dumps(
                {
                    "id": r.id,
                    "source": "noise",
                    "domain": r.domain,
                    "prompt": r.prompt,
                    "scores": {"strong": float(rng.integers(0, 2)), "weak": float(rng.integers(0, 2))},
                    "reasoning": r.reasoning,
                }
            )
            + "\n"
            for r in base
        )
    )
    db = f"sqlite:///{tmp_path / 'logs.db'}"
    upgrade(db)
    config = tmp_path / "tiergate.yaml"
    config.write_text(yaml.safe_dump(deep_merge(sim_config(sim.url, db), policy(SHIPPED_ARTIFACT))))
    imported = subprocess.run(
        [sys.executable, "-m", "router.cli", "outcomes", "import", str(outcomes), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert imported.returncode == 0, imported.stderr
    out = tmp_path / "candidate.npz"
    result = tiergate(
        "--config",
        str(config),
        "--data",
        str(noise),
        "--holdout",
        "0.3",
        "--out",
        str(out),
        "--log-share",
        "0.05",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "refused: the candidate is worse than the current artifact on held-out" in result.stdout
    margin = float(result.stdout.split(" by ")[-1].split(";")[0])
    assert margin > 0
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--holdout", "1.5"], "--holdout"), (["--since", "soon"], "expected e.g. 30d")],
)
def test_bad_options(args: list[str], message: str, sim: Sim, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'logs.db'}"
    config = tmp_path / "tiergate.yaml"
    config.write_text(yaml.safe_dump(deep_merge(sim_config(sim.url, db), policy(SHIPPED_ARTIFACT))))
    result = tiergate("--config", str(config), *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_feedback_labels_and_grouped_split(tmp_path: Path) -> None:
    """Feedback on the served model is its score; the reference's is assumed 1.0 where nothing rated it; the
    held-out slice never shares a prompt with the training side, however often the prompt was sent."""
    db = f"sqlite:///{tmp_path / 'logs.db'}"
    upgrade(db)
    engine = make_engine(db)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        for i in range(12):
            digest = f"hash-{i % 6}"  # six prompts, each sent twice
            text = json.dumps([{"role": "user", "content": f"prompt {i % 6}"}])
            connection.execute(
                requests.insert().values(
                    id=f"r{i}",
                    created_at=now,
                    status="ok",
                    http_status=200,
                    model="deepseek-v3",
                    prompt_hash=digest,
                    prompt_text=text,
                )
            )
            connection.execute(
                feedback.insert().values(
                    request_id=f"r{i}", source="user", score=float(i % 2), created_at=now, updated_at=now
                )
            )
        connection.execute(
            outcomes.insert().values(
                prompt_hash="hash-0", model="gpt-4o", score=0.5, source="shadow-reference", created_at=now
            )
        )
    examples, stats = load_examples(engine, "gpt-4o", None)
    assert stats.requests == 12 and stats.prompts == 6 and stats.strong_assumed == 5
    by_group = {e.group: e for e in examples}
    assert by_group["hash-0"].prompt == "prompt 0" and by_group["hash-0"].strong == 0.5
    assert by_group["hash-1"].strong == 1.0 and by_group["hash-1"].weak == 1.0  # i = 1 and 7: both rated 1
    train, held = split(examples, 0.5)
    assert held and train and not {e.group for e in train} & {e.group for e in held}
