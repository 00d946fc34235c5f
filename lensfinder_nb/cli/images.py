"""`lensfinder demo` builds the embedded synthetic dataset; `lensfinder simulate` adds mock lenses."""

from __future__ import annotations

import argparse

from ._common import CliError, open_store_from, progress

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="build the synthetic demo subjects (mock lenses, non-lenses, unknowns) offline",
        description="Build the embedded default dataset: DESI-like synthetic g,r,z cutouts with mock lenses "
                    "(label 1), non-lenses and look-alikes (label 0) and unknowns (label -1), some of which "
                    "secretly hold a lens (the truth goes to demo_truth.csv beside the store, not into it).")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed builds the same demo (default 0)")
    p.add_argument("--force", action="store_true",
                   help="rebuild even if the store already holds demo subjects (their files and rows are replaced)")
    p.set_defaults(func=_demo)

    p = sub.add_parser(
        "simulate", help="paint mock lensed arcs into the store's non-lens cutouts (label 1 subjects)",
        description="Paint lensed arcs into the store's label-0 non-lens backgrounds (demo fields or ingested "
                    "real cutouts) and add them as label-1 mock subjects, in independent batches on local "
                    "processes or a Dask cluster. Re-running the same command resumes.")
    p.add_argument("--n", type=int, required=True, help="number of mock lenses wanted")
    p.add_argument("--scale", choices=["galaxy", "cluster"], default="galaxy",
                   help="galaxy: SIE + shear, theta_E 1-3\"; cluster: NFW + BCG + shear, theta_E 4-20\" capped to "
                        "what the cutouts show (10.5\" at 101 pixels) (default galaxy)")
    p.add_argument("--seed", type=int, default=0, help="random seed; with --batch-size it names the run (default 0)")
    p.add_argument("--batch-size", type=int, default=500, metavar="B",
                   help="mocks per batch: one task, one arcs file, one JPEG file (default 500)")
    p.add_argument("--scheduler", default=None, metavar="tcp://host:port",
                   help="run the batches on this Dask scheduler (workers must see the data folder); "
                        "default: local processes")
    p.add_argument("--workers", type=int, default=2,
                   help="local worker processes when no --scheduler is given; 1 runs in this process (default 2)")
    p.add_argument("--catalogue-theta-e", action="store_true",
                   help="cluster scale: Einstein radius from each background's catalogue z_lens and M500/M200 "
                        "(params) instead of a drawn mass")
    p.set_defaults(func=_simulate)


def _demo(args: argparse.Namespace) -> int:
    from ..sim.demo import build_demo, demo_subject_count
    store = open_store_from(args)
    try:
        existing = demo_subject_count(store)
        if existing and not args.force:
            raise CliError(f"{store.location} already holds {existing} demo subjects; "
                           "use --force to rebuild them")
        summary = build_demo(store, seed=args.seed, progress=progress)
    finally:
        store.close()
    print(summary)
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from ..sim.batches import simulate_into_store
    if args.n < 1 or args.batch_size < 1:
        raise CliError("--n and --batch-size must be at least 1")
    store = open_store_from(args)
    try:
        report = simulate_into_store(store, args.n, scale=args.scale, seed=args.seed, batch_size=args.batch_size,
                                     scheduler=args.scheduler, workers=args.workers,
                                     catalogue_theta_e=args.catalogue_theta_e, progress=progress)
    finally:
        store.close()
    print(report)
    return 0
