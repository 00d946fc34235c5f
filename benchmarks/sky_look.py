"""The demo sky against DR10 lens pictures: a contact sheet, picture statistics, and render speed.

Run:  python benchmarks/sky_look.py [--pictures DIR] [--out docs/screenshots/demo_vs_dr10.png] [--n 150]

The reference pictures (``shared/reference/real_lenses/pictures``) are PNG renderings of DR10 cutouts
(101 x 101 pixels at 0.262"/px) made with a plain linear stretch: z, r, g as red, green, blue, one
scale for all three, from the 0.5th percentile of the positive pixel values to the 99.5th percentile
of all values, clipped; their ``manifest.csv`` gives the cutout's summed r flux as a magnitude.
Fresh demo mock lenses are rendered the same way, so both can be compared by eye and by the same
statistics of the pictures:

* ``blobs``: neighbours seen as separate peaks (smoothed sum of the channels above 150 of 765,
  outside the central 12 % of the width);
* ``bright area``: share of the picture above that level;
* ``sky p75`` / ``sky median``: how visible the sky noise is, relative to the lens's brightness;
* ``noise R/G/B``: mean channel values in the quietest outer pixels (noise per band, same units);
* ``lens g-r`` / ``lens r-z``: colours from the channel sums within 6 picture pixels of the centre's
  peak, unclipped pixels only (biased, but alike for both);
* ``cutout r``: the cutout's summed r flux as a magnitude (the manifest's ``r_mag``).

The sheet shows, left to right: DR10 pictures, demo in the same stretch, demo in the product's viewer
colours (:func:`lensfinder_nb.imaging.render.viewer_rgb`).  Last, the render speed of synthetic fields.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw
from scipy import ndimage as ndi

from lensfinder_nb.imaging.render import viewer_rgb
from lensfinder_nb.sim import sky
from lensfinder_nb.sim.fresh import mock_lenses

PICTURES = Path(__file__).resolve().parents[2] / "shared" / "reference" / "real_lenses" / "pictures"
_SIDE = 153  # the pictures' inner size (pixels), white border removed


def load_picture(path: Path) -> np.ndarray:
    """A reference PNG as uint8 RGB without its white border."""
    a = np.asarray(Image.open(path).convert("RGB"))
    inside = ~(a == 255).all(axis=2)
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    return a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def linear_picture(cube: np.ndarray, size: int = _SIDE) -> np.ndarray:
    """A cube (g, r, z) in the reference pictures' linear percentile stretch, north up."""
    rgb = np.nan_to_num(np.asarray(cube, np.float64)[::-1].transpose(1, 2, 0))
    positive = rgb[rgb > 0]
    lo = np.percentile(positive, 0.5) if positive.size else 0.0
    hi = np.percentile(rgb, 99.5)
    hi = hi if hi > lo else lo + 1
    img = (np.clip((rgb - lo) / (hi - lo), 0, 1)[::-1] * 255).astype(np.uint8)
    return np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))


def picture_stats(a: np.ndarray) -> dict:
    a = a.astype(float)
    h, w, _ = a.shape
    s = a.sum(axis=2)
    smooth = ndi.gaussian_filter(s, 2.0)
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - h / 2, xx - w / 2)
    peaks = (smooth == ndi.maximum_filter(smooth, 9)) & (smooth > 150) & (r > 0.12 * h)
    outer = r > 0.35 * h
    quiet = outer & (s <= np.percentile(s[outer], 80))
    out = {"blobs": int(peaks.sum()), "bright area": float((smooth > 150).mean()),
           "sky p75": float(np.percentile(s, 75)), "sky median": float(np.median(s))}
    for c, name in enumerate("RGB"):
        out[f"noise {name}"] = float(a[..., c][quiet].mean())
    # colours near the centre's peak, from unclipped pixels
    win = s[h // 2 - 12:h // 2 + 13, w // 2 - 12:w // 2 + 13]
    py, px = np.unravel_index(win.argmax(), win.shape)
    near = (np.hypot(yy - (py + h // 2 - 12), xx - (px + w // 2 - 12)) <= 6) & (a.max(axis=2) < 250) & (a.min(axis=2) > 3)
    red, green, blue = (a[..., c][near].sum() for c in range(3))
    ok = near.sum() >= 5
    out["lens g-r"] = float(-2.5 * np.log10(blue / green)) if ok else np.nan
    out["lens r-z"] = float(-2.5 * np.log10(green / red)) if ok else np.nan
    return out


def _sheet(left, middle, right, path: Path, tile: int = 150, columns: int = 4, rows: int = 5) -> None:
    gap, head = 20, 22
    sheet = Image.new("RGB", (3 * columns * tile + 2 * gap, rows * tile + head), "white")
    draw = ImageDraw.Draw(sheet)
    titles = ("DR10 lenses (reference pictures)", "demo, same stretch", "demo, lensfinder viewer colours")
    for b, (title, pics) in enumerate(zip(titles, (left, middle, right))):
        x0 = b * (columns * tile + gap)
        draw.text((x0 + 4, 5), title, fill=(0, 0, 0))
        for k, p in enumerate(pics[:columns * rows]):
            im = Image.fromarray(p).resize((tile, tile), Image.BILINEAR)
            sheet.paste(im, (x0 + (k % columns) * tile, head + (k // columns) * tile))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pictures", type=Path, default=PICTURES, help="folder of REAL_*.png and manifest.csv")
    ap.add_argument("--out", type=Path, default=Path("docs/screenshots/demo_vs_dr10.png"))
    ap.add_argument("--n", type=int, default=150, help="fresh demo mock lenses to measure")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    files = sorted(args.pictures.glob("REAL_*.png"))
    real = pd.DataFrame([picture_stats(load_picture(f)) for f in files])
    mocks = mock_lenses(args.n, args.seed)
    demo = pd.DataFrame([picture_stats(linear_picture(c)) for c in mocks.images])
    manifest = pd.read_csv(args.pictures / "manifest.csv")
    real["cutout r"] = manifest.set_index("file").loc[[f.name for f in files], "r_mag"].to_numpy()
    demo["cutout r"] = 22.5 - 2.5 * np.log10(np.clip(mocks.images[:, 1].sum(axis=(1, 2)), 1e-3, None))
    print(f"{len(real)} DR10 pictures against {len(demo)} demo mock lenses (16 / 50 / 84 %):")
    for col in real.columns:
        q = lambda v: "/".join(f"{x:.3g}" for x in np.nanpercentile(v, [16, 50, 84]))  # noqa: E731
        print(f"  {col:12s} DR10 {q(real[col]):>22s}   demo {q(demo[col]):>22s}")

    rng = np.random.default_rng(args.seed)
    pick = rng.choice(len(files), 20, replace=False)
    backgrounds = sky.render_fields(sky.draw_fields(6, args.seed, kind="background"))
    cubes = np.concatenate([mocks.images[:14], backgrounds])[rng.permutation(20)]
    _sheet([load_picture(files[i]) for i in pick], [linear_picture(c) for c in cubes],
           [viewer_rgb(c) for c in cubes], args.out)
    print(f"sheet: {args.out}")

    table = sky.draw_fields(1000, seed=1, kind="background")
    t0 = time.perf_counter()
    sky.render_fields(table)
    seconds = time.perf_counter() - t0
    print(f"render: 1000 background fields ({len(table) / 1000:.1f} components each) in {seconds:.2f} s "
          f"= {seconds:.2f} ms/field")
    return {"real": real, "demo": demo, "render_s": seconds}


if __name__ == "__main__":
    main()
