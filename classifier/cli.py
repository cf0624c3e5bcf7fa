"""`tiergate classifier train|eval`: build an artifact from JSONL data, or measure one on a JSONL file."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("classifier", help="train or evaluate the routing classifier")
    actions = parser.add_subparsers(dest="classifier_action", metavar="ACTION")
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)

    train = actions.add_parser(
        "train",
        help="train an artifact from routing-data JSONL files",
        description="Train the difficulty and reasoning heads on JSONL files (format: classifier/README.md), "
        "evaluate them on subject-grouped held-out folds, and write the artifact with its metadata.",
    )
    train.add_argument(
        "--data", nargs="+", metavar="FILE", help="JSONL data files (with --from-logs: the base data)"
    )
    train.add_argument("--out", metavar="PATH", help="artifact to write (.npz)")
    train.add_argument("--strong", help="strong model name in `scores` (default: the best-scoring)")
    train.add_argument("--weak", help="weak model name in `scores` (default: the worst-scoring)")
    train.add_argument(
        "--backend", default="onnx", help="embedding backend for training (default: onnx, fp32)"
    )
    train.set_defaults(func=_train)
    from classifier.fromlogs_cli import add_arguments

    add_arguments(train)

    evaluate = actions.add_parser(
        "eval",
        help="APGR, CPT(50%%), CPT(80%%), AUC of an artifact on a JSONL file",
        description="Route the prompts of a JSONL file by the artifact's difficulty score and report RouteLLM's "
        "metrics against a random router.",
    )
    evaluate.add_argument("--data", nargs="+", required=True, metavar="FILE", help="JSONL data files")
    evaluate.add_argument("--strong", help="strong model name in `scores` (default: the best-scoring)")
    evaluate.add_argument("--weak", help="weak model name in `scores` (default: the worst-scoring)")
    evaluate.add_argument(
        "--artifact", metavar="PATH", help="artifact to evaluate (default: the shipped one)"
    )
    evaluate.add_argument("--backend", default="onnx", help="embedding backend (default: onnx)")
    evaluate.add_argument("--json", action="store_true", help="print the result as JSON")
    evaluate.set_defaults(func=_eval)


def _fail(message: str) -> int:
    print(f"tiergate classifier: error: {message}", file=sys.stderr)
    return 2


def _train(args: argparse.Namespace) -> int:
    from classifier.data import DataError

    if args.from_logs:
        from classifier.fromlogs_cli import run

        return run(args)
    if not args.data or not args.out:
        return _fail("train needs --data FILE ... and --out PATH (or --from-logs)")
    from classifier.pipeline import train_artifact

    try:
        version, metadata = train_artifact(args.data, args.out, args.strong, args.weak, args.backend)
    except DataError as exc:
        return _fail(str(exc))
    print(
        f"wrote {args.out} (version {version}; strong={metadata['strong_model']}, weak={metadata['weak_model']})"
    )
    for source, rows in metadata.get("heldout_metrics", {}).items():
        ours = rows["classifier"]
        print(
            f"  held-out {source:<8} APGR {ours['apgr']:.3f}  CPT(50%) {ours['cpt50']:.1%}  "
            f"CPT(80%) {ours['cpt80']:.1%}  AUC {ours['auc']:.3f}  rows {ours['rows']}"
        )
    return 0


def _eval(args: argparse.Namespace) -> int:
    from classifier.data import DataError
    from classifier.model import ArtifactError
    from classifier.pipeline import evaluate_file

    try:
        result = evaluate_file(args.data, args.artifact, args.strong, args.weak, args.backend)
    except (DataError, ArtifactError) as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return 0
    print(
        f"artifact {result['artifact']}  strong={result['strong']}  weak={result['weak']}  rows={result['rows']}"
    )
    print(f"{'router':<12}{'APGR':>8}{'CPT(50%)':>11}{'CPT(80%)':>11}{'AUC':>8}")
    for name in ("classifier", "random"):
        m = result[name]
        print(f"{name:<12}{m['apgr']:>8.3f}{m['cpt50']:>11.1%}{m['cpt80']:>11.1%}{m['auc']:>8.3f}")
    return 0
