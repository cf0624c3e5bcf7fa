"""The `--from-logs` options of `tiergate classifier train` and their handling (the work is in fromlogs.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(train: argparse.ArgumentParser) -> None:
    group = train.add_argument_group(
        "from logs",
        "retrain on the gateway's logged feedback and outcomes plus the base data; replace the current artifact "
        "only when the candidate is at least as good on held-out log prompts (exit 0 written, 1 refused, 2 bad "
        "input)",
    )
    group.add_argument(
        "--from-logs", action="store_true", help="train from the request log's quality signals"
    )
    group.add_argument("--config", help="gateway config (database, classifier.path, reference model)")
    group.add_argument("--since", default="30d", help="log window, e.g. 30d, 12h (default: 30d)")
    group.add_argument(
        "--holdout", type=float, default=0.2, help="share of logged prompts held out for the comparison"
    )
    group.add_argument(
        "--base-rows",
        type=int,
        default=3000,
        help="seeded subsample of the base data, to bound training time (0: all; default 3000)",
    )
    group.add_argument(
        "--log-share", type=float, default=0.25, help="share of the training weight the log rows carry"
    )
    group.add_argument(
        "--reference", help="the strong model of the logs (default: shadow.reference, else routing.baseline)"
    )
    group.add_argument("--apply", action="store_true", help="also write the artifact to classifier.path")


def _fail(message: str) -> int:
    print(f"tiergate classifier: error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from classifier.data import DataError
    from classifier.fromlogs import train_from_logs
    from classifier.model import ArtifactError
    from router.feedback.cli import parse_since
    from router.log.store import make_engine
    from router.settings import ConfigError, load_settings

    if not 0.0 < args.holdout < 1.0:
        return _fail("--holdout must be between 0 and 1")
    if not 0.0 < args.log_share < 1.0:
        return _fail("--log-share must be between 0 and 1")
    try:
        since = parse_since(args.since)
        settings = load_settings(args.config)
    except (argparse.ArgumentTypeError, ConfigError) as exc:
        return _fail(str(exc))
    reference = args.reference or settings.shadow.reference or settings.routing.baseline
    if not reference:
        return _fail("no reference model: pass --reference or set shadow.reference / routing.baseline")
    current = settings.classifier.path
    apply_to = None
    if args.apply:
        if not current:
            return _fail("--apply needs classifier.path in the config (the shipped artifact is not replaced)")
        apply_to = Path(current)
    out = Path(args.out or "tiergate-router-candidate.npz")
    try:
        outcome = train_from_logs(
            make_engine(settings.database_url),
            strong_model=reference,
            current_path=current,
            out=out,
            apply_to=apply_to,
            data=args.data,
            since=since,
            holdout=args.holdout,
            base_rows=args.base_rows,
            log_share=args.log_share,
            backend=args.backend,
        )
    except (DataError, ArtifactError) as exc:
        return _fail(str(exc))
    print("\n".join(outcome.lines))
    return outcome.code
