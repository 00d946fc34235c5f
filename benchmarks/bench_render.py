"""Rendering and encoding cost per 101 x 101 g,r,z subject, and the demo build.

Prints, for each stretch, the median milliseconds per picture over realistic synthetic fields,
the JPEG (quality 90) and PNG sizes and encoding times, the synthetic sky's rendering cost per
field, and (with --demo) the full demo build time and bytes per subject.

    python benchmarks/bench_render.py [--fields 50] [--repeat 20] [--demo]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from lensfinder_nb.imaging import render; from lensfinder_nb.sim import sky


def _median_ms(fn, items, repeat) -> float:
    times = []
    for _ in range(repeat):
        for item in items:
            t = time.perf_counter()
            fn(item)
            times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fields", type=int, default=50, help="synthetic fields to render (default 50)")
    parser.add_argument("--repeat", type=int, default=20, help="passes over the fields (default 20)")
    parser.add_argument("--demo", action="store_true", help="also time a full demo build in a temporary folder")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, numpy {np.__version__}")

    table = sky.draw_fields(args.fields, seed=0, kind="background")
    t = time.perf_counter()
    cubes = sky.render_fields(table)
    print(f"sky.render_fields: {1e3 * (time.perf_counter() - t) / args.fields:.2f} ms per field (3 bands, noise)")

    print(f"{'stretch':10s} {'render ms':>9s}")
    for stretch in render.STRETCHES:
        print(f"{stretch:10s} {_median_ms(lambda c: render.render(c, stretch), cubes, args.repeat):9.3f}")
    pictures = [render.viewer_rgb(c) for c in cubes]
    jpeg_kb = [len(render.encode_jpeg(p)) / 1024 for p in pictures]
    png_kb = [len(render.encode_png(p)) / 1024 for p in pictures]
    print(f"JPEG q90: {_median_ms(render.encode_jpeg, pictures, args.repeat):.3f} ms, "
          f"{statistics.median(jpeg_kb):.1f} KB median (max {max(jpeg_kb):.1f} KB)")
    print(f"PNG     : {_median_ms(render.encode_png, pictures, args.repeat):.3f} ms, "
          f"{statistics.median(png_kb):.1f} KB median")

    if args.demo:
        from lensfinder_nb.sim.demo import build_demo
        from lensfinder_nb.store import open_store
        with tempfile.TemporaryDirectory() as folder:
            store = open_store(Path(folder) / "lensfinder.duckdb")
            summary = build_demo(store, seed=0)
            store.close()
            print(summary)


if __name__ == "__main__":
    main()
