"""Commands that bring real sky in: ``ingest``, ``fetch`` and ``known``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..imaging.survey import CUTOUT_SIZE_PX, PIXSCALE_ARCSEC
from ..settings import option_help
from ._common import CliError, open_store_from, progress

__all__ = ["register"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "ingest", help="check a folder of cutouts (FITS cubes, per-band FITS, .npz arrays, JPEG/PNG) and add the good ones",
        description="Check every cutout under PATH; bad files are listed with the reason and skipped, "
                    "good ones are copied into the data folder and added as subjects.  Re-running adds nothing twice.")
    p.add_argument("path", type=Path, metavar="PATH", help="folder (searched recursively) or a single file")
    p.add_argument("--labels", type=Path, metavar="FILE.csv",
                   help="CSV with name or file, ra, dec (degrees), label (1 lens, 0 not a lens, -1 unknown)")
    p.add_argument("--flux-scale", type=float, metavar="FACTOR",
                   help="multiply every cube by FACTOR first (files consistently in other units, e.g. counts with "
                        "one known zero point ZP: 10^(-0.4 (ZP - 22.5)))")
    p.add_argument("--allow-units", action="store_true",
                   help="skip the flux-unit check (sky noise and header units against nanomaggies)")
    p.set_defaults(func=_ingest)

    p = subparsers.add_parser(
        "fetch", help="download g,r,z cutouts for a catalogue from the Legacy Survey cutout service",
        description="Download one FITS cube (and optionally a JPEG) per catalogue row.  Files already on disk are "
                    "skipped, so an interrupted run resumes; transient errors are retried with back-off.")
    p.add_argument("catalog", type=Path, metavar="CATALOG.csv", help="CSV with ra, dec (degrees), optional name, label")
    p.add_argument("--layer", default="ls-dr9", help="survey layer (default: ls-dr9; e.g. ls-dr10, ls-dr9-north)")
    p.add_argument("--size", type=int, default=CUTOUT_SIZE_PX,
                   help=f"cutout side in pixels, at most 3000 (default: {CUTOUT_SIZE_PX}; 201 for clusters)")
    p.add_argument("--bands", default="grz", help="bands of the FITS cube (default: grz)")
    p.add_argument("--pixscale", type=float, default=PIXSCALE_ARCSEC,
                   help=f"arcsec per pixel (default: {PIXSCALE_ARCSEC}, native)")
    p.add_argument("--jpeg", action="store_true", help="also download the service's colour JPEG")
    p.add_argument("--out", type=Path, metavar="DIR", help="download folder (default: <data folder>/downloads/<layer>)")
    p.add_argument("--ingest", action="store_true", help="add the downloaded cutouts to the store afterwards")
    p.add_argument("--workers", type=int, default=4, help="parallel downloads (default: 4)")
    p.add_argument("--retries", type=int, default=4, help="retries per file after the first attempt (default: 4)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the service (default: 30)")
    p.add_argument("--base-url", dest="cutout_url", metavar="URL", help=option_help("cutout_url"))
    p.set_defaults(func=_fetch)

    p = subparsers.add_parser("known", help="list subjects that sit on a known lens (lenscat catalogue)",
                              description="Cross-match every subject with the lenscat catalogue of known lenses "
                                          "and candidates and print (or write) the matches.")
    p.add_argument("--radius", type=float, default=5.0, help="match radius in arcsec (default: 5)")
    p.add_argument("--out", type=Path, metavar="FILE", help="write the matches as CSV instead of printing them")
    p.set_defaults(func=_known)


def _print_ingest(report) -> None:
    for name, reason in report.bad:
        print(f"refused: {name}: {reason}")
    for name, note in report.notes:
        print(f"note: {name}: {note}")
    if report.found():
        print(report.found())
    print(report.summary())


def _ingest_exit(report) -> int:
    """0 if anything landed or there was nothing to do; 1 if every file was bad."""
    return 1 if report.bad and not report.added and not report.existing else 0


def _ingest(args: argparse.Namespace) -> int:
    from ..realdata.ingest import ingest_directory
    if not args.path.exists():
        raise CliError(f"{args.path}: no such file or folder")
    store = open_store_from(args)
    try:
        report = ingest_directory(store, args.path, args.labels, progress=progress, flux_scale=args.flux_scale,
                                  check_units=not args.allow_units)
    finally:
        store.close()
    _print_ingest(report)
    return _ingest_exit(report)


def _fetch(args: argparse.Namespace) -> int:
    from ..realdata.fetch import fetch_cutouts, read_catalog
    catalog = read_catalog(args.catalog)
    out = args.out or args.settings.data_dir / "downloads" / args.layer
    report = fetch_cutouts(catalog, out, layer=args.layer, size=args.size, bands=args.bands,
                           pixscale=args.pixscale, jpeg=args.jpeg, base_url=args.settings.cutout_url,
                           proxies=args.settings.proxies,
                           workers=args.workers, retries=args.retries, timeout_s=args.timeout, progress=progress)
    for name, reason in report.failed:
        print(f"failed: {name}: {reason}")
    print(f"{report.summary()} -> {out}")
    status = 1 if report.failed and not report.downloaded and not report.cached else 0
    if args.ingest and report.files:
        from ..realdata.ingest import ingest_files
        ok = report.table[report.table["status"] != "failed"]
        labels = ok.assign(file=[os.path.basename(f) for f in ok["fits"]])[["file", "ra", "dec", "label"]]
        store = open_store_from(args)
        try:
            ing = ingest_files(store, report.files, labels, progress=progress, root=out, source=f"fetch:{args.layer}")
        finally:
            store.close()
        _print_ingest(ing)
        status = max(status, _ingest_exit(ing))
    return status


def _known(args: argparse.Namespace) -> int:
    from ..realdata.known import known_subjects
    store = open_store_from(args)
    try:
        matches = known_subjects(store, args.radius)
    finally:
        store.close()
    if args.out:
        matches.to_csv(args.out, index=False)
        print(f"{len(matches)} subjects within {args.radius:g} arcsec of a known lens -> {args.out}")
        return 0
    cols = ["subject", "label", "known_name", "known_type", "known_grade", "sep_arcsec", "known_ref"]
    if len(matches):
        print(matches[cols].to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"{len(matches)} subjects within {args.radius:g} arcsec of a known lens")
    return 0
