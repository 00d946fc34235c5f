"""Mock lenses end to end against a straightforward lenstronomy loop.

Run:  python benchmarks/bench_mocks.py [--n 5000] [--batch 500] [--baseline 200] [--keep DIR]

Timed end to end (galaxy scale, 3 bands, 101 x 101): draw parameters, paint arcs, quality cuts
(re-drawing rejects), arc shot noise, injection into synthetic DESI-like backgrounds, viewer colour
rendering + JPEG q90 per mock, and storing (arcs as float16 via lensing.pack_arcs, one .npy per batch; JPEGs in a folder;
parameters in a DuckDB table in a temporary file). Backgrounds are rendered once beforehand (not
timed: in production they are real cutouts already on disk).

Baseline: one lenstronomy SimAPI + ImageModel per band, built once and reused, arc + Poisson noise
per mock at the same supersampling; timed on a subsample (--baseline) and extrapolated per mock.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from lensfinder_nb import lensing as L


def _backgrounds(m: int, seed: int):
    """(m, 3, 101, 101) label-0 fields with their seeing and sky sigma (synthetic, DESI-like)."""
    from lensfinder_nb import sky

    table = sky.draw_fields(m, seed=seed, kind="galaxy")
    seeing, sky_sigma = sky.conditions(table)
    return sky.render_fields(table), seeing, sky_sigma


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000, help="mocks to make end to end")
    ap.add_argument("--batch", type=int, default=500, help="mocks per simulate_mocks call / per .npy file")
    ap.add_argument("--baseline", type=int, default=200, help="mocks for the lenstronomy baseline (extrapolated)")
    ap.add_argument("--backgrounds", type=int, default=200, help="distinct background fields")
    ap.add_argument("--supersampling", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--keep", type=Path, default=None, help="write outputs here instead of a temp folder")
    args = ap.parse_args(argv)

    import duckdb

    from lensfinder_nb.render import encode_jpeg, viewer_rgb

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, numpy {np.__version__}")
    backgrounds, seeing, sky_sigma = _backgrounds(args.backgrounds, args.seed)
    L.paint_arcs(L.draw_mock_params(4, 0), seeing[0])  # warm the imports (scipy.fft, pandas paths)

    tmp = tempfile.TemporaryDirectory() if args.keep is None else None
    out = Path(tmp.name) if tmp else args.keep
    (out / "jpeg").mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(out / "mocks.duckdb"))
    stage = dict.fromkeys(["simulate", "inject", "render+jpeg", "store"], 0.0)
    sub = dict.fromkeys(["npy", "jpeg files", "duckdb"], 0.0)
    rejected, n_draws, jpeg_bytes, npy_bytes, made = {}, 0, 0, 0, 0
    t_all = time.perf_counter()
    for b, start in enumerate(range(0, args.n, args.batch)):
        k = min(args.batch, args.n - start)
        t = time.perf_counter()
        mb = L.simulate_mocks(backgrounds, seeing, sky_sigma, k, seed=[args.seed, b],
                              supersampling=args.supersampling)
        stage["simulate"] += time.perf_counter() - t
        t = time.perf_counter()
        images = mb.images(backgrounds)
        stage["inject"] += time.perf_counter() - t
        t = time.perf_counter()
        jpegs = [encode_jpeg(viewer_rgb(img), quality=90) for img in images]
        stage["render+jpeg"] += time.perf_counter() - t
        t = time.perf_counter()
        npy = out / f"arcs_{b:04d}.npy"
        np.save(npy, L.pack_arcs(mb.arcs))  # float16, units of 1e-3 nmgy
        sub["npy"] += time.perf_counter() - t
        t1 = time.perf_counter()
        for i, blob in enumerate(jpegs):
            (out / "jpeg" / f"mock_{start + i:06d}.jpg").write_bytes(blob)
        sub["jpeg files"] += time.perf_counter() - t1
        t1 = time.perf_counter()
        params = mb.params.assign(mock_id=np.arange(start, start + k), arcs_file=npy.name, arcs_row=np.arange(k))
        con.register("batch_df", params)
        if b == 0:
            con.execute("CREATE TABLE mocks AS SELECT * FROM batch_df")
        else:
            con.execute("INSERT INTO mocks SELECT * FROM batch_df")
        con.unregister("batch_df")
        sub["duckdb"] += time.perf_counter() - t1
        stage["store"] += time.perf_counter() - t
        for key, v in mb.rejected.items():
            rejected[key] = rejected.get(key, 0) + v
        n_draws += mb.n_draws
        made += len(mb.params)
        jpeg_bytes += sum(len(j) for j in jpegs)
        npy_bytes += npy.stat().st_size
    con.execute("CHECKPOINT")
    total = time.perf_counter() - t_all
    n_rows = con.execute("SELECT count(*) FROM mocks").fetchone()[0]
    con.close()
    db_bytes = (out / "mocks.duckdb").stat().st_size
    max_jpeg = max(p.stat().st_size for p in (out / "jpeg").iterdir())

    # baseline: straightforward lenstronomy, one SimAPI/ImageModel per band, reused
    t = time.perf_counter()
    ref = L._ReferenceRenderer("galaxy", np.median(seeing, axis=0), supersampling=args.supersampling)
    setup = time.perf_counter() - t
    rows = L.draw_mock_params(args.baseline, seed=args.seed)
    t = time.perf_counter()
    for _, row in rows.iterrows():
        ref.arc(row, noise=True)
    base = (time.perf_counter() - t) / args.baseline
    t = time.perf_counter()
    arcs, _ = L.paint_arcs(rows, np.median(seeing, axis=0), supersampling=args.supersampling)
    L.add_arc_noise(arcs, 0)
    ours = (time.perf_counter() - t) / args.baseline

    per = {s: v / made * 1e3 for s, v in stage.items()}
    print(f"\nend to end: {made} mocks (of {args.n}) in {total:.2f} s = {total / made * 1e3:.2f} ms/mock "
          f"(supersampling {args.supersampling}, batches of {args.batch})")
    for s, v in stage.items():
        print(f"  {s:12s} {v:7.2f} s  {per[s]:6.3f} ms/mock")
    print("  store: " + ", ".join(f"{k} {v:.2f} s" for k, v in sub.items()))
    print(f"  draws examined {n_draws}, rejected {n_draws - made}: {rejected}")
    print(f"storage per mock: arcs float16 {npy_bytes / made / 1e3:.1f} KB, JPEG {jpeg_bytes / made / 1e3:.2f} KB "
          f"(max {max_jpeg / 1e3:.2f} KB), DuckDB {db_bytes / made:.0f} B ({n_rows} rows)")
    print(f"\nlenstronomy baseline (SimAPI+ImageModel per band, reused; arc+noise), timed on {args.baseline} "
          f"mocks and extrapolated: {base * 1e3:.2f} ms/mock -> {base * made:.1f} s for {made} "
          f"(+{setup:.2f} s setup incl. import)")
    print(f"ours on the same {args.baseline} mocks (paint + noise): {ours * 1e3:.3f} ms/mock -> "
          f"speed-up {base / ours:.1f}x")
    e2e_base = base + (stage['inject'] + stage['render+jpeg'] + stage['store']) / made
    print(f"end to end, baseline arcs + the same injection/render/store: {e2e_base * made:.1f} s vs ours "
          f"{total:.1f} s -> speed-up {e2e_base * made / total:.1f}x")
    if tmp:
        tmp.cleanup()
    return {"total_s": total, "per_mock_ms": per, "baseline_ms": base * 1e3, "ours_ms": ours * 1e3}


if __name__ == "__main__":
    main()
