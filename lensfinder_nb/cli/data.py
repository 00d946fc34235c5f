"""`lensfinder subjects|votes|sql|store copy|fold`: move tables in and out of the store."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import CliError, open_store_from

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    subjects = sub.add_parser("subjects", help="import subjects").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    p = subjects.add_parser("import", help="add subjects from a CSV (subject,label[,ra,dec,image])")
    p.add_argument("file", type=Path, help="CSV with columns subject,label and optional ra,dec,image")
    p.set_defaults(func=_subjects_import)

    votes = sub.add_parser("votes", help="import or export votes").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    p = votes.add_parser("import", help="add votes from a CSV (user,subject,answer,created_at[,vote_id])")
    p.add_argument("file", type=Path, help="CSV with columns user,subject,answer,created_at and optional vote_id")
    p.add_argument("--format", choices=["lensfinder", "panoptes"], default="lensfinder",
                   help="lensfinder CSV (default) or a Zooniverse Panoptes classification export")
    p.set_defaults(func=_votes_import)
    p = votes.add_parser("export", help="write all votes to FILE.csv or FILE.parquet")
    p.add_argument("file", type=Path, help="output file; .csv or .parquet")
    p.add_argument("--include-retracted", action="store_true", help="also write retracted votes")
    p.set_defaults(func=_votes_export)

    p = sub.add_parser("sql", help="run read-only DuckDB SQL over the current data and print the result")
    p.add_argument("query", help="e.g. \"SELECT user_id, count(*) FROM votes GROUP BY ALL\"")
    p.add_argument("--out", type=Path, help="write the result to .csv or .parquet instead of printing")
    p.set_defaults(func=_sql)

    store = sub.add_parser("store", help="copy a whole store").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    p = store.add_parser("copy", help="copy the store FROM into the empty store TO, all or nothing",
                         description="Copy every table (subjects, people, votes with their ids and order, "
                                     "retractions, annotations, scores, settings) from FROM into the empty "
                                     "store TO in one transaction. Each is a DuckDB file or a "
                                     "postgresql://user@host/db URL.")
    p.add_argument("source", metavar="FROM", help="a DuckDB file or a postgresql:// URL")
    p.add_argument("target", metavar="TO", help="a new DuckDB file or an empty PostgreSQL database")
    p.set_defaults(func=_store_copy)

    p = sub.add_parser("fold", help="move journalled votes into the DuckDB file now")
    p.set_defaults(func=_fold)


def _subjects_import(args: argparse.Namespace) -> int:
    from ..store.tables import read_subjects_csv
    frame = read_subjects_csv(args.file)
    added = open_store_from(args).add_subjects(frame)
    print(f"{added} new subject(s) from {args.file} ({len(frame) - added} already present)")
    return 0


def _votes_import(args: argparse.Namespace) -> int:
    from ..store import StoreError
    from ..store.tables import read_votes_csv
    store = open_store_from(args)
    if args.format == "panoptes":
        from ..scoring.panoptes import read_panoptes
        frame = read_panoptes(args.file)
        unknown = sorted(set(frame["subject"]) - store.subject_ids(refresh=True))
        if unknown:
            raise StoreError(f"{args.file}: unknown subject(s) {', '.join(map(repr, unknown[:5]))}")
    else:
        frame = read_votes_csv(args.file, store.subject_ids(refresh=True))
    added = store.import_votes(frame)
    print(f"{added} new vote(s) from {args.file} ({len(frame) - added} already present)")
    return 0


def _votes_export(args: argparse.Namespace) -> int:
    from ..store.tables import write_votes
    frame = open_store_from(args).votes(include_retracted=args.include_retracted)
    write_votes(frame, args.file)
    print(f"{len(frame)} vote(s) written to {args.file}")
    return 0


def _sql(args: argparse.Namespace) -> int:
    from ..store import QueryError
    from ..store.tables import write_votes
    store = open_store_from(args)
    try:
        frame = store.sql(args.query)
    except QueryError as exc:
        raise CliError(f"SQL: {exc}") from None
    if args.out:
        write_votes(frame, args.out)
        print(f"{len(frame)} row(s) written to {args.out}")
    else:
        import pandas as pd
        with pd.option_context("display.max_rows", 200, "display.width", 160):
            print(frame.to_string(index=False))
    return 0


def _store_copy(args: argparse.Namespace) -> int:
    from ..store.copying import copy_store
    copied = copy_store(args.source, args.target)
    print(f"copied {args.source} -> {args.target}: " + ", ".join(f"{n} {t}" for t, n in copied.items()))
    return 0


def _fold(args: argparse.Namespace) -> int:
    n = open_store_from(args).fold()
    print(f"{n} journalled event(s) folded into the store")
    return 0
