"""`tiergate outcomes import` and `tiergate tune`."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import timedelta
from pathlib import Path

import yaml


def parse_since(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)\s*([dhm])", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected e.g. 30d, 12h or 90m, got {text!r}")
    value, unit = int(match.group(1)), match.group(2)
    return {"d": timedelta(days=value), "h": timedelta(hours=value), "m": timedelta(minutes=value)}[unit]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    outcomes = subparsers.add_parser("outcomes", help="load offline evaluation results as outcomes")
    actions = outcomes.add_subparsers(dest="action", required=True)
    imp = actions.add_parser("import", help="import a JSONL file of outcomes")
    imp.add_argument("file", type=Path)
    imp.add_argument("--config")
    imp.add_argument("--source", default="import", help="source label for rows without one")
    imp.set_defaults(func=run_import)

    tune = subparsers.add_parser("tune", help="tier thresholds that minimise cost at a target quality")
    tune.add_argument("--target-quality", type=float, default=0.95, help="relative to the baseline (0..1)")
    tune.add_argument("--baseline", help="baseline model (default: routing.baseline)")
    tune.add_argument("--since", type=parse_since, default=parse_since("30d"))
    tune.add_argument("--config")
    tune.add_argument(
        "--out", type=Path, default=Path("tiergate-policy.yaml"), help="where the new policy goes"
    )
    tune.add_argument("--apply", action="store_true", help="also write the thresholds into the config file")
    tune.set_defaults(func=run_tune)


def run_import(args: argparse.Namespace) -> int:
    from router.feedback.outcomes import OutcomeFileError, import_outcomes
    from router.log.store import make_engine
    from router.settings import ConfigError, load_settings

    try:
        settings = load_settings(args.config)
        count = import_outcomes(make_engine(settings.database_url), args.file, args.source)
    except (ConfigError, OutcomeFileError, OSError) as exc:
        print(f"tiergate: {exc}", file=sys.stderr)
        return 2
    print(f"tiergate: imported {count} outcomes from {args.file}")
    return 0


def run_tune(args: argparse.Namespace) -> int:
    from router.feedback.tuning import tune
    from router.log.store import make_engine
    from router.settings import ConfigError, load_settings

    if not 0.0 < args.target_quality <= 1.5:
        print("tiergate: --target-quality must be in (0, 1.5]", file=sys.stderr)
        return 2
    try:
        settings = load_settings(args.config)
        result = tune(
            make_engine(settings.database_url),
            settings,
            target_quality=args.target_quality,
            baseline=args.baseline,
            since=args.since,
        )
    except (ConfigError, ValueError) as exc:
        print(f"tiergate: {exc}", file=sys.stderr)
        return 2
    print(
        f"{result.requests} routed requests, {result.signals} quality signals; baseline {result.baseline} "
        f"would cost ${result.baseline_cost:.6f}"
    )
    print(f"note: {result.note}\n")
    print(f"{'hard':>5} {'reason':>6} {'cost USD':>12} {'vs base':>8} {'quality':>8}  mix")
    for point in result.frontier:
        share = (point.cost / result.baseline_cost * 100) if result.baseline_cost else 0
        marker = "  <- chosen" if point is result.chosen else ""
        mix = ", ".join(f"{m}:{n}" for m, n in sorted(point.mix.items()))
        print(
            f"{point.hard:>5.2f} {point.reasoning:>6.2f} {point.cost:>12.6f} {share:>7.1f}% {point.quality:>8.3f}  {mix}{marker}"
        )
    if result.chosen is None:
        print(f"\nno thresholds reach quality {args.target_quality:.3f} of the baseline; policy unchanged")
        return 1
    low, high = result.interval or (result.chosen.quality, result.chosen.quality)
    print(
        f"\nchosen: hard={result.chosen.hard:.2f} reasoning={result.chosen.reasoning:.2f}, "
        f"quality {result.chosen.quality:.3f} (90% interval {low:.3f}-{high:.3f}), cost ${result.chosen.cost:.6f}"
    )
    policy = {"routing": {"thresholds": {"hard": result.chosen.hard, "reasoning": result.chosen.reasoning}}}
    args.out.write_text(yaml.safe_dump(policy, sort_keys=False))
    print(f"wrote {args.out}")
    if args.apply:
        source = settings.source
        if source.startswith("<"):
            print("tiergate: --apply needs a config file (--config)", file=sys.stderr)
            return 2
        config = yaml.safe_load(Path(source).read_text()) or {}
        config.setdefault("routing", {})["thresholds"] = policy["routing"]["thresholds"]
        Path(source).write_text(yaml.safe_dump(config, sort_keys=False))
        print(f"applied to {source}; running gateways pick it up on SIGHUP or POST /admin/reload")
    else:
        print("dry run: pass --apply to write it into the config")
    return 0
