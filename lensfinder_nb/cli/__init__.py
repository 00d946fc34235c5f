"""The ``lensfinder`` command: a few lines per command over library calls.

Each module in ``COMMAND_MODULES`` has ``register(subparsers)`` that adds its commands and
sets ``func`` on them; ``func(args)`` returns an exit status or raises ``CliError``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ._common import CliError

__all__ = ["main", "build_parser"]

COMMAND_MODULES = ["data", "serve", "survey", "scoring", "images", "machine"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lensfinder", description="Find strong gravitational lenses together.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"lensfinder: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lensfinder: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
