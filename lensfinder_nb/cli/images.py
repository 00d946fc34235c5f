"""`lensfinder demo`: build the embedded synthetic dataset into the store."""

from __future__ import annotations

import argparse

from ._common import CliError, add_db_option, open_store_from, progress

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="build the synthetic demo subjects (mock lenses, non-lenses, unknowns) offline",
        description="Build the embedded default dataset: DESI-like synthetic g,r,z cutouts with mock lenses "
                    "(label 1), non-lenses and look-alikes (label 0) and unknowns (label -1), some of which "
                    "secretly hold a lens (the truth goes to demo_truth.csv beside the store, not into it).")
    add_db_option(p)
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed builds the same demo (default 0)")
    p.add_argument("--force", action="store_true",
                   help="rebuild even if the store already holds demo subjects (their files and rows are replaced)")
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from ..demo import build_demo, demo_subject_count
    from ..store import StoreError
    store = open_store_from(args)
    try:
        existing = demo_subject_count(store)
        if existing and not args.force:
            raise CliError(f"{store.path} already holds {existing} demo subjects; "
                           "use --force to rebuild them")
        summary = build_demo(store, seed=args.seed, progress=progress)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    finally:
        store.close()
    print(summary)
    return 0
