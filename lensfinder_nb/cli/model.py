"""``lensfinder model``: fit a lens model to one subject's cube."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._common import CliError, open_store_from

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "model", help="fit SIE + shear, Sersic lens light and Sersic source to one subject's cube",
        description="Start from the automatic guess (lens centroid, light shape, arc radius) and refine it "
                    "with lenstronomy's particle swarm on the subject's g + r image; print theta_E with "
                    "its uncertainty, the reduced chi2 and the full model as JSON.  The result is stored in the "
                    "store's lens models as user 'auto' (the consensus uses it only while no person has "
                    "modelled the subject); --no-store skips that.")
    p.add_argument("subject", metavar="SUBJECT", help="subject id in the store")
    p.add_argument("--out", type=Path, default=None, metavar="FILE.json", help="also write the result here")
    p.add_argument("--particles", type=int, default=None, help="particle swarm size (default 40)")
    p.add_argument("--iterations", type=int, default=None, help="particle swarm iterations (default 60)")
    p.add_argument("--seed", type=int, default=0, help="seed of the swarm (default 0)")
    p.add_argument("--no-store", action="store_true", help="do not store the result as user 'auto'")
    p.set_defaults(func=_model)


def _model(args: argparse.Namespace) -> int:
    from ..modelling.consensus import AUTO_USER
    from ..modelling.fit import PSO_ITERATIONS, PSO_PARTICLES
    from ..modelling.run import model_subject

    particles = args.particles or PSO_PARTICLES
    iterations = args.iterations or PSO_ITERATIONS
    if particles < 4 or iterations < 1:
        raise CliError("--particles must be at least 4 and --iterations at least 1")
    if args.out is not None and not args.out.parent.exists():
        raise CliError(f"folder {args.out.parent} does not exist")
    store = open_store_from(args)
    try:
        result = model_subject(store, args.subject, n_particles=particles, n_iterations=iterations, seed=args.seed)
        if not args.no_store:
            result["model_id"] = store.add_lens_model(
                AUTO_USER, args.subject, result["model"], theta_e_err=result["theta_e_err_arcsec"],
                quality=result["chi2_reduced"], refined=True)
    finally:
        store.close()
    print(f"{args.subject}: theta_E = {result['theta_e_arcsec']:.3f} +- {result['theta_e_err_arcsec']:.3f} arcsec, "
          f"chi2/dof {result['chi2_reduced']:.2f}, {result['seconds']:.1f} s")
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0
