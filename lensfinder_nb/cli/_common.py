"""Plumbing every CLI command shares: the --db option, opening the store, clean errors, progress."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from ..settings import default_db_path

__all__ = ["CliError", "add_db_option", "open_store_from", "progress"]

T = TypeVar("T")


class CliError(Exception):
    """A problem to report as one line on stderr with exit status 1."""


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, default=None, metavar="PATH",
                        help="the store (default: $LENSFINDER_DB or data/lensfinder.duckdb)")


def db_path_from(args: argparse.Namespace) -> Path:
    return (args.db or default_db_path()).expanduser().resolve()


def open_store_from(args: argparse.Namespace):
    """The store named by ``--db``; imported lazily to keep ``--help`` fast."""
    from ..store import open_store
    return open_store(db_path_from(args))


def progress(items: Iterable[T], *, total: int | None = None, desc: str = "", unit: str = "it") -> Iterator[T]:
    """A tqdm bar on a terminal; silent when stderr is piped."""
    from tqdm.auto import tqdm
    return iter(tqdm(items, total=total, desc=desc, unit=unit, disable=not sys.stderr.isatty(),
                     leave=False))
