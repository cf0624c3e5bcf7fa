"""Classifier benchmarks: decision latency per backend, and routing quality against RouteLLM.

    python benchmarks/classifier.py latency [--backends torch onnx onnx-int8] [--quick]
    python benchmarks/classifier.py quality [--int8]

`latency` measures `RoutingClassifier.score` (cache off) for ~20, ~256 and ~2,000-token prompts: one request at
a time, and 64 concurrent requests with and without micro-batching. `quality` runs the held-out evaluation
(subject-grouped folds, see classifier/evaluate.py) on ../shared/routing-data, draws the cost-quality curves and
prints one table with this classifier, a random router and RouteLLM's published figures. Both print a table and
write JSON (and the PNG) under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results"
DATA = Path(os.environ.get("TIERGATE_ROUTING_DATA", ROOT.parent / "shared" / "routing-data"))

# Varied English so the tokenizer sees ordinary text (~1.3 word pieces per word).
_TEXT = (
    "the committee reviewed quarterly figures before deciding whether to expand production capacity given "
    "rising demand uncertain supply chains and a proposal to automate inspection which engineers estimated "
    "would reduce defects but require retraining staff across three sites over eighteen months"
)
_WORDS = _TEXT.split(" ")


def prompt_of(tokens: int, salt: int) -> str:
    """A prompt of about `tokens` word pieces, different for each salt (so no two requests are identical)."""
    words = [_WORDS[(i * 7 + salt) % len(_WORDS)] for i in range(max(1, int(tokens / 1.25)))]
    return f"Request {salt}: " + " ".join(words) + "?"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


WARM_UP = 20  # untimed decisions per prompt size first: a server's steady state, not its first requests


async def _alone(clf: Any, tokens: int, n: int) -> tuple[list[float], float]:
    """Wall times of `n` lone decisions, and the process CPU time per decision: on a shared machine wall time
    includes waiting for a core, CPU time does not. The first calls at a new input shape are slower (ONNX
    Runtime sizes its buffers), so WARM_UP decisions run untimed before them."""
    for i in range(WARM_UP):
        await clf.score([{"role": "user", "content": prompt_of(tokens, 90_000 + i)}])
    out = []
    cpu = time.process_time()
    for i in range(n):
        s = await clf.score([{"role": "user", "content": prompt_of(tokens, 10_000 + i)}])
        out.append(s.decision_ms)
    return out, (time.process_time() - cpu) * 1000.0 / n


async def _concurrent(clf: Any, tokens: int, rounds: int, width: int = 64) -> tuple[list[float], float]:
    latencies: list[float] = []
    started = time.perf_counter()
    for r in range(rounds):
        scores = await asyncio.gather(
            *(
                clf.score([{"role": "user", "content": prompt_of(tokens, r * width + i)}])
                for i in range(width)
            )
        )
        latencies.extend(s.decision_ms for s in scores)
    elapsed = time.perf_counter() - started
    return latencies, rounds * width / elapsed


def latency(backends: list[str], quick: bool, alone_only: bool = False) -> dict[str, Any]:
    from classifier import RoutingClassifier

    sizes = {20: 200, 256: 100, 2000: 50} if not quick else {20: 15, 256: 10, 2000: 5}
    rows: list[dict[str, Any]] = []
    for backend in backends:
        for batched in (True,) if alone_only else (True, False):
            clf = RoutingClassifier.load(backend=backend, cache_size=0, max_batch=32 if batched else 1)
            for tokens, n in sizes.items():
                row: dict[str, Any] = {"backend": backend, "tokens": tokens, "micro_batching": batched}
                if batched:  # a lone request does not depend on batching
                    alone, cpu_ms = asyncio.run(_alone(clf, tokens, n))
                    row |= {
                        "alone_p50_ms": percentile(alone, 50),
                        "alone_p99_ms": percentile(alone, 99),
                        "alone_cpu_ms": cpu_ms,
                    }
                if not alone_only:
                    rounds = 1 if tokens == 2000 or quick else 2
                    conc, throughput = asyncio.run(_concurrent(clf, tokens, rounds))
                    row |= {
                        "c64_p50_ms": percentile(conc, 50),
                        "c64_p99_ms": percentile(conc, 99),
                        "c64_throughput_rps": throughput,
                    }
                rows.append(row)
                print(_latency_line(row), flush=True)
            asyncio.run(clf.aclose())
    cache = _cache_hit_ms(backends[0])
    return {"rows": rows, "cache_hit_p50_ms": cache, **_machine()}


def _cache_hit_ms(backend: str) -> float:
    from classifier import RoutingClassifier

    clf = RoutingClassifier.load(backend=backend)
    messages = [{"role": "user", "content": prompt_of(256, 1)}]

    async def run() -> list[float]:
        await clf.score(messages)
        return [(await clf.score(messages)).decision_ms for _ in range(200)]

    hits = asyncio.run(run())
    asyncio.run(clf.aclose())
    return statistics.median(hits)


def _latency_line(row: dict[str, Any]) -> str:
    alone = (
        f"{row['alone_p50_ms']:>8.2f} {row['alone_p99_ms']:>8.2f} {row['alone_cpu_ms']:>8.2f}"
        if "alone_p50_ms" in row
        else f"{'':>8} {'':>8} {'':>8}"
    )
    concurrent = (
        f"{row['c64_p50_ms']:>9.1f} {row['c64_p99_ms']:>9.1f} {row['c64_throughput_rps']:>8.0f}"
        if "c64_p50_ms" in row
        else ""
    )
    return f"{row['backend']:<10} {row['tokens']:>6} {'yes' if row['micro_batching'] else 'no':>6} {alone} {concurrent}"


def _machine() -> dict[str, Any]:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average_1m": load}


def quality(int8: bool) -> dict[str, Any]:
    from classifier import data as rd
    from classifier import evaluate
    from classifier.train import build

    paths = [ROOT / "classifier" / "data" / "seed.jsonl", DATA / "mmlu.jsonl", DATA / "gsm8k.jsonl"]
    records = rd.read_all(paths)
    strong, weak = "gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"
    outcome = np.array([strong in r.scores and weak in r.scores for r in records])
    result: dict[str, Any] = {"strong": strong, "weak": weak, "method": evaluate.__doc__}
    backends = ["onnx", "onnx-int8"] if int8 else ["onnx"]
    curves_by_backend = {}
    for backend in backends:
        ts = build(records, strong, weak, backend)
        scores = evaluate.heldout_scores(ts, outcome)
        table, curves = evaluate.report(ts, scores, strong, weak)
        result[backend] = table
        curves_by_backend[backend] = curves
    result["routellm_published"] = {
        bench: {name: dict(zip(("apgr", "cpt50", "cpt80"), v, strict=True)) for name, v in rows.items()}
        for bench, rows in evaluate.ROUTELLM_PUBLISHED.items()
    }
    markdown = _quality_table(result, backends)
    print(markdown)
    result["markdown"] = markdown
    _plot(curves_by_backend["onnx"], RESULTS / "classifier_curves.png")
    return result


def _fmt(value: float | None, pct: bool) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a"
    return f"{value:.1%}" if pct else f"{value:.3f}"


def _quality_table(result: dict[str, Any], backends: list[str]) -> str:
    lines = [
        "| benchmark | router | APGR | CPT(50%) | CPT(80%) | AUC |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for bench in ("mmlu", "gsm8k", "all"):
        for backend in backends:
            ours = result[backend][bench]["classifier"]
            label = "tiergate classifier" + (" (int8 embeddings)" if backend == "onnx-int8" else "")
            lines.append(
                f"| {bench} | {label} | {_fmt(ours['apgr'], False)} | {_fmt(ours['cpt50'], True)} | "
                f"{_fmt(ours['cpt80'], True)} | {_fmt(ours['auc'], False)} |"
            )
        rand = result[backends[0]][bench]["random"]
        lines.append(
            f"| {bench} | random | {_fmt(rand['apgr'], False)} | {_fmt(rand['cpt50'], True)} | "
            f"{_fmt(rand['cpt80'], True)} | {_fmt(rand['auc'], False)} |"
        )
        for name, (apgr, cpt50, cpt80) in result_published(bench):
            lines.append(
                f"| {bench} | {name} | {_fmt(apgr, False)} | {_fmt(cpt50, True)} | {_fmt(cpt80, True)} | n/a |"
            )
    return "\n".join(lines)


def result_published(bench: str) -> list[tuple[str, tuple[float | None, float | None, float | None]]]:
    from classifier.evaluate import ROUTELLM_PUBLISHED

    return list(ROUTELLM_PUBLISHED.get(bench, {}).items())


def _plot(curves: dict[str, Any], target: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install matplotlib); no PNG drawn", file=sys.stderr)
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, bench in zip(axes, ("mmlu", "gsm8k"), strict=True):
        for name, style in (("classifier", "-"), ("random", "--")):
            c = curves[bench][name]
            ax.plot(c.share * 100, c.quality * 100, style, label=f"{name}")
        ours = curves[bench]["classifier"]
        ax.axhline(ours.quality[-1] * 100, color="grey", lw=0.8, ls=":", label="all strong (GPT-4)")
        ax.axhline(ours.quality[0] * 100, color="grey", lw=0.8, ls="-.", label="all weak (Mixtral)")
        ax.set_title(f"{bench.upper()}, held-out subjects/questions")
        ax.set_xlabel("calls to the strong model (%)")
        ax.set_ylabel("accuracy (%)")
        ax.legend(loc="lower right")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=110)
    print(f"wrote {target}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="what", required=True)
    lat = sub.add_parser("latency")
    lat.add_argument("--backends", nargs="+", default=["torch", "onnx", "onnx-int8"])
    lat.add_argument("--quick", action="store_true", help="fewer repetitions")
    lat.add_argument("--alone-only", action="store_true", help="single requests only (no concurrency runs)")
    qual = sub.add_parser("quality")
    qual.add_argument("--int8", action="store_true", help="also evaluate on int8-quantised embeddings")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.what == "latency":
        print(
            f"{'backend':<10} {'tokens':>6} {'batch':>6} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms':>8} {'c64 p50':>9} "
            f"{'c64 p99':>9} {'req/s':>8}"
        )
        result = latency(args.backends, args.quick, args.alone_only)
        print(f"cache hit p50: {result['cache_hit_p50_ms']:.3f} ms; load average {result['load_average_1m']}")
        out = RESULTS / ("classifier_latency_alone.json" if args.alone_only else "classifier_latency.json")
    else:
        result = quality(args.int8)
        out = RESULTS / "classifier_quality.json"
    out.write_text(json.dumps(result, indent=2, default=float))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
