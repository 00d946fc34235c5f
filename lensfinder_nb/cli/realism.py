"""``lensfinder realism``: how close are our mocks to real lenses?"""

from __future__ import annotations

import argparse
from pathlib import Path


__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "realism", help="compare fresh mock lenses with a folder of real lens cubes",
        description="Measure fresh galaxy-scale mocks and real lenses (FITS cubes g, r, z in nanomaggies, "
                    "optional manifest.csv with image_sep) the same way: lens brightness, size and colour, "
                    "arc/lens flux, arc colour and S/N, ring completeness, theta_E, noise; print the "
                    "comparison and the AUC of a pixel probe that tries to tell mocks from real lenses.")
    p.add_argument("real", type=Path, metavar="FOLDER", help="folder of real lens FITS cubes")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="write realism.csv, realism_stats.csv, realism.png and contact_sheet.png here "
                        "(default: <data folder>/realism)")
    p.add_argument("--mocks", type=int, default=300, metavar="N", help="fresh mocks to draw (default 300)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fresh mocks and the probe (default 0)")
    p.add_argument("--part", choices=["all", "calibration", "held_out"], default="all",
                   help="which part of the real lenses to compare with (default all)")
    p.set_defaults(func=_realism)


def _realism(args: argparse.Namespace) -> int:
    from ..realism.run import realism_report

    if args.mocks < 20:
        from ._common import CliError
        raise CliError("--mocks must be at least 20")
    out = args.out or args.settings.data_dir / "realism"
    report = realism_report(args.real, out, n_mocks=args.mocks, seed=args.seed, part=args.part)
    cols = ["statistic", "mock_median", "real_median", "mock_p16", "mock_p84", "real_p16", "real_p84", "ks"]
    print(report.table[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"pixel probe, mocks vs real lenses: AUC {report.probe_auc:.3f} (0.5 = cannot tell them apart; "
          f"lenses recentred; {report.probe_auc_as_cut:.3f} on the cutouts as cut)")
    print(f"radial probe (annular means of the light): AUC {report.radial_probe_auc:.3f}")
    for what, path in report.files.items():
        print(f"{what}: {path}")
    return 0
