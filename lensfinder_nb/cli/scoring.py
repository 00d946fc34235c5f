"""``lensfinder users``, ``score``, ``candidates`` and ``simulate-class``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import CliError, open_store_from

__all__ = ["register"]

_METHODS = ("majority", "weighted", "swap", "swap-offline", "dawid-skene")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("users", help="volunteer metrics (TP, FP, ..., PL, PD, skill) as a CSV table",
                              description="Write one row per volunteer with training performance and skill.")
    p.add_argument("--out", type=Path, required=True, help="output table (.csv, .fits or .xml)")
    p.set_defaults(func=_users)

    p = subparsers.add_parser("score", help="score every subject with one method and store the scores",
                              description="Score every subject and replace the stored scores of the method.")
    p.add_argument("--method", choices=_METHODS, default="swap", help="aggregation method (default: swap)")
    p.add_argument("--all", action="store_true", help="score and store every method, each with its own thresholds")
    p.add_argument("--out", type=Path, default=None, help="also write the scores to this table (.csv/.fits/.xml)")
    p.add_argument("--detect", type=float, default=None,
                   help="detected when probability > this (default: 0.95, or 0.5 for majority/weighted)")
    p.add_argument("--reject", type=float, default=None,
                   help="rejected when probability < this (default: 1e-7, or 0.5 for majority/weighted)")
    p.add_argument("--min-votes", type=int, default=None, metavar="N",
                   help="undecided below N counted votes (default: 0, or 5 for majority/weighted)")
    p.set_defaults(func=_score)

    p = subparsers.add_parser("candidates", help="detected unknown subjects, best first, as CSV/FITS/VOTable",
                              description="Score the subjects and write the detected unknown ones.")
    p.add_argument("--method", choices=_METHODS, default="swap", help="aggregation method (default: swap)")
    p.add_argument("--top", type=int, default=None, metavar="N", help="keep only the N most probable")
    p.add_argument("--detect", type=float, default=None, help="detection threshold (default: the method's)")
    p.add_argument("--out", type=Path, required=True, help="output table: .csv, .fits or .xml (VOTable)")
    p.set_defaults(func=_candidates)

    p = subparsers.add_parser("simulate-class", help="a simulated class votes on the subjects (demo data for the "
                              "analysis pages)", description="Add the votes of a simulated class of volunteers "
                              "with realistic skills; the same seed adds nothing the second time.")
    p.add_argument("--volunteers", type=int, default=40, help="number of students (default: 40)")
    p.add_argument("--votes-per-volunteer", type=int, default=None, metavar="N",
                   help="mean votes per student (default: about 10 votes per unknown subject)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.set_defaults(func=_simulate_class)


def _check_out(path: Path | None) -> None:
    from ..scoring.candidates import TABLE_FORMATS
    if path is not None and path.suffix.lower() not in TABLE_FORMATS:
        raise CliError(f"--out {path}: use a .csv, .fits or .xml file")


def _users(args: argparse.Namespace) -> int:
    from ..scoring import load_votes, volunteer_metrics, write_table
    _check_out(args.out)
    table = volunteer_metrics(load_votes(open_store_from(args)))
    write_table(table, args.out)
    print(f"{len(table)} volunteers -> {args.out}", file=sys.stderr)
    return 0


def _coded(store):
    from ..scoring import load_votes
    return load_votes(store)


def _scores(args: argparse.Namespace, store, coded=None):
    from ..scoring import score
    return score(coded if coded is not None else _coded(store), None, args.method, detect=args.detect,
                 reject=getattr(args, "reject", None), min_votes=getattr(args, "min_votes", None))


def _score(args: argparse.Namespace) -> int:
    from ..scoring import write_table
    _check_out(args.out)
    if args.all and (args.out is not None or args.detect is not None or args.reject is not None
                     or args.min_votes is not None):
        raise CliError("--all uses each method's own thresholds and writes only to the store: "
                       "drop --out, --detect, --reject and --min-votes")
    store = open_store_from(args)
    methods = _METHODS if args.all else (args.method,)
    coded = _coded(store) if args.all else None
    for method in methods:
        args.method = method
        scores = _scores(args, store, coded)
        store.write_scores(scores, method)
        counts = scores["status"].value_counts()
        print(f"{method}: {len(scores)} subjects, {counts.get('detected', 0)} detected, "
              f"{counts.get('rejected', 0)} rejected", file=sys.stderr)
    if args.out is not None:
        write_table(scores, args.out)
    return 0


def _simulate_class(args: argparse.Namespace) -> int:
    from ..scoring import simulate_class
    if args.volunteers < 1 or (args.votes_per_volunteer is not None and args.votes_per_volunteer < 1):
        raise CliError("--volunteers and --votes-per-volunteer must be at least 1")
    result = simulate_class(open_store_from(args), n_volunteers=args.volunteers,
                            votes_per_volunteer=args.votes_per_volunteer, seed=args.seed)
    print(f"{args.volunteers} simulated students: {len(result.votes)} votes, {result.n_new} new", file=sys.stderr)
    return 0


def _candidates(args: argparse.Namespace) -> int:
    from ..scoring import candidates, write_table
    _check_out(args.out)
    if args.top is not None and args.top < 1:
        raise CliError("--top must be at least 1")
    store = open_store_from(args)
    table = candidates(_scores(args, store), store.subjects(), args.method, top=args.top)
    write_table(table, args.out)
    print(f"{len(table)} candidates ({args.method}) -> {args.out}", file=sys.stderr)
    return 0
