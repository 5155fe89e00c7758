"""The ``finops`` console script: a small dispatcher, one sub-command per module.

Each sub-command registers its own parser (``add_parser``) and handler, so adding one (``doctor`` ...) is
one import and one call here; heavy imports happen inside the handlers, keeping ``finops --help`` fast.
"""

from __future__ import annotations

import argparse
import sys

from finops_pipeline import doctor, iam_policies, run_recovery
from finops_pipeline.sandbox import cli as sandbox_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="finops", description="AWS FinOps data platform tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sandbox_cli.add_parser(commands)
    doctor.add_parser(commands)
    iam_policies.add_parser(commands)
    run_recovery.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
