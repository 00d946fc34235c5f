"""The ``lensfinder`` command: a few lines per command over library calls.

Each module in ``COMMAND_MODULES`` has ``register(subparsers)`` that adds its commands and
sets ``func`` on them; ``func(args)`` returns an exit status.  Problems with the person's input
or surroundings are reported here, once, as one line and exit status 1: ``CliError``, the
library's validation errors (``ValueError`` and its subclasses ``StoreError``, ``IngestError``,
``PanoptesError``), ``OSError`` (missing or unreadable files), a busy store (``LockTimeout``)
and errors flagged ``user_facing`` (the cutout service offline, lenscat missing).
``LENSFINDER_TRACEBACK=1`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ._common import CliError

__all__ = ["main", "build_parser"]

COMMAND_MODULES = ["data", "serve", "survey", "scoring", "images", "machine", "realism"]


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
    except Exception as exc:
        if not _user_error(exc) or os.environ.get("LENSFINDER_TRACEBACK") == "1":
            raise
        print(f"lensfinder: error: {str(exc).strip() or type(exc).__name__}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lensfinder: interrupted", file=sys.stderr)
        return 130


def _user_error(exc: BaseException) -> bool:
    from ..store.locks import LockTimeout
    return (isinstance(exc, (CliError, ValueError, OSError, LockTimeout))
            or getattr(type(exc), "user_facing", False))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
