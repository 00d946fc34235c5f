"""Why does the pixel probe tell mocks from real lenses?  Radial profiles and probe variants.

Draws fresh demo mocks, loads the calibration half of the real lenses, noise-matches the mocks and prints:
the median flux-normalised radial profile per band (mocks / real, both recentred on the lens light), the
light concentration (flux inside 1.05" over flux inside 4.5"), the lens centroid offset from the cutout
centre, and the AUC of the pixel probe, of the radial probe (annular means; raw and flux-normalised) and of
a corner probe (sky only); the probes' folds keep copies of a mock background together.

    python benchmarks/realism_profiles.py ../shared/reference/real_lenses/cubes [--mocks 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lensfinder_nb.realism import profiles as pr
from lensfinder_nb.realism.measure import light_centroid, sky_and_noise
from lensfinder_nb.realism.population import mock_lenses
from lensfinder_nb.realism.probe import RECENTRE_ITERATIONS, probe_auc, recentre_on_lens
from lensfinder_nb.realism.reference import load_real_lenses


def _offsets(cubes: np.ndarray) -> np.ndarray:
    c = (cubes.shape[-1] - 1) / 2
    sky = [sky_and_noise(x)[0][1] for x in cubes]
    return np.array([np.hypot(*(np.array(light_centroid(np.nan_to_num(x[1]) - s, 1 / 0.262, RECENTRE_ITERATIONS)) - c))
                     for x, s in zip(cubes, sky)]) * 0.262


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--mocks", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--part", default="calibration")
    args = ap.parse_args()
    t = time.perf_counter()
    real = load_real_lenses(args.folder)
    real = real.subset(real.table["part"] == args.part).cubes
    made = mock_lenses(args.mocks, seed=args.seed)
    mocks = pr.matched_sets(made.images, real, args.seed)
    om, orl = _offsets(mocks), _offsets(real)
    mocks, real_c = recentre_on_lens(mocks), recentre_on_lens(real)
    pm, prl = pr.radial_profiles(mocks), pr.radial_profiles(real_c)
    nm, nr = pr.normalised_profiles(pm), pr.normalised_profiles(prl)
    mid = 0.5 * (pr.RADII_ARCSEC[1:] + pr.RADII_ARCSEC[:-1])
    print(f"{len(mocks)} mocks, {len(real)} real ({args.part})")
    print("radius(\")  " + "  ".join(f"{b}: mock/real(median, normalised)" for b in "grz"))
    for k, r in enumerate(mid):
        cells = []
        for b in range(3):
            a, c = np.nanmedian(nm[:, b, k]), np.nanmedian(nr[:, b, k])
            cells.append(f"{a:9.5f} {c:9.5f} ({a / c:5.2f})")
        print(f"{r:6.2f}  " + "  ".join(cells))
    cm, cr = pr.concentration(pm), pr.concentration(prl)
    for b, name in enumerate("grz"):
        q = lambda v: np.nanpercentile(v, [16, 50, 84])  # noqa: E731
        print(f"concentration {name} (16/50/84): mock {np.round(q(cm[:, b]), 3)}  real {np.round(q(cr[:, b]), 3)}")
    print(f"lens centroid offset (\", 16/50/84): mock {np.round(np.percentile(om, [16, 50, 84]), 2)}"
          f"  real {np.round(np.percentile(orl, [16, 50, 84]), 2)}")
    s, g = args.seed, made.params["background"].to_numpy()
    print(f"pixel probe AUC {probe_auc(made.images, real, seed=s, groups=g):.3f} (lens recentred; as cut "
          f"{probe_auc(made.images, real, seed=s, recentre=False, groups=g):.3f})")
    print(f"pixel probe AUC, backgrounds without arcs {probe_auc(made.backgrounds, real, seed=s, groups=g):.3f}")
    print(f"radial probe AUC {pr.radial_probe_auc(made.images, real, seed=s, groups=g):.3f} (as cut "
          f"{pr.radial_probe_auc(made.images, real, seed=s, recentre=False, groups=g):.3f})")
    shape_only = pr.radial_probe_auc(made.images, real, seed=s, normalise=True, groups=g)
    print(f"radial probe AUC, flux-normalised {shape_only:.3f}")
    print(f"corner probe AUC (sky only) {pr.corner_probe_auc(made.images, real, seed=s, groups=g):.3f}")
    print(f"({time.perf_counter() - t:.0f} s)")


if __name__ == "__main__":
    main()
