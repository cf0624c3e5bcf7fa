"""`tiergate demo`: sim + gateway on free ports, a mixed workload through the openai SDK, a savings summary."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

WORKLOAD: list[tuple[str, str]] = [
    ("small talk", "Hi! How are you doing today?"),
    ("small talk", "Thanks, that was helpful."),
    ("extraction", "Extract the email address from: 'Contact Dana at dana@example.org for the invoice.'"),
    ("extraction", "List the dates mentioned: the launch is on 3 March and the review on 17 April."),
    ("translation", "Translate 'where is the train station' into French."),
    ("summarise", "Summarise in one sentence: the meeting moved to Thursday because the room was booked."),
    ("rewrite", "Rewrite politely: send me the report now."),
    (
        "code",
        "Write a Python function that returns the n-th Fibonacci number using memoisation.\n```python\n"
        "def fib(n):\n```",
    ),
    ("code", "Why does this raise a KeyError? `d = {}; d['x'] += 1` and how do I fix it with defaultdict?"),
    ("math", "Solve for x: 3x + 7 = 22, and show each step."),
    (
        "math",
        "A train travels 120 km in 1.5 hours, then 80 km in 1 hour. What is its average speed? "
        "Think step by step.",
    ),
    ("math", "Prove that the sum of two odd integers is even."),
    (
        "analysis",
        "Analyse the trade-offs between a monolith and microservices for a five-person startup, "
        "considering deployment, team structure, observability and cost, and recommend a strategy.",
    ),
    (
        "analysis",
        "Compare PostgreSQL and a document store for an audit log that must be queried by time "
        "and by user, and evaluate the operational trade-offs of each design over three years.",
    ),
    ("small talk", "What's a good name for a goldfish?"),
    ("extraction", "Pull out the product and the price: 'The Acme kettle costs 39 euros.'"),
]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("demo", help="sim + gateway + traffic + savings summary, no keys needed")
    parser.add_argument("--repeat", type=int, default=2, help="times the workload is sent")
    parser.add_argument("--keep-db", metavar="FILE", help="keep the request log in this SQLite file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import msgspec
    import openai

    from router.app import create_app
    from router.log.store import make_engine, upgrade
    from router.serving import ServerThread
    from router.settings import Settings
    from router.sim.app import create_sim_app
    from router.sim.config import sim_config

    workdir = Path(tempfile.mkdtemp(prefix="tiergate-demo-"))
    db_path = Path(args.keep_db) if args.keep_db else workdir / "demo.db"
    database_url = f"sqlite:///{db_path}"
    upgrade(database_url)
    started = time.perf_counter()
    with ServerThread(create_sim_app(latency_ms=5, chunk_ms=1)) as sim:
        config = sim_config(sim.url, database_url)
        config["source"] = "<demo>"
        settings = msgspec.convert(config, Settings)
        gateway = ServerThread(create_app(settings)).start()
        try:
            client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="demo-no-key-needed", max_retries=0)
            print(f"tiergate demo: sim at {sim.url}, gateway at {gateway.url}\n")
            print(
                f"{'#':>3}  {'task':<11} {'tier':<9} {'router':<10} {'model':<12} {'tokens':>7} {'cost USD':>12}"
            )
            for round_no in range(args.repeat):
                for i, (task, prompt) in enumerate(WORKLOAD):
                    raw = client.chat.completions.with_raw_response.create(
                        model="auto",
                        messages=[{"role": "user", "content": prompt}],
                        stream=False,
                        extra_headers={"x-request-id": f"demo-{round_no}-{i}"},
                    )
                    completion = raw.parse()
                    h = raw.headers
                    tokens = completion.usage.total_tokens if completion.usage else 0
                    print(
                        f"{round_no * len(WORKLOAD) + i + 1:>3}  {task:<11} {h.get('x-tiergate-tier', ''):<9} "
                        f"{h.get('x-tiergate-router', ''):<10} {h.get('x-tiergate-model', ''):<12} "
                        f"{tokens:>7} {Decimal(h.get('x-tiergate-cost-usd', '0')):>12.8f}"
                    )
        finally:
            gateway.stop()
    _summary(make_engine(database_url), settings, time.perf_counter() - started)
    return 0


def _summary(engine: object, settings: object, elapsed: float) -> None:
    from sqlalchemy import Engine

    from pricing.cli import baseline_price
    from pricing.logrows import fetch_rows
    from pricing.render import money, pct
    from pricing.report import build_report
    from router.settings import Settings

    assert isinstance(engine, Engine) and isinstance(settings, Settings)
    baseline = settings.routing.baseline or "gpt-4o"
    price = baseline_price(baseline, settings)
    assert price is not None
    report = build_report(fetch_rows(engine), baseline, price)
    total = report.total
    print(f"\n{total.requests} requests logged ({total.ok} ok) in {elapsed:.1f} s")
    print(f"routed spend      {money(total.actual, 6)}")
    print(f"all-{baseline} spend  {money(total.baseline, 6)}  (same prompt and output tokens on {baseline})")
    print(f"saved             {money(total.saved, 6)}  ({pct(total.saved_pct)} less)")
    print(
        f"full report: TIERGATE_DATABASE_URL={engine.url} tiergate report [--format html --out report.html]"
    )
    sys.stdout.flush()
