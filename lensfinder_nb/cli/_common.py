"""Plumbing every CLI command shares: the global options, the settings, opening the store, progress.

An option whose ``dest`` is a :class:`~lensfinder_nb.settings.Settings` field sets that field
(``--db`` -> ``db_path``, ``--port`` -> ``port``, ``--base-url`` -> ``cutout_url``); ``cli.main``
builds one ``Settings`` from them and the environment and puts it on ``args.settings``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import TypeVar

from ..errors import UserError
from ..settings import Settings, option_help

__all__ = ["CliError", "add_global_options", "settings_from", "open_store_from", "db_path_from", "progress"]

T = TypeVar("T")
_SETTING_NAMES = frozenset(f.name for f in fields(Settings))


class CliError(UserError):
    """A problem with the command line to report as one line on stderr with exit status 1."""


def add_global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """``--db`` and ``--traceback``, accepted before the command (``top``) and after it.

    After the command they default to ``SUPPRESS`` so that a value given before it survives.
    """
    unset = {} if top else {"default": argparse.SUPPRESS}
    parser.add_argument("--db", dest="db_path", type=str, metavar="PATH|URL", help=option_help("db_path"), **unset)
    parser.add_argument("--traceback", dest="cli_traceback", action="store_true",
                        help=option_help("cli_traceback"), **unset)


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings of this run: the options that name a setting, then the environment, then defaults."""
    return Settings.from_env(**{k: v for k, v in vars(args).items() if k in _SETTING_NAMES})


def db_path_from(args: argparse.Namespace) -> Path:
    return args.settings.db_path


def open_store_from(args: argparse.Namespace):
    """The store of this run's settings; imported lazily to keep ``--help`` fast."""
    from ..store import open_store
    return open_store(settings=args.settings)


def progress(items: Iterable[T], *, total: int | None = None, desc: str = "", unit: str = "it") -> Iterator[T]:
    """A tqdm bar on a terminal; silent when stderr is piped."""
    from tqdm.auto import tqdm
    return iter(tqdm(items, total=total, desc=desc, unit=unit, disable=not sys.stderr.isatty(),
                     leave=False))
