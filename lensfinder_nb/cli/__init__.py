"""The ``lensfinder`` command: a few lines per command over library calls.

Each module in ``COMMAND_MODULES`` has ``register(subparsers)`` that adds its commands and
sets ``func`` on them; ``func(args)`` returns an exit status.  :func:`main` adds the global
options (``--db``, ``--traceback``: before or after the command) to every command, builds one
:class:`~lensfinder_nb.settings.Settings` as ``args.settings`` and runs the command.

A problem the person can fix is reported here, once, as one line and exit status 1: a
:class:`~lensfinder_nb.errors.UserError` (the library's input errors, a busy store, the cutout
service offline, ...) or a file the person named that is missing or unreadable.  Anything else
is a bug and keeps its traceback; ``--traceback`` (``$LENSFINDER_TRACEBACK=1``) shows it for
user errors too.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from ..errors import UserError
from ._common import CliError, add_global_options, settings_from

__all__ = ["main", "build_parser", "CliError"]

COMMAND_MODULES = ["data", "serve", "survey", "scoring", "images", "machine", "realism", "model", "config",
                   "grading"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lensfinder", description="Find strong gravitational lenses together.")
    add_global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    for leaf in _leaf_parsers(parser):
        add_global_options(leaf, top=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    show_traceback = bool(args.cli_traceback)
    try:
        args.settings = settings_from(args)
        show_traceback = args.settings.cli_traceback
        return int(args.func(args) or 0)
    except UserError as exc:
        if show_traceback:
            raise
        return _one_line(str(exc).strip() or type(exc).__name__)
    except OSError as exc:
        named = _named_file(exc, args)
        if named is None or show_traceback:
            raise
        return _one_line(f"{named}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        print("lensfinder: interrupted", file=sys.stderr)
        return 130


def _one_line(message: str) -> int:
    print(f"lensfinder: error: {message}", file=sys.stderr)
    return 1


def _named_file(exc: OSError, args: argparse.Namespace) -> Path | None:
    """The file or folder the person named on the command line that ``exc`` is about, if any.

    ``exc.filename`` is that path or lies under it; or, as pandas raises for a missing output
    folder, the error has no file name and its message quotes the path or its folder.
    """
    given = [v for v in vars(args).values() if isinstance(v, Path)]
    names = [n for n in (exc.filename, exc.filename2) if isinstance(n, (str, Path))]
    for user_path in given:
        resolved = user_path.expanduser().resolve()
        for name in names:
            path = Path(name).expanduser().resolve()
            if path == resolved or resolved in path.parents:
                return user_path
        if not names and any(f"'{p}'" in str(exc) for p in (user_path, resolved, resolved.parent)):
            return user_path
    return None


def _leaf_parsers(parser: argparse.ArgumentParser):
    """Every parser that runs a command (nested sub-commands included)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield parser
        return
    for action in subs:
        for child in action.choices.values():
            yield from _leaf_parsers(child)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
