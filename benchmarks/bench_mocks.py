"""Mock lenses end to end (the batch pipeline into a store) against a straightforward lenstronomy loop.

Run:  python benchmarks/bench_mocks.py [--n 5000] [--batch 500] [--workers 2] [--baseline 200]

Ours, timed end to end (galaxy scale, 3 bands, 101 x 101): ``pipeline.simulate_into_store`` on a
fresh store whose label-0 subjects are synthetic DESI-like fields (rendered and stored
beforehand, not timed: in production they are real cutouts already on disk). Per batch a worker
draws parameters, paints arcs, applies the quality cuts (re-drawing rejects), adds the arc's shot
noise, injects into the backgrounds, renders viewer colours + JPEG q90 and writes its files
(float16 arcs, bit-packed masks, one JPEG batch file); the client adds the rows to DuckDB.

Baseline: one lenstronomy SimAPI + ImageModel per band, built once and reused, arc + Poisson
noise per mock at the same supersampling, timed on a subsample (--baseline) and extrapolated;
end to end it gets the same injection, rendering and storing costs as ours, single process.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lensfinder_nb.imaging import files as cubes
from lensfinder_nb.sim import lensing as L
from lensfinder_nb.sim.lenstronomy_adapter import ReferenceRenderer
from lensfinder_nb.sim import batches as pipeline
from lensfinder_nb.sim import sky
from lensfinder_nb.store import open_store


def _background_store(folder: Path, m: int, seed: int):
    """A store with ``m`` label-0 galaxy fields, their conditions and central galaxies in params."""
    table = sky.draw_fields(m, seed=seed, kind="galaxy")
    rows = pipeline.synthetic_background_rows(folder, table, "bench-bg-000", "BG-", "bench")
    store = open_store(folder / "bench.duckdb")
    store.add_subjects(pd.DataFrame(rows))
    seeing, sky_sigma = sky.conditions(table)
    return store, seeing, sky_sigma


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000, help="mocks to make end to end")
    ap.add_argument("--batch", type=int, default=500, help="mocks per batch (one task, one arcs file, one JPEG file)")
    ap.add_argument("--workers", type=int, default=2, help="local worker processes")
    ap.add_argument("--baseline", type=int, default=200, help="mocks for the lenstronomy baseline (extrapolated)")
    ap.add_argument("--backgrounds", type=int, default=200, help="distinct background fields")
    ap.add_argument("--supersampling", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--keep", type=Path, default=None, help="write outputs here instead of a temp folder")
    args = ap.parse_args(argv)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}, Python {platform.python_version()}, numpy {np.__version__}")
    tmp = tempfile.TemporaryDirectory() if args.keep is None else None
    out = Path(tmp.name) if tmp else args.keep
    out.mkdir(parents=True, exist_ok=True)
    store, seeing, sky_sigma = _background_store(out, args.backgrounds, args.seed)
    L.paint_arcs(L.draw_mock_params(4, 0), seeing[0])  # warm the imports (scipy.fft, pandas paths)

    t = time.perf_counter()
    rep = pipeline.simulate_into_store(store, args.n, seed=args.seed, batch_size=args.batch, workers=args.workers,
                                       supersampling=args.supersampling)
    total = time.perf_counter() - t
    made = rep.accepted
    n_rows = int(store.sql("SELECT count(*) AS n FROM subjects WHERE label = 1")["n"].iloc[0])
    check = store.sql("SELECT image, cube FROM subjects WHERE label = 1 LIMIT 1").iloc[0]
    assert cubes.read_image(out, check["image"])[:2] == b"\xff\xd8"
    assert cubes.load_cube(out, check["cube"]).shape == (3, 101, 101)
    store.close()
    db_bytes = (out / "bench.duckdb").stat().st_size

    # baseline: straightforward lenstronomy, one SimAPI/ImageModel per band, reused
    t = time.perf_counter()
    ref = ReferenceRenderer("galaxy", np.median(seeing, axis=0), supersampling=args.supersampling)
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

    st = rep.stage_seconds
    print(f"\nend to end: {made} mocks (of {args.n}) in {total:.2f} s wall = {total / made * 1e3:.2f} ms/mock "
          f"({args.workers} worker processes, batches of {args.batch}, supersampling {args.supersampling})")
    print("  worker seconds summed over processes: " + ", ".join(f"{k} {v:.2f}" for k, v in st.items()
                                                                    if k != "store"))
    print(f"  client: DuckDB add_subjects {st.get('store', 0):.2f} s")
    print(f"  draws examined {rep.n_draws}, rejected {rep.n_draws - made}: {rep.rejected}")
    print(f"storage per mock: arcs float16 + mask {rep.bytes_arcs / made / 1e3:.1f} KB, JPEG "
          f"{rep.bytes_images / made / 1e3:.2f} KB (one file per batch), DuckDB {db_bytes / n_rows / 1e3:.2f} KB "
          f"({n_rows} rows, file incl. {args.backgrounds} backgrounds)")
    print(f"\nlenstronomy baseline (SimAPI+ImageModel per band, reused; arc+noise), timed on {args.baseline} "
          f"mocks and extrapolated: {base * 1e3:.2f} ms/mock -> {base * made:.1f} s for {made} "
          f"(+{setup:.2f} s setup incl. import)")
    print(f"ours on the same {args.baseline} mocks (paint + noise, one process): {ours * 1e3:.3f} ms/mock -> "
          f"speed-up {base / ours:.1f}x")
    same = st.get("inject+render", 0) + st.get("write", 0) + st.get("load", 0) + st.get("store", 0)
    e2e_base = base * made + setup + same
    print(f"end to end, baseline arcs + the same load/injection/render/store ({same:.1f} s, one process): "
          f"{e2e_base:.1f} s vs ours {total:.1f} s -> speed-up {e2e_base / total:.1f}x")
    if tmp:
        tmp.cleanup()
    return {"total_s": total, "baseline_e2e_s": e2e_base, "baseline_ms": base * 1e3, "ours_ms": ours * 1e3}


if __name__ == "__main__":
    main()
