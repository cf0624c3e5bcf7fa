"""The one command-line entry point, `tiergate`.

Each layer owns its subcommands: a module listed in COMMAND_MODULES exposes
`register(subparsers)` which adds its parsers and sets `func` on them. Heavy
imports stay inside the handlers so `tiergate --help` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMAND_MODULES: tuple[str, ...] = (
    "router.commands.serve",
    "router.commands.sim",
    "router.commands.db",
    "router.commands.demo",
    "router.feedback.cli",
    "router.keys.cli",
    "pricing.cli",
    "classifier.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tiergate",
        description="OpenAI-compatible LLM gateway that routes each request to the cheapest adequate model.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    result = func(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
