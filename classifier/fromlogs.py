"""`tiergate classifier train --from-logs`: retrain on the gateway's own quality signals, replace only if better.

Training examples come from the request log joined with feedback and outcomes, one per distinct prompt (the
request log's `prompt_hash`):

* the prompt text is `requests.prompt_text` (kept only with `log.store_text: true`) or the `prompt` of an
  imported outcome;
* the strong side is the reference model (`--strong`, else `shadow.reference`, else `routing.baseline`): its
  mean score over the prompt's signals. Where no signal scored it, 1.0 is assumed (the shadow judge's yardstick
  by definition; the count of such rows is reported);
* the weak side is the mean score of every other model that answered the prompt (the cheap models that served).

A prompt the cheap model failed while the reference succeeded becomes a positive `difficulty` example, one both
answered well a negative, in classifier/data.py's record format with the log's model names mapped onto the
artifact's (strong, weak) pair, so the existing training code is reused unchanged. Log rows are repeated to
carry a set share of the training weight; otherwise a few dozen of them vanish among thousands of benchmark rows.

Evaluation holds out a share of the prompts (by hash, so no prompt is on both sides) before training and scores
both the candidate and the current artifact there with RouteLLM's APGR and the AUC (metrics.py).
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine, select

from classifier import data as rd
from classifier import metrics
from classifier.embedcache import embed_cached
from classifier.features import feature_matrix
from classifier.model import RouterModel, load_model
from classifier.text import conversation_text, last_user_text, prompt_messages

SEED = 20240601
LOG_SOURCE = "tiergate-logs"
# A candidate must not lose more than this on held-out APGR (or, at equal APGR, on AUC) to replace the current.
TOLERANCE = 1e-9
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "routing-data"


@dataclass
class LogExample:
    group: str  # prompt hash: the split unit
    prompt: str
    strong: float
    weak: float
    strong_assumed: bool


@dataclass
class LogStats:
    requests: int = 0
    prompts: int = 0
    without_text: int = 0
    without_weak: int = 0
    strong_assumed: int = 0
    notes: list[str] = field(default_factory=list)


def _prompt_of(prompt_text: str) -> str | None:
    """The record prompt for a logged conversation: the user's text for a single turn, else the bounded
    conversation text the classifier would embed (the record format holds one string)."""
    try:
        messages = json.loads(prompt_text)
    except json.JSONDecodeError:
        return prompt_text or None
    if not isinstance(messages, list) or not messages:
        return None
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    text = last_user_text(users) if len(messages) == 1 else conversation_text(messages)
    return text if text.strip() else None


def load_examples(engine: Engine, strong: str, since: datetime | None) -> tuple[list[LogExample], LogStats]:
    from router.feedback.schema import feedback, outcomes
    from router.log.schema import requests

    stats = LogStats()
    texts: dict[str, str] = {}
    scores: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    query = select(requests.c.id, requests.c.prompt_hash, requests.c.prompt_text, requests.c.model).where(
        requests.c.status == "ok", requests.c.prompt_hash.is_not(None)
    )
    outcome_query = select(outcomes)
    if since is not None:
        query = query.where(requests.c.created_at >= since)
        outcome_query = outcome_query.where(outcomes.c.created_at >= since)
    with engine.connect() as connection:
        logged = connection.execute(query).all()
        by_id = {r.id: r for r in logged}
        stats.requests = len(logged)
        for r in logged:
            if r.prompt_text and r.prompt_hash not in texts:
                prompt = _prompt_of(r.prompt_text)
                if prompt is not None:
                    texts[r.prompt_hash] = prompt
        for f in connection.execute(select(feedback.c.request_id, feedback.c.score)):
            request = by_id.get(f.request_id)
            if request is not None and request.model is not None:
                scores[request.prompt_hash][request.model].append(float(f.score))
        for o in connection.execute(outcome_query):
            digest = o.prompt_hash
            if o.request_id is not None:
                request = by_id.get(o.request_id)
                digest = request.prompt_hash if request is not None else digest
            if digest is None:
                continue
            scores[digest][o.model].append(float(o.score))
            if o.prompt and digest not in texts:
                texts[digest] = o.prompt
    examples: list[LogExample] = []
    for digest, per_model in sorted(scores.items()):
        weak_scores = [s for model, values in per_model.items() if model != strong for s in values]
        if not weak_scores:
            stats.without_weak += 1
            continue
        if digest not in texts:
            stats.without_text += 1
            continue
        strong_scores = per_model.get(strong, [])
        examples.append(
            LogExample(
                group=digest,
                prompt=texts[digest],
                strong=float(np.mean(strong_scores)) if strong_scores else 1.0,
                weak=float(np.mean(weak_scores)),
                strong_assumed=not strong_scores,
            )
        )
    stats.prompts = len(examples)
    stats.strong_assumed = sum(e.strong_assumed for e in examples)
    return examples, stats


def split(
    examples: Sequence[LogExample], holdout: float, seed: int = SEED
) -> tuple[list[LogExample], list[LogExample]]:
    """(train, held out): whole prompt groups on one side, a seeded shuffle, at least one group each side."""
    groups = sorted({e.group for e in examples})
    random.Random(seed).shuffle(groups)
    count = min(len(groups) - 1, max(1, round(holdout * len(groups))))
    held = set(groups[:count])
    return [e for e in examples if e.group not in held], [e for e in examples if e.group in held]


def to_records(examples: Sequence[LogExample], strong: str, weak: str, repeat: int) -> list[rd.Record]:
    """Records in the base data's model names; copies of a prompt share its domain, hence its split group."""
    records = []
    for e in examples:
        for copy in range(repeat):
            records.append(
                rd.Record(
                    id=f"log-{e.group[:16]}-{copy}",
                    source=LOG_SOURCE,
                    domain=e.group[:16],
                    prompt=e.prompt,
                    scores={strong: e.strong, weak: e.weak},
                )
            )
    return records


def default_base_paths(model: RouterModel) -> list[Path]:
    """The training inputs the artifact's metadata names, looked up in the repo's data folder and the shared
    routing data beside the checkout."""
    found = []
    for entry in model.metadata.get("data", []):
        name = str(entry.get("file", ""))
        candidates = [Path(__file__).resolve().parent / "data" / name, SHARED_DATA / name]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise rd.DataError(
                f"base data file {name!r} named by the current artifact was not found (looked in "
                f"{', '.join(str(c.parent) for c in candidates)}); pass --data FILE ..."
            )
        found.append(path)
    if not found:
        raise rd.DataError("the current artifact names no training data; pass --data FILE ...")
    return found


def sample_base(records: list[rd.Record], limit: int, seed: int = SEED) -> list[rd.Record]:
    """Every row without outcomes (the small hand-labelled seed set) plus a seeded sample of the rest."""
    if limit <= 0 or len(records) <= limit:
        return records
    unscored = [r for r in records if len(r.scores) < 2]
    scored = [r for r in records if len(r.scores) >= 2]
    keep = max(0, limit - len(unscored))
    return unscored + random.Random(seed).sample(scored, min(keep, len(scored)))


def difficulty_scores(model: RouterModel, prompts: Sequence[str], backend: str) -> npt.NDArray[np.float64]:
    messages = [prompt_messages(p) for p in prompts]
    embeddings = embed_cached([conversation_text(m) for m in messages], backend)
    feats = feature_matrix([last_user_text(m) for m in messages])
    difficulty, _ = model.predict(embeddings, feats)
    return difficulty


def evaluate(model: RouterModel, examples: Sequence[LogExample], backend: str) -> metrics.RouterMetrics:
    scores = difficulty_scores(model, [e.prompt for e in examples], backend)
    result, _ = metrics.evaluate(scores, [e.strong for e in examples], [e.weak for e in examples])
    return result


def worse_by(candidate: metrics.RouterMetrics, current: metrics.RouterMetrics) -> tuple[str, float] | None:
    """(metric, margin) when the candidate is worse: lower APGR, or equal APGR and lower AUC."""
    apgr = candidate.apgr - current.apgr
    if apgr < -TOLERANCE:
        return "APGR", apgr
    auc = candidate.auc - current.auc
    if abs(apgr) <= TOLERANCE and not np.isnan(auc) and auc < -TOLERANCE:
        return "AUC", auc
    return None


@dataclass
class Outcome:
    code: int
    lines: list[str]


def train_from_logs(
    engine: Engine,
    *,
    strong_model: str,
    current_path: str | Path | None,
    out: Path,
    apply_to: Path | None,
    data: Sequence[str | Path] | None = None,
    since: timedelta | None = None,
    holdout: float = 0.2,
    base_rows: int = 3000,
    log_share: float = 0.25,
    backend: str = "onnx",
) -> Outcome:
    """The whole command; raises rd.DataError (and ArtifactError) for bad input."""
    from classifier.pipeline import train_artifact

    current, current_version = load_model(current_path)
    cutoff = datetime.now().astimezone() - since if since is not None else None
    examples, stats = load_examples(engine, strong_model, cutoff)
    lines = [
        f"logs: {stats.requests} requests, {stats.prompts} prompts with a label "
        f"(strong side: {strong_model}; its score assumed 1.0 for {stats.strong_assumed})"
    ]
    if stats.without_text:
        lines.append(
            f"  {stats.without_text} scored prompts have no text: the request log keeps prompts only with "
            "`log.store_text: true` (or import outcomes with their `prompt`)"
        )
    if stats.without_weak:
        lines.append(f"  {stats.without_weak} prompts were scored only on the strong model (no label)")
    if len({e.group for e in examples}) < 2:
        hint = (
            " Prompt text is missing: set `log.store_text: true` in the config (or import outcomes with a "
            "`prompt`)."
            if stats.without_text
            else ""
        )
        raise rd.DataError(
            f"the logs hold {stats.prompts} labelled prompts with text; at least 2 are needed (scored by "
            f"feedback or outcomes on a cheap model).{hint}"
        )
    train, held = split(examples, holdout)
    base_paths = [Path(p) for p in data] if data else default_base_paths(current)
    base_all = rd.read_all(base_paths)
    base = sample_base(base_all, base_rows)
    strong, weak = rd.pick_pair([r for r in base if len(r.scores) >= 2] or base, None, None)
    known = rd.model_names(base)
    if current.metadata.get("strong_model") in known and current.metadata.get("weak_model") in known:
        strong, weak = current.metadata["strong_model"], current.metadata["weak_model"]
    # Every base row weighs 1 in the difficulty fit (train.SEED_WEIGHT is 1 too).
    repeat = max(1, round(log_share / (1 - log_share) * len(base) / len(train)))
    share = repeat * len(train) / (repeat * len(train) + len(base))
    lines.append(
        f"base data: {len(base)} of {len(base_all)} rows from {', '.join(p.name for p in base_paths)}"
        + (" (seeded subsample, to bound training time)" if len(base) < len(base_all) else "")
    )
    lines.append(
        f"training on {len(train)} log prompts (each repeated {repeat}x: {share:.0%} of the weight) as "
        f"{weak} (weak) vs {strong} (strong); {len(held)} prompts held out"
    )
    with tempfile.TemporaryDirectory(prefix="tiergate-fromlogs-") as tmp:
        files = [Path(tmp) / "base-sample.jsonl", Path(tmp) / "from-logs.jsonl"]
        for path, rows in ((files[0], base), (files[1], to_records(train, strong, weak, repeat))):
            path.write_text("".join(json.dumps(_row(r)) + "\n" for r in rows))
        candidate_path = Path(tmp) / "candidate.npz"
        version, _ = train_artifact(files, candidate_path, strong, weak, backend)
        candidate, _ = load_model(candidate_path)
        new, old = evaluate(candidate, held, backend), evaluate(current, held, backend)
        lines.append(f"held-out log prompts: {len(held)}")
        lines.append(f"{'artifact':<24}{'APGR':>8}{'AUC':>8}{'CPT(50%)':>10}")
        for name, m in ((f"current {current_version}", old), (f"candidate {version}", new)):
            lines.append(f"{name:<24}{m.apgr:>8.3f}{m.auc:>8.3f}{m.cpt50:>10.1%}")
        if np.isnan(new.apgr) or np.isnan(old.apgr):
            raise rd.DataError(
                "the held-out prompts cannot tell the artifacts apart (the strong and weak models score the "
                "same on all of them); log more traffic with quality signals or raise --holdout"
            )
        verdict = worse_by(new, old)
        if verdict is not None:
            metric, margin = verdict
            lines.append(
                f"refused: the candidate is worse than the current artifact on held-out {metric} by "
                f"{-margin:.3f}; nothing written"
            )
            return Outcome(1, lines)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(candidate_path, out)
        lines.append(
            f"wrote {out} (version {version}; held-out APGR {new.apgr - old.apgr:+.3f}, AUC {new.auc - old.auc:+.3f})"
        )
        if apply_to is not None:
            apply_to.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(candidate_path, apply_to)
            lines.append(f"applied to {apply_to}; running gateways load it on SIGHUP or POST /admin/reload")
    return Outcome(0, lines)


def _row(record: rd.Record) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": record.id,
        "source": record.source,
        "domain": record.domain,
        "prompt": record.prompt,
        "scores": dict(record.scores),
    }
    if record.difficulty is not None:
        row["difficulty"] = record.difficulty
    if record.reasoning is not None:
        row["reasoning"] = record.reasoning
    return row
