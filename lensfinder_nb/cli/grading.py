"""``lensfinder experts add NAME`` (prints the expert's personal grading link), ``experts add --hub NAME``
(a JupyterHub user becomes an expert), ``experts remove ID``, ``experts list`` and
``lensfinder catalogue --out FILE`` (the graded catalogue)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import CliError, open_store_from

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("experts", help="expert graders: add one (prints their grading link) or list them",
                       description="Experts grade the best candidates 0-3 on the grading page (docs/grading.md).")
    cmds = p.add_subparsers(dest="experts_command", metavar="ACTION", required=True)
    a = cmds.add_parser("add", help="add an expert and print their personal grading link (keep it private)")
    a.add_argument("name", help="the expert's display name (1-40 letters, digits, spaces, . ' -), or with "
                                "--hub their JupyterHub user name")
    a.add_argument("--hub", action="store_true",
                   help="NAME is a JupyterHub user: they grade on their own server, no link (docs/deploy.md)")
    a.set_defaults(func=_add)
    r = cmds.add_parser("remove", help="an expert stops being one (their grades stay)")
    r.add_argument("user_id", help="the expert's id as `experts list` shows it (e-..., or hub-NAME)")
    r.set_defaults(func=_remove)
    ls = cmds.add_parser("list", help="list the experts (id, name, added)")
    ls.set_defaults(func=_list)

    c = sub.add_parser("catalogue", help="the graded catalogue: one row per graded subject, as CSV/FITS/VOTable",
                       description="Consensus grade (A/B/C), mean grade, graders, Krippendorff's alpha, crowd and "
                                   "machine scores, known-lens match and coordinates of every graded subject.")
    c.add_argument("--out", type=Path, required=True, help="output table: .csv, .fits or .xml (VOTable)")
    c.add_argument("--method", default="swap", help="the crowd score's method (default: swap)")
    c.set_defaults(func=_catalogue)


def _add(args: argparse.Namespace) -> int:
    from ..classify.identity import IdentityError, add_expert, make_hub_expert, personal_link
    from ..ui.network import public_base
    store = open_store_from(args)
    try:
        if args.hub:
            who, new = make_hub_expert(store, args.name)
        else:
            who = add_expert(store, args.name)
    except IdentityError as exc:
        reason = {"name_taken": "an expert of that name exists already",
                  "name_invalid": "use 1-40 letters, digits, spaces, . ' or -",
                  "hub_name_invalid": "a hub user name has 1-100 characters, no spaces or slashes"}.get(
                      str(exc), str(exc))
        raise CliError(f"experts add {args.name!r}: {reason}") from None
    finally:
        store.close()
    if args.hub:
        state = "is an expert now" if new else "was an expert already"
        print(f"JupyterHub user {who.display_name} ({who.user_id}) {state}; they grade on their own server: "
              "<hub>/hub/user-redirect/voila/render/grade.ipynb", flush=True)
        return 0
    base = public_base(args.settings.ip, args.settings.port)
    print(f"Expert {who.display_name} ({who.user_id}); their grading link (keep it private): "
          f"{personal_link('grade', who, base)}", flush=True)
    return 0


def _remove(args: argparse.Namespace) -> int:
    from ..classify.identity import remove_expert
    store = open_store_from(args)
    try:
        if not remove_expert(store, args.user_id):
            raise CliError(f"experts remove {args.user_id!r}: no expert has that id (see `lensfinder experts list`)")
    finally:
        store.close()
    print(f"{args.user_id} is no longer an expert (their grades stay)", flush=True)
    return 0


def _list(args: argparse.Namespace) -> int:
    from ..store import queries
    store = open_store_from(args)
    try:
        people = queries.people_with_role(store, "expert")
    finally:
        store.close()
    for r in people.itertuples(index=False):
        print(f"{r.user_id}\t{r.display_name}\t{r.created_at:%Y-%m-%d %H:%M}")
    return 0


def _catalogue(args: argparse.Namespace) -> int:
    from ..scoring import write_table
    from ..scoring.candidates import TABLE_FORMATS
    from ..scoring.grading import catalogue_from_store
    if args.out.suffix.lower() not in TABLE_FORMATS:
        raise CliError(f"--out {args.out}: use a .csv, .fits or .xml file")
    store = open_store_from(args)
    try:
        table = catalogue_from_store(store, method=args.method)
    finally:
        store.close()
    write_table(table, args.out)
    alpha = table["agreement_alpha"].iloc[0] if len(table) else float("nan")
    print(f"{len(table)} graded subjects, Krippendorff's alpha {alpha:.3f} -> {args.out}", file=sys.stderr)
    return 0

