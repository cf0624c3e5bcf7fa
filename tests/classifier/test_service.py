"""The shipped artifact through the contract the gateway calls."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from classifier import ArtifactError, RoutingClassifier, Scores
from classifier.model import SHIPPED_ARTIFACT, load_model

GSM8K_STYLE = (
    "A bakery sells muffins for $3 each and cookies for $1.50 each. On Monday it sold 48 muffins and twice as "
    "many cookies. On Tuesday it sold a third fewer muffins than on Monday. How much money did it make from "
    "muffins and cookies over the two days if Tuesday's cookie sales matched Monday's?"
)


def user(text: str) -> list[dict[str, object]]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def clf() -> Iterator[RoutingClassifier]:
    classifier = RoutingClassifier.load(backend="onnx")
    yield classifier
    asyncio.run(classifier.aclose())


async def test_scores_are_probabilities_and_order_sensibly(clf: RoutingClassifier) -> None:
    hi = await clf.score(user("hi there"))
    maths = await clf.score(user(GSM8K_STYLE))
    code = await clf.score(
        user("Implement a lock-free multi-producer queue in C++ and justify each memory order.")
    )
    for s in (hi, maths, code):
        assert isinstance(s, Scores)
        assert 0.0 < s.difficulty < 1.0 and 0.0 < s.reasoning < 1.0
        assert s.decision_ms > 0
    assert maths.reasoning > hi.reasoning + 0.3
    assert code.reasoning > hi.reasoning
    assert code.difficulty > hi.difficulty


async def test_repeated_prompt_is_served_from_the_cache(clf: RoutingClassifier) -> None:
    messages = user("What is the capital of Peru? (cache test)")
    first = await clf.score(messages)
    second = await clf.score(messages)
    assert not first.cached and second.cached
    assert (second.difficulty, second.reasoning) == (first.difficulty, first.reasoning)


async def test_concurrent_requests_are_batched_and_match_single_scores(clf: RoutingClassifier) -> None:
    prompts = [f"Concurrent question {i}: what is {i} times {i + 3}?" for i in range(24)]
    batches_before, items_before = clf.batch_stats
    together = await asyncio.gather(*(clf.score(user(p)) for p in prompts))
    batches, items = clf.batch_stats
    assert items - items_before == len(prompts)
    assert batches - batches_before < len(prompts)  # at least some requests shared an encode
    alone = RoutingClassifier(clf.model, clf.version, clf._embedder, cache_size=0)
    for prompt, batched in zip(prompts[:4], together, strict=False):
        single = await alone.score(user(prompt))
        assert single.difficulty == pytest.approx(batched.difficulty, abs=1e-5)
        assert single.reasoning == pytest.approx(batched.reasoning, abs=1e-5)
    await alone.aclose()


async def test_score_accepts_content_parts_and_multi_turn(clf: RoutingClassifier) -> None:
    s = await clf.score(
        [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [{"type": "text", "text": "Solve x^2 - 5x + 6 = 0."}]},
        ]
    )
    assert 0.0 < s.reasoning < 1.0


async def test_embed_gives_unit_vectors_that_know_paraphrases(clf: RoutingClassifier) -> None:
    a = await clf.embed("How do I reset my password?")
    b = await clf.embed("I forgot my password, how can I reset it?")
    c = await clf.embed("Recipe for a chocolate cake")
    assert a.shape == (384,) and float(np.linalg.norm(a)) == pytest.approx(1.0, abs=1e-4)
    assert float(a @ b) > float(a @ c) + 0.2


def test_version_and_metadata_describe_the_artifact(clf: RoutingClassifier) -> None:
    assert len(clf.version) == 12
    meta = clf.metadata
    assert meta["embedding_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert {"scikit-learn", "numpy"} <= set(meta["versions"])
    assert all(len(d["sha256"]) == 64 for d in meta["data"])
    assert set(meta["heldout_metrics"]) >= {"mmlu", "gsm8k"}
    shares = meta["thresholds"]["difficulty"]
    assert shares["strong_share_20"] > shares["strong_share_50"]


def test_missing_artifact_is_refused_with_a_fix(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"not found.*tiergate classifier train"):
        RoutingClassifier.load(tmp_path / "nope.npz")


def test_garbage_artifact_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "garbage.npz"
    path.write_bytes(b"not a zip file at all")
    with pytest.raises(ArtifactError, match="not a tiergate classifier artifact"):
        load_model(path)


def _shipped_with(tmp_path: Path, key: str, value: object) -> Path:
    with np.load(SHIPPED_ARTIFACT, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays["metadata"]))
    meta[key] = value
    arrays["metadata"] = np.array(json.dumps(meta))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path = tmp_path / "old.npz"
    path.write_bytes(buffer.getvalue())
    return path


def test_incompatible_artifact_names_the_mismatch(tmp_path: Path) -> None:
    path = _shipped_with(tmp_path, "feature_version", "features-v0")
    with pytest.raises(ArtifactError, match=r"incompatible.*feature_version: artifact has 'features-v0'"):
        load_model(path)


def test_artifact_trained_on_other_encoder_layers_is_refused(tmp_path: Path) -> None:
    # Vectors from six layers are not the vectors the serving encoder makes: refuse, never score with them.
    path = _shipped_with(tmp_path, "encoder_layers", 6)
    with pytest.raises(ArtifactError, match=r"encoder_layers: artifact has 6, code needs 2"):
        load_model(path)


def test_torch_backend_agrees_with_onnx(clf: RoutingClassifier) -> None:
    torch_clf = RoutingClassifier.load(backend="torch")
    try:
        text = "Explain why the derivative of sin is cos."
        assert torch_clf.version == clf.version
        a = asyncio.run(torch_clf.score(user(text)))
        b = asyncio.run(clf.score(user(text)))
        assert a.difficulty == pytest.approx(b.difficulty, abs=1e-4)
    finally:
        asyncio.run(torch_clf.aclose())
