"""The ``finops`` console script: a small dispatcher, one sub-command per module.

Each sub-command registers its own parser (``add_parser``) and handler, so adding one (``doctor`` ...) is
one import and one call here; heavy imports happen inside the handlers, keeping ``finops --help`` fast.

``finops sandbox`` belongs to the separate sandbox package (``finops_sandbox``, the ``sandbox/`` workspace
member, which brings moto): the product runs without it, so it is registered only when installed, and
otherwise answers with how to install it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from finops_pipeline import doctor, iam_policies
from finops_pipeline.lib import run_recovery

SANDBOX_MISSING = (
    "the local AWS sandbox is not installed (it is the finops-sandbox package, with moto); "
    "install the sandbox: uv sync / make install (from a source checkout)"
)


def _add_sandbox_parser(commands: Any) -> None:
    """``finops_sandbox.cli``'s parser when the sandbox is installed, else a stub that explains the fix."""
    try:
        from finops_sandbox import cli as sandbox_cli
    except ModuleNotFoundError as exc:
        if exc.name != "finops_sandbox":
            raise  # the sandbox is there but broken: show the real error
    else:
        sandbox_cli.add_parser(commands)
        return
    parser = commands.add_parser(
        "sandbox", help="run the local AWS sandbox (not installed: uv sync / make install)", add_help=False
    )
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    parser.set_defaults(handler=_sandbox_missing)


def _sandbox_missing(args: argparse.Namespace) -> int:
    print(f"finops sandbox: error: {SANDBOX_MISSING}", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="finops", description="AWS FinOps data platform tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_sandbox_parser(commands)
    doctor.add_parser(commands)
    iam_policies.add_parser(commands)
    run_recovery.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args, extra = build_parser().parse_known_args(argv)
    if extra and args.handler is not _sandbox_missing:
        build_parser().parse_args(argv)  # the usual "unrecognized arguments" error and exit status 2
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
