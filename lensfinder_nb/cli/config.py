"""``lensfinder settings``: every setting with its value for this run, its variable and its help."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("settings", help="print every setting: value for this run, environment variable, help",
                       description="Print the settings this run would use (options, then environment, then "
                                   "defaults), one per line, with the environment variable that sets it.")
    p.set_defaults(func=_settings)


def _settings(args: argparse.Namespace) -> int:
    from ..settings import describe
    for row in describe(args.settings):
        var = f"  [${row['env']}]" if row["env"] else ""
        print(f"{row['name']} = {row['value']}{var}\n    {row['help']}")
    return 0
